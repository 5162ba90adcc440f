import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { createCompactorHandler, type CompactorContext, type CompactorEvent, type CompactorSummary } from '../../lambdas/handlers/compactor.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { createGeneratorHandler } from '../../lambdas/handlers/generator.ts';
import type { GeneratorReport } from '../../lambdas/demo/device-fleet.ts';
import type { PipelineConfig } from '../../lib/config.ts';
import { compactorSettings, generatorSettings } from '../../lib/functions/pipeline-functions.ts';
import { onTestBroker } from './kafka.ts';
import { DEVICE_LOGS, TABLES_DIR } from './tables.ts';

/** Bootstrap brokers as MSK would give them: the handlers' factories swap them for the test broker. */
export const MSK_BROKERS = 'b-1.streamlake.kafka.eu-west-1.amazonaws.com:9098,b-2.streamlake.kafka.eu-west-1.amazonaws.com:9098';

/**
 * The environment the CDK gives the two functions, built by the same setting builders, for one
 * topic and lake bucket: the compactor's bundled declarations are the shipped `device_logs`, read
 * from that topic. Merge it into `process.env` before a handler's first invocation.
 */
export function lambdaEnvironment(config: PipelineConfig, topic: string, bucket: string): Record<string, string> {
  return {
    AWS_REGION: 'eu-west-1',
    [ENV.bootstrapBrokers]: MSK_BROKERS,
    [ENV.topic]: topic,
    [ENV.table]: DEVICE_LOGS.name,
    [ENV.tablesDir]: declarationsReading(topic),
    [ENV.consumerGroup]: config.consumerGroup,
    [ENV.lakeBucket]: bucket,
    ...generatorSettings(config),
    ...compactorSettings(config),
  };
}

/** A directory holding the `device_logs` declaration with its topic set to `topic`, as a compactor bundle holds its table's. */
function declarationsReading(topic: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'streamlake-tables-'));
  const declaration = JSON.parse(readFileSync(join(TABLES_DIR, `${DEVICE_LOGS.name}.schema.json`), 'utf8')) as { 'x-streamlake': { topic: string } };
  declaration['x-streamlake'].topic = topic;
  writeFileSync(join(dir, `${DEVICE_LOGS.name}.schema.json`), JSON.stringify(declaration));
  return dir;
}

export type GeneratorHandler = (event: { scheduledTime?: string }) => Promise<GeneratorReport>;
/** The compactor as deployed: the schedule's event names the shard, the context gives the time left (without one, a single run). */
export type CompactorHandler = (event?: CompactorEvent, context?: CompactorContext) => Promise<CompactorSummary>;

/**
 * Where the handlers' S3 client comes from: a FakeS3 bucket (its mocked client), or any S3Client,
 * e.g. one of the run's S3-compatible server.
 */
export interface LakeS3 {
  readonly client: S3Client;
}

/**
 * The two Lambdas as deployed (`createGeneratorHandler` / `createCompactorHandler`, configured
 * from `process.env`), with factories that open the real Kafka adapter on a test broker's SASL
 * listener instead of MSK, and the lake through the given S3 client (a FakeS3 bucket, or a real
 * S3-compatible server). Each handler stands for one Lambda container and keeps its clients
 * between invocations. Records the connections the handlers asked for; `close()` closes every
 * client they opened.
 */
export class DeployedHandlers {
  /** The connections the handlers built from their environment, before the swap to the test broker. */
  readonly requested: KafkaConnection[] = [];
  private readonly clients: { close(): Promise<void> }[] = [];
  private readonly saslBootstrap: string;
  private readonly s3: LakeS3;
  private readonly tokenLifetimeMs: number | undefined;

  constructor(saslBootstrap: string, s3: LakeS3, options: { tokenLifetimeMs?: number } = {}) {
    this.saslBootstrap = saslBootstrap;
    this.s3 = s3;
    this.tokenLifetimeMs = options.tokenLifetimeMs;
  }

  /** A new log-generator container. */
  generator(): GeneratorHandler {
    return createGeneratorHandler({ openWriter: (connection) => this.open(connection, openKafkaWriter) });
  }

  /** A new compactor container; `s3` replaces the handlers' S3 client for this container only (to inject a fault, say). */
  compactor(s3: LakeS3 = this.s3): CompactorHandler {
    return createCompactorHandler({ s3Client: () => s3.client, openReader: (connection) => this.open(connection, openKafkaReader) });
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }

  private async open<T extends { close(): Promise<void> }>(connection: KafkaConnection, opener: (connection: KafkaConnection) => Promise<T>): Promise<T> {
    this.requested.push(connection);
    const client = await opener(onTestBroker(connection, this.saslBootstrap, this.tokenLifetimeMs));
    this.clients.push(client);
    return client;
  }
}
