import { existsSync } from 'node:fs';
import { ensureKafkaTopic, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { bindTopicSource, dataDirLayout, refuseFileAsDataDir } from './data-dir.ts';

/**
 * The most partitions a topic of the embedded log may have. Its writer keeps two files open per
 * partition (log and index) while it produces, so 1,000 partitions hold 2,000 descriptors: within
 * the open-file limit of common systems (Node raises its soft limit to the hard one, often 4,096 or
 * more), and the same ceiling on every machine, so a data directory made on one works on another.
 * A Kafka cluster (`--kafka`) sets its own limits.
 */
export const EMBEDDED_LOG_MAX_PARTITIONS = 1000;

/** A topic of the embedded log would exceed its limits; the message says what to pass instead. */
export class TopicLimitError extends Error {
  override name = 'TopicLimitError';
}

/** Refuses, before anything is written, a partition count the embedded log cannot hold open. */
export function checkTopicLimits(access: TopicAccess): void {
  if (access.kafka !== undefined || access.partitions === undefined || access.partitions <= EMBEDDED_LOG_MAX_PARTITIONS) return;
  throw new TopicLimitError(
    `--partitions ${access.partitions} is more than the embedded log's ${EMBEDDED_LOG_MAX_PARTITIONS}: its writer keeps two files open per partition. ` +
      `Pass --partitions ${EMBEDDED_LOG_MAX_PARTITIONS} or fewer, or --kafka host:port for a Kafka cluster`,
  );
}

/** Where a local command finds the tables' topics: the data directory's embedded logs, or an Apache Kafka cluster. */
export interface TopicAccess {
  readonly dataDir: string;
  /**
   * Bootstrap brokers (`host:port`) of an Apache Kafka cluster to use instead of the embedded logs,
   * without authentication or TLS. The lake stays in the data directory, which is bound to that cluster.
   */
  readonly kafka?: readonly string[];
  /** Partitions of a topic created now (default `DEFAULTS.partitions`); an existing topic grows to it, never shrinks. */
  readonly partitions?: number;
}

/** A table's topic, opened for producing and reading. */
export interface LocalTopic {
  readonly name: string;
  readonly partitions: number;
  readonly writer: TopicWriter;
  readonly reader: TopicReader;
  close(): Promise<void>;
}

/**
 * Opens the topic of `table` for reading, creating it if absent. The embedded log lives in
 * `topics/<topic>` of the data directory; on Kafka the topic is created on the cluster.
 */
export async function openTopicReader(table: TableSpec, access: TopicAccess): Promise<TopicReader> {
  if (access.kafka === undefined) return openEmbeddedLog(table, access);
  const { connection } = await prepareKafkaTopic(table, access.dataDir, access.kafka, access.partitions);
  return openKafkaReader(connection);
}

/**
 * Opens the topic of `table` for producing and reading, creating it if absent. The embedded log's
 * writer lock is taken now, so the log's end is final from here on (a crash's half-written tail is trimmed).
 */
export async function openTopic(table: TableSpec, access: TopicAccess): Promise<LocalTopic> {
  if (access.kafka === undefined) {
    const log = await openEmbeddedLog(table, access);
    try {
      await log.produce([]);
    } catch (error) {
      await log.close();
      throw error;
    }
    return { name: table.topic, partitions: log.partitions, writer: log, reader: log, close: () => log.close() };
  }
  const { connection, partitions } = await prepareKafkaTopic(table, access.dataDir, access.kafka, access.partitions);
  const writer = await openKafkaWriter(connection);
  try {
    const reader = await openKafkaReader(connection);
    return { name: table.topic, partitions, writer, reader, close: async () => void (await Promise.all([writer.close(), reader.close()])) };
  } catch (error) {
    await writer.close();
    throw error;
  }
}

async function openEmbeddedLog(table: TableSpec, access: TopicAccess): Promise<LocalLog> {
  checkTopicLimits(access);
  refuseFileAsDataDir(access.dataDir);
  await bindTopicSource(access.dataDir, { kind: 'embedded' });
  const dir = dataDirLayout(access.dataDir).topicDir(table.topic);
  return LocalLog.open({ dir, topic: table.topic, partitions: access.partitions ?? (existsSync(dir) ? undefined : DEFAULTS.partitions) });
}

/** The Kafka connection of a local command's `--kafka`: no authentication, no TLS. */
function localKafkaConnection(brokers: readonly string[], topic: string): KafkaConnection {
  return { brokers, topic, clientId: 'streamlake-local', auth: { mechanism: 'none' }, tls: false };
}

async function prepareKafkaTopic(table: TableSpec, dataDir: string, brokers: readonly string[], partitions: number | undefined) {
  refuseFileAsDataDir(dataDir);
  const connection = localKafkaConnection(brokers, table.topic);
  const topic = await ensureKafkaTopic(connection, { partitions, defaultPartitions: DEFAULTS.partitions });
  await bindTopicSource(dataDir, { kind: 'kafka', clusterId: topic.clusterId });
  return { connection, partitions: topic.partitions };
}
