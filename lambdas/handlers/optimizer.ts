import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { GlueCatalog } from '../adapters/glue-catalog.ts';
import { optimizeTable, type MaintenanceDeps, type OptimizeOptions, type OptimizeReport } from '../adapters/iceberg-maintenance.ts';
import { IcebergTable } from '../adapters/iceberg-table.ts';
import { parquetEncoder } from '../adapters/parquet-writer.ts';
import { S3ObjectStore } from '../adapters/s3-store.ts';
import { loadTables, tableNamed } from '../adapters/table-directory.ts';
import { ENV, EnvironmentError, METRICS_NAMESPACE, requireCodec, requireNumber, requireString } from './environment.ts';

const logger = new Logger({ serviceName: 'optimizer' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'optimizer' });

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** How the handler builds its clients; tests swap them. */
export interface OptimizerFactories {
  readonly s3Client: (region: string) => S3Client;
  readonly glueClient: (region: string) => GlueClient;
}

const AWS_FACTORIES: OptimizerFactories = { s3Client: (region) => new S3Client({ region }), glueClient: (region) => new GlueClient({ region }) };

/** The Iceberg table to optimize, over the lake bucket and the Glue catalog, and the optimize settings, from the environment. */
export function optimizerSetup(env: NodeJS.ProcessEnv, factories: OptimizerFactories): { table: IcebergTable; deps: MaintenanceDeps; options: OptimizeOptions } {
  const region = requireString(env, 'AWS_REGION');
  const spec = tableNamed(loadTables(requireString(env, ENV.tablesDir)), requireString(env, ENV.table));
  if (spec.format !== 'iceberg') throw new EnvironmentError(`table ${spec.name} is stored as ${spec.format}: the optimizer merges Iceberg tables only; redeploy the stack (cdk deploy), which gives Iceberg tables alone an optimizer`);
  const bucket = requireString(env, ENV.lakeBucket);
  const lakeUri = `s3://${bucket}/`;
  const store = new S3ObjectStore(factories.s3Client(region), bucket);
  const catalog = new GlueCatalog(factories.glueClient(region), { database: requireString(env, ENV.glueDatabase), lakeUri, tables: [spec] });
  const clock = { now: Date.now };
  return {
    table: new IcebergTable({ store, catalog, lakeUri, clock }, spec),
    deps: { store, encoder: parquetEncoder(), clock },
    options: {
      codec: requireCodec(env, ENV.codec),
      targetFileBytes: requireNumber(env, ENV.optimizeTargetFileMb) * 1_000_000,
      retentionMs: requireNumber(env, ENV.optimizeRetentionDays) * DAY_MS,
      // No record older than this is accepted into the table, so a partition that ended this long ago gets no new file.
      closedAfterMs: requireNumber(env, ENV.maxEventAgeHours) * HOUR_MS,
    },
  };
}

/**
 * The report of a run, with only the partitions it merged (a table has one a day or an hour). A
 * mapped type rather than the interface itself: the logger takes only index-compatible types.
 */
export type OptimizerSummary = { readonly [K in keyof OptimizeReport]: OptimizeReport[K] };

/** Merging starts no new group of files after this share of the invocation's time: the commit, the expiry and the file removal need the rest. */
const MERGE_TIME_SHARE = 0.6;

/** An optimizer handler: setup once per container (again after a failed setup), then one optimize per invocation, merging only while its time allows. */
export function createOptimizerHandler(factories: OptimizerFactories = AWS_FACTORIES): (event?: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<OptimizerSummary> {
  let setup: ReturnType<typeof optimizerSetup> | undefined;
  return async (_event, context) => {
    setup ??= optimizerSetup(process.env, factories);
    const { table, deps, options } = setup;
    const mergeUntil = context && deps.clock.now() + context.getRemainingTimeInMillis() * MERGE_TIME_SHARE;
    const report = await optimizeTable(table, deps, { ...options, ...(mergeUntil !== undefined && { mergeUntil }) });
    publishMetrics(report);
    const summary: OptimizerSummary = { ...report, partitions: report.partitions.filter((partition) => partition.filesAfter !== partition.filesBefore) };
    logger.info(report.snapshotId === null ? 'no closed partition had small files to merge' : 'merged small files', summary);
    return summary;
  };
}

/** Scheduled every hour or so: one optimize of the function's Iceberg table, then its figures as metrics. */
export const handler = createOptimizerHandler();

// Four metrics, $0.30 a month each: what was merged into what, and what the retention let go.
function publishMetrics(report: OptimizeReport): void {
  metrics.addDimension('Table', report.table);
  metrics.addMetric('FilesMerged', MetricUnit.Count, report.filesBefore);
  metrics.addMetric('FilesWritten', MetricUnit.Count, report.filesAfter);
  metrics.addMetric('SnapshotsExpired', MetricUnit.Count, report.snapshotsExpired);
  const removed = report.filesRemoved;
  metrics.addMetric('FilesRemoved', MetricUnit.Count, removed.dataFiles + removed.manifests + removed.manifestLists + removed.metadataFiles);
  metrics.publishStoredMetrics();
}
