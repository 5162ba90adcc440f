import { CODECS, type Codec } from '../ports/parquet.ts';

/**
 * The Lambdas' environment variables: the CDK constructs set them by these names and the handlers
 * read them by the same names, so the two cannot drift.
 */
export const ENV = {
  bootstrapBrokers: 'STREAMLAKE_BOOTSTRAP_BROKERS',
  topic: 'STREAMLAKE_TOPIC',
  table: 'STREAMLAKE_TABLE',
  tablesDir: 'STREAMLAKE_TABLES_DIR',
  consumerGroup: 'STREAMLAKE_CONSUMER_GROUP',
  lakeBucket: 'STREAMLAKE_LAKE_BUCKET',
  /** The Glue database an Iceberg table's compactor commits the table in (set for Iceberg tables only). */
  glueDatabase: 'STREAMLAKE_GLUE_DATABASE',
  codec: 'STREAMLAKE_CODEC',
  maxRecordsPerRun: 'STREAMLAKE_MAX_RECORDS_PER_RUN',
  /** How many shards split a table's partitions (`compactorShards`); each scheduled invocation names its shard in its event. */
  compactorShards: 'STREAMLAKE_COMPACTOR_SHARDS',
  maxRecordBytes: 'STREAMLAKE_MAX_RECORD_BYTES',
  maxEventAgeHours: 'STREAMLAKE_MAX_EVENT_AGE_HOURS',
  maxEventFutureMinutes: 'STREAMLAKE_MAX_EVENT_FUTURE_MINUTES',
  optimizeTargetFileMb: 'STREAMLAKE_OPTIMIZE_TARGET_FILE_MB',
  optimizeRetentionDays: 'STREAMLAKE_OPTIMIZE_RETENTION_DAYS',
  devices: 'STREAMLAKE_DEVICES',
  eventsPerDevicePerMinute: 'STREAMLAKE_EVENTS_PER_DEVICE_PER_MINUTE',
  seed: 'STREAMLAKE_SEED',
  lateShare: 'STREAMLAKE_LATE_SHARE',
  maxLatenessMinutes: 'STREAMLAKE_MAX_LATENESS_MINUTES',
  anomalyShare: 'STREAMLAKE_ANOMALY_SHARE',
  corruptShare: 'STREAMLAKE_CORRUPT_SHARE',
} as const;

/** Namespace of the pipeline's CloudWatch metrics (published as EMF by the handlers). */
export const METRICS_NAMESPACE = 'streamlake';

export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable, failing with its name when it is missing or empty. */
export function requireString(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new EnvironmentError(`environment variable ${name} is not set; redeploy the stack (cdk deploy) to restore it`);
  return value;
}

/** Reads a numeric variable, failing with its name when it is not a number. */
export function requireNumber(env: Env, name: string): number {
  const value = Number(requireString(env, name));
  if (!Number.isFinite(value)) throw new EnvironmentError(`environment variable ${name} must be a number, got ${JSON.stringify(env[name])}`);
  return value;
}

export function requireCodec(env: Env, name: string): Codec {
  const value = requireString(env, name);
  if (!(CODECS as readonly string[]).includes(value)) throw new EnvironmentError(`environment variable ${name} must be one of ${CODECS.join(', ')}, got ${value}`);
  return value as Codec;
}

/** The brokers and region every Kafka client of the pipeline needs. */
export function kafkaSettings(env: Env) {
  return {
    brokers: requireString(env, ENV.bootstrapBrokers).split(','),
    region: requireString(env, 'AWS_REGION'),
  };
}
