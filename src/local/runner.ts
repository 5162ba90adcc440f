import { mkdir } from 'node:fs/promises';
import { ensureKafkaTopic, openKafkaReader, openKafkaWriter, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { compact, type CompactionReport, type CompactorOptions } from '../../lambdas/core/compactor.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { validationLimits } from '../../lambdas/core/decode.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import { CURATED_PREFIX } from '../../lambdas/core/lake-layout.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS, type PipelineConfig } from '../../lib/config.ts';
import { ClockError, finishInterruptedMinute, highWatermarks, readClock, saveClock } from './clock.ts';
import { bindTopicSource, dataDirLayout, openDataDir } from './data-dir.ts';
import { DuckDbLake } from './duckdb-lake.ts';

const MINUTE_MS = 60_000;

export interface LocalRunOptions {
  readonly dataDir: string;
  /** Simulated minutes of traffic. */
  readonly minutes: number;
  readonly devices: number;
  readonly seed: number;
  readonly partitions?: number;
  readonly codec: Codec;
  /** First simulated minute (epoch ms); default: where the last run stopped, or `minutes` before now. */
  readonly start?: number;
  /**
   * Bootstrap brokers (`host:port`) of an Apache Kafka cluster to use instead of the embedded log:
   * its topic is created with `partitions` if absent. The lake stays in the data directory.
   */
  readonly kafka?: readonly string[];
  /** Called after every simulated minute and compaction. */
  readonly onProgress?: (progress: LocalProgress) => void;
  /**
   * Stops the run at the end of the minute being produced, without the compactions still due: the
   * clock is saved, and the next run continues from there (the lake catches up at its compactions).
   */
  readonly signal?: AbortSignal;
}

export interface LocalProgress {
  readonly minute: number;
  readonly minutes: number;
  readonly produced: number;
  readonly compaction?: CompactionReport;
}

/** What a local run did and what the lake holds after it. */
export interface LocalRunSummary {
  readonly dataDir: string;
  readonly start: string;
  readonly end: string;
  /** Simulated minutes this run produced: the minutes asked for, or fewer when it was stopped. */
  readonly minutes: number;
  readonly interrupted: boolean;
  /** Records produced to finish a minute the previous run was stopped in the middle of (counted in `produced`). */
  readonly resumedRecords: number;
  readonly produced: number;
  readonly producedBytes: number;
  readonly compactions: number;
  readonly lakeRows: number;
  readonly files: number;
  readonly parquetBytes: number;
  readonly quarantined: number;
}

/** Compactor settings of a table from the pipeline config: the same values the deployed Lambda gets. */
export function compactorOptions(config: PipelineConfig, table: TableSpec, codec: Codec = config.codec): CompactorOptions {
  return { table, group: config.consumerGroup, codec, maxRecordsPerRun: config.maxRecordsPerRun, limits: validationLimits(config) };
}

/** One compactor run over the local log and lake directory. */
export function compactLocal(topic: TopicReader, store: ObjectStore, now: number, codec: Codec, onProgress?: (read: number, planned: number) => void) {
  return compact({ topic, store, encoder: parquetEncoder(), clock: { now: () => now }, onProgress }, compactorOptions(DEFAULTS, codec));
}

/**
 * The whole pipeline on one machine, on simulated time: the generator every simulated minute and
 * the compactor every `compactorEveryMinutes`, as the cloud schedules run them, then a last
 * compaction so the lake holds everything produced. The clock is saved after every minute, so a
 * run stopped at any point, even killed, is continued by the next one without a reading repeated
 * or skipped (see {@link finishInterruptedMinute}).
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunSummary> {
  await mkdir(options.dataDir, { recursive: true });
  const layout = dataDirLayout(options.dataDir);
  const store = new LocalDirectoryStore(layout.lakeDir);
  const topic = options.kafka ? await openKafkaTopic(options.dataDir, options.kafka, options.partitions) : await openEmbeddedTopic(options.dataDir, options.partitions);
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: options.devices, seed: options.seed });
  const stopped = () => options.signal?.aborted === true;
  let produced = 0;
  let producedBytes = 0;
  let compactions = 0;
  let minutes = 0;
  let start: number;
  let resumedRecords = 0;
  try {
    const saved = await readClock(layout.clockFile);
    const resumed = saved && (await finishInterruptedMinute(layout.clockFile, saved, topic));
    if (resumed && options.start !== undefined && options.start < resumed.nextStart) {
      throw new ClockError(
        `--start ${new Date(options.start).toISOString()} is before the simulated clock of ${layout.root} (${new Date(resumed.nextStart).toISOString()}): ` +
          'the readings of those minutes are in the log already and would be counted twice. Drop --start to continue from the clock, or pass a later minute.',
      );
    }
    resumedRecords = resumed?.records ?? 0;
    produced = resumedRecords;
    producedBytes = resumed?.bytes ?? 0;
    start = options.start ?? resumed?.nextStart ?? Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - options.minutes * MINUTE_MS;
    const clockAt = async (nextStart: number) =>
      saveClock(layout.clockFile, { nextStart, highWatermarks: await highWatermarks(topic.reader), devices: options.devices, seed: options.seed });
    // Saved before the first minute too: a minute cut short is found past these high watermarks.
    await clockAt(start);
    for (let minute = 1; minute <= options.minutes && !stopped(); minute++) {
      const now = start + minute * MINUTE_MS;
      const sent = await produceMinute(fleet, topic.writer, now);
      await clockAt(now);
      minutes = minute;
      produced += sent.records;
      producedBytes += sent.bytes;
      let compaction: CompactionReport | undefined;
      if (minute % DEFAULTS.compactorEveryMinutes === 0 && !stopped()) {
        compaction = await compactLocal(topic.reader, store, now, options.codec);
        compactions++;
      }
      options.onProgress?.({ minute, minutes: options.minutes, produced, compaction });
    }
    while (!stopped()) {
      const compaction = await compactLocal(topic.reader, store, start + minutes * MINUTE_MS, options.codec);
      if (compaction.runId === null) break;
      compactions++;
      options.onProgress?.({ minute: minutes, minutes: options.minutes, produced, compaction });
    }
  } finally {
    await topic.close();
  }
  const files = await store.list(CURATED_PREFIX);
  const lake = await DuckDbLake.open(layout.lakeDir);
  try {
    const [counts] = (await lake.query('SELECT (SELECT count(*) FROM device_logs) AS rows, (SELECT count(*) FROM device_logs_quarantine) AS quarantined')).rows;
    return {
      dataDir: layout.root,
      start: new Date(start).toISOString(),
      end: new Date(start + minutes * MINUTE_MS).toISOString(),
      minutes,
      interrupted: minutes < options.minutes || stopped(),
      resumedRecords,
      produced,
      producedBytes,
      compactions,
      lakeRows: counts!.rows as number,
      files: files.length,
      parquetBytes: files.reduce((sum, f) => sum + f.size, 0),
      quarantined: counts!.quarantined as number,
    };
  } finally {
    lake.close();
  }
}

/** The topic a local run produces to and compacts from. */
interface LocalTopic {
  readonly writer: TopicWriter;
  readonly reader: TopicReader;
  close(): Promise<void>;
}

async function openEmbeddedTopic(dataDir: string, partitions: number | undefined): Promise<LocalTopic> {
  const { log } = await openDataDir(dataDir, partitions);
  // Producing nothing takes the writer lock and trims what a crash left half written: the log's end is then final.
  await log.produce([]);
  return { writer: log, reader: log, close: () => log.close() };
}

/** The Kafka connection of `streamlake local --kafka`: no authentication, no TLS, the configured topic. */
function localKafkaConnection(brokers: readonly string[]): KafkaConnection {
  return { brokers, topic: DEFAULTS.topicName, clientId: 'streamlake-local', auth: { mechanism: 'none' }, tls: false };
}

async function openKafkaTopic(dataDir: string, brokers: readonly string[], partitions: number | undefined): Promise<LocalTopic> {
  const connection = localKafkaConnection(brokers);
  const { clusterId } = await ensureKafkaTopic(connection, { partitions, defaultPartitions: DEFAULTS.partitions });
  await bindTopicSource(dataDir, { kind: 'kafka', clusterId, topic: connection.topic });
  const writer = await openKafkaWriter(connection);
  try {
    const reader = await openKafkaReader(connection);
    return { writer, reader, close: async () => void (await Promise.all([writer.close(), reader.close()])) };
  } catch (error) {
    await writer.close();
    throw error;
  }
}
