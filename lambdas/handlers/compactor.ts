import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { GlueCatalog } from '../adapters/glue-catalog.ts';
import { IcebergTable } from '../adapters/iceberg-table.ts';
import { type KafkaConnection } from '../adapters/kafka.ts';
import { openKafkaReader } from '../adapters/kafka-reader.ts';
import { parquetEncoder } from '../adapters/parquet-writer.ts';
import { S3ObjectStore } from '../adapters/s3-store.ts';
import { loadTables, tableNamed } from '../adapters/table-directory.ts';
import { compactToBudgetSettled, type BudgetedCompaction } from '../core/compaction-loop.ts';
import { type CompactorDeps, type CompactorOptions } from '../core/compactor.ts';
import { validationLimits } from '../core/decode.ts';
import { shardOf, ShardError, type Shard } from '../core/shards.ts';
import type { TopicReader } from '../ports/topic.ts';
import { ENV, EnvironmentError, kafkaSettings, METRICS_NAMESPACE, requireCodec, requireNumber, requireString } from './environment.ts';

const logger = new Logger({ serviceName: 'compactor' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'compactor' });

/** How the handler builds its clients; tests swap them. */
export interface CompactorFactories {
  readonly s3Client: (region: string) => S3Client;
  /** Used for Iceberg tables only. @default a GlueClient of the region */
  readonly glueClient?: (region: string) => GlueClient;
  readonly openReader: (connection: KafkaConnection) => Promise<TopicReader>;
}

const AWS_FACTORIES: CompactorFactories = { s3Client: (region) => new S3Client({ region }), glueClient: (region) => new GlueClient({ region }), openReader: openKafkaReader };

/**
 * The compactor's table and settings, an MSK reader (IAM auth over TLS) of the table's topic and
 * the lake bucket, from the environment; for an Iceberg table, its format over the lake with the
 * Glue Data Catalog as its catalog (the Glue database from the environment).
 */
export async function compactorSetup(env: NodeJS.ProcessEnv, factories: CompactorFactories): Promise<{ deps: CompactorDeps; options: CompactorOptions; shards: number }> {
  const kafka = kafkaSettings(env);
  const table = tableNamed(loadTables(requireString(env, ENV.tablesDir)), requireString(env, ENV.table));
  const options: CompactorOptions = {
    table,
    group: requireString(env, ENV.consumerGroup),
    codec: requireCodec(env, ENV.codec),
    maxRecordsPerRun: requireNumber(env, ENV.maxRecordsPerRun),
    limits: validationLimits({
      maxRecordBytes: requireNumber(env, ENV.maxRecordBytes),
      maxEventAgeHours: requireNumber(env, ENV.maxEventAgeHours),
      maxEventFutureMinutes: requireNumber(env, ENV.maxEventFutureMinutes),
    }),
  };
  const bucket = requireString(env, ENV.lakeBucket);
  const store = new S3ObjectStore(factories.s3Client(kafka.region), bucket);
  const clock = { now: Date.now };
  const lakeUri = `s3://${bucket}/`;
  // Only an Iceberg table has a catalog to commit to (and only its compactor is given a Glue database).
  const format = table.format === 'iceberg'
    ? new IcebergTable({ store, catalog: new GlueCatalog((factories.glueClient ?? AWS_FACTORIES.glueClient!)(kafka.region), { database: requireString(env, ENV.glueDatabase), lakeUri, tables: [table] }), lakeUri, clock }, table)
    : undefined;
  const topic = await factories.openReader({ brokers: kafka.brokers, topic: table.topic, clientId: 'streamlake-compactor', auth: { mechanism: 'msk-iam', region: kafka.region }, tls: true });
  return { deps: { topic, store, encoder: parquetEncoder(), clock, ...(format ? { format } : {}) }, options, shards: shardCount(env) };
}

/** `compactorShards` from the environment: absent means one shard. */
function shardCount(env: NodeJS.ProcessEnv): number {
  if (env[ENV.compactorShards] === undefined || env[ENV.compactorShards] === '') return 1;
  const count = requireNumber(env, ENV.compactorShards);
  if (!Number.isSafeInteger(count) || count < 1) throw new EnvironmentError(`environment variable ${ENV.compactorShards} must be a positive integer, got ${JSON.stringify(env[ENV.compactorShards])}`);
  return count;
}

/** What the schedule of a shard sends: `{"shard": i}`; absent means shard 0. */
export interface CompactorEvent {
  readonly shard?: number;
}

/** The part of the Lambda context the handler uses: the time left, which the invocation works to. */
export interface CompactorContext {
  getRemainingTimeInMillis(): number;
}

