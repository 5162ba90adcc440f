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
import { compact, type CompactionReport, type CompactorDeps, type CompactorOptions } from '../core/compactor.ts';
import { validationLimits } from '../core/decode.ts';
import type { TopicReader } from '../ports/topic.ts';
import { ENV, kafkaSettings, METRICS_NAMESPACE, requireCodec, requireNumber, requireString } from './environment.ts';

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
export async function compactorSetup(env: NodeJS.ProcessEnv, factories: CompactorFactories): Promise<{ deps: CompactorDeps; options: CompactorOptions }> {
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
  return { deps: { topic, store, encoder: parquetEncoder(), clock, ...(format ? { format } : {}) }, options };
}

export type CompactorSummary = Omit<CompactionReport, 'files' | 'quarantineFiles'> & { readonly files: number; readonly quarantineFiles: number };

/** A compactor handler: setup once per container (again after a failed setup), then one run per invocation. */
export function createCompactorHandler(factories: CompactorFactories = AWS_FACTORIES): () => Promise<CompactorSummary> {
  let setup: ReturnType<typeof compactorSetup> | undefined;
  return async () => {
    setup ??= compactorSetup(process.env, factories).catch((error: unknown) => {
      setup = undefined;
      throw error;
    });
    const { deps, options } = await setup;
    const report = await compact(deps, options);
    publishMetrics(options.table.name, report);
    if (report.gaps.length > 0) logger.error('records were deleted by retention before they were compacted', { gaps: report.gaps });
    if (report.unknownFields.length > 0) logger.warn('records carry fields the declaration does not name; they are kept in _extra', { unknownFields: report.unknownFields });
    const summary = { ...report, files: report.files.length, quarantineFiles: report.quarantineFiles.length };
    logger.info(report.runId === null ? 'nothing to compact' : 'compacted', summary);
    return summary;
  };
}

/** Scheduled every few minutes: one exactly-once compaction run, then its figures as metrics. */
export const handler = createCompactorHandler();

function publishMetrics(table: string, report: CompactionReport): void {
  metrics.addDimension('Table', table);
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