/** The shard the event names, of the function's `count`. */
function eventShard(event: CompactorEvent | undefined, count: number): Shard {
  const index = event?.shard ?? 0;
  try {
    return shardOf(index, count);
  } catch (error) {
    throw new ShardError(
      `the invocation's event names shard ${JSON.stringify(index)}, but ${ENV.compactorShards} is ${count}: ${(error as Error).message}. ` +
        'Each shard\'s schedule sends {"shard": i}; redeploy the stack (cdk deploy) so the schedules and the function agree.',
    );
  }
}

export type CompactorSummary = Omit<BudgetedCompaction, 'files' | 'quarantineFiles'> & { readonly shard: number; readonly shards: number; readonly files: number; readonly quarantineFiles: number };

/**
 * A compactor handler: setup once per container (again after a failed setup), then, per
 * invocation, runs of the event's shard until it caught up or the Lambda's time is spent, then
 * their metrics: also when a run fails after others committed, before it throws that run's error.
 * Without a context (a direct call) it performs one run.
 */
export function createCompactorHandler(factories: CompactorFactories = AWS_FACTORIES): (event?: CompactorEvent, context?: CompactorContext) => Promise<CompactorSummary> {
  let setup: ReturnType<typeof compactorSetup> | undefined;
  return async (event, context) => {
    setup ??= compactorSetup(process.env, factories).catch((error: unknown) => {
      setup = undefined;
      throw error;
    });
    const { deps, options, shards } = await setup;
    const shard = eventShard(event, shards);
    const started = Date.now();
    const outcome = await compactToBudgetSettled(deps, { ...options, shard }, { remainingMs: () => context?.getRemainingTimeInMillis() ?? 0 });
    const account = (compaction: BudgetedCompaction) => accountFor(options.table.name, shard, shards, { ...compaction, durationMs: Date.now() - started });
    if (outcome.ok) return account(outcome.compaction);
    // The runs before the failed one committed records the dashboards must count; the failure still fails the invocation (its Error alarm).
    if (outcome.committed !== undefined) account(outcome.committed);
    throw outcome.error;
  };
}

/** Publishes the metrics of an invocation's committed runs, logs what needs attention, and sums them up. */
function accountFor(table: string, shard: Shard, shards: number, report: BudgetedCompaction): CompactorSummary {
  publishMetrics(table, shard, report);
  if (report.gaps.length > 0) logger.error('records were deleted by retention before they were compacted', { gaps: report.gaps });
  if (report.unknownFields.length > 0) logger.warn('records carry fields the declaration does not name; they are kept in _extra', { unknownFields: report.unknownFields });
  if (report.stoppedBy === 'handed-over') logger.warn('a deployment with another shard count took the partitions over; this invocation stopped after its committed runs', { shard: shard.index, shards });
  const summary = { ...report, shard: shard.index, shards, files: report.files.length, quarantineFiles: report.quarantineFiles.length };
  logger.info(report.runs === 0 ? 'nothing to compact' : 'compacted', summary);
  return summary;
}

/** Scheduled every few minutes per shard: exactly-once compaction runs to the time budget, then their figures as metrics. */
export const handler = createCompactorHandler();

function publishMetrics(table: string, shard: Shard, report: BudgetedCompaction): void {
  metrics.addDimensions({ Table: table, Shard: String(shard.index) });
  metrics.addMetric('Runs', MetricUnit.Count, report.runs);
  metrics.addMetric('InvocationDuration', MetricUnit.Milliseconds, report.durationMs);
  metrics.addMetric('CaughtUp', MetricUnit.Count, report.caughtUp ? 1 : 0);
  metrics.addMetric('RecordsRead', MetricUnit.Count, report.recordsRead);
  metrics.addMetric('RowsWritten', MetricUnit.Count, report.rowsWritten);
  metrics.addMetric('RecordsQuarantined', MetricUnit.Count, report.quarantined);
  metrics.addMetric('ParquetBytes', MetricUnit.Bytes, report.parquetBytes);
  metrics.addMetric('OffsetGapRecords', MetricUnit.Count, report.gaps.reduce((sum, gap) => sum + gap.to - gap.from, 0));
  metrics.addMetric('ConsumerLag', MetricUnit.Count, Object.values(report.lag).reduce((sum, records) => sum + records, 0));
  metrics.addMetric('UnknownFields', MetricUnit.Count, report.unknownFields.length);
  metrics.publishStoredMetrics();
  for (const [partition, records] of Object.entries(report.lag)) {
    metrics.singleMetric().addDimensions({ Table: table, Partition: partition }).addMetric('PartitionLag', MetricUnit.Count, records);
  }
}
