import type { Codec } from '../lambdas/ports/parquet.ts';

/**
 * Everything a user may tune, with its default. The CDK app, the Lambda environment, the local
 * runner, the README and the tests all read these values from here.
 */
export interface PipelineConfig {
  /** Kafka topic of the local runner's embedded log; the stack takes each table's topic from its declaration. @default DEFAULTS.topicName ('device-logs') */
  readonly topicName: string;
  /** Partitions of every table's topic: may grow, never shrink. @default DEFAULTS.partitions (6) */
  readonly partitions: number;
  /** Consumer group of the compactors: names each table's checkpoint and the committed offsets of its topic. @default DEFAULTS.consumerGroup ('streamlake-compactor') */
  readonly consumerGroup: string;

  /** Simulated devices. @default DEFAULTS.devices (100) */
  readonly devices: number;
  /** Events each device sends per minute. @default DEFAULTS.eventsPerDevicePerMinute (1) */
  readonly eventsPerDevicePerMinute: number;
  /** Seed of the simulated fleet. @default DEFAULTS.seed (42) */
  readonly seed: number;
  /** Share (0-1) of events that arrive late. @default DEFAULTS.lateShare (0.02) */
  readonly lateShare: number;
  /** Latest a late event arrives, in minutes. @default DEFAULTS.maxLatenessMinutes (90) */
  readonly maxLatenessMinutes: number;
  /** Share (0-1) of anomalous readings. @default DEFAULTS.anomalyShare (0.005) */
  readonly anomalyShare: number;
  /** Share (0-1) of records sent corrupt, to exercise quarantine. @default DEFAULTS.corruptShare (0.001) */
  readonly corruptShare: number;

  /** Generator cadence in minutes (EventBridge `rate(n minutes)`; the local runner's simulated schedule). @default DEFAULTS.generatorEveryMinutes (1) */
  readonly generatorEveryMinutes: number;
  /** Compactor cadence in minutes. @default DEFAULTS.compactorEveryMinutes (5) */
  readonly compactorEveryMinutes: number;
  /** Parquet codec. @default DEFAULTS.codec ('snappy') */
  readonly codec: Codec;
  /**
   * Compactors per table working its topic side by side: shard `i` of `N` owns the partitions `p`
   * with `p mod N = i`, has its own schedule (invoked with `{"shard": i}`), checkpoint and consumer
   * group (`<consumerGroup>.shard-<i>-of-<N>`, plain `consumerGroup` when `N` is 1). Each shard
   * works to its time budget, so a table sustains about `N` times one compactor's rate (README,
   * Capacity). At most `partitions`: a shard without a partition would have nothing to do.
   * @default DEFAULTS.compactorShards (1)
   */
  readonly compactorShards: number;
  /** Most records one compactor run reads, so it fits its memory; an invocation performs runs until it catches up or its time budget is spent. @default DEFAULTS.maxRecordsPerRun (500000) */
  readonly maxRecordsPerRun: number;
  /** Largest accepted record value; larger ones are quarantined. @default DEFAULTS.maxRecordBytes (65536) */
  readonly maxRecordBytes: number;
  /** Oldest accepted event_time relative to its Kafka timestamp, in hours. @default DEFAULTS.maxEventAgeHours (168) */
  readonly maxEventAgeHours: number;
  /** Furthest accepted event_time ahead of its Kafka timestamp, in minutes (device clock skew). @default DEFAULTS.maxEventFutureMinutes (15) */
  readonly maxEventFutureMinutes: number;

  // ── Deployment (cdk deploy -c key=value) ──────────────────────────────────────────────────────
  /** Directory of the table declarations the stack is built from (`<table>.schema.json`, `<table>/*.sql`, `tables.lock.json`), relative to the project root. @default DEFAULTS.tablesDir ('tables') */
  readonly tablesDir: string;
  /**
   * `prod` retains the buckets (and their data), the KMS key and the log groups on `cdk destroy`;
   * `dev` deletes them with the stack. In both, the MSK cluster and topics, the network, the Glue
   * catalog, the Athena workgroup and the schema registry go with the stack. @default DEFAULTS.stage ('prod')
   */
  readonly stage: 'dev' | 'prod';
  /** `provisioned` brokers, or MSK `serverless` (topic created through the Kafka admin API). @default DEFAULTS.mskMode ('provisioned') */
  readonly mskMode: 'provisioned' | 'serverless';
  /** Apache Kafka version of the provisioned cluster. @default DEFAULTS.kafkaVersion ('3.9.x') */
  readonly kafkaVersion: string;
  /** Broker instance type. @default DEFAULTS.brokerInstanceType ('kafka.t3.small') */
  readonly brokerInstanceType: string;
  /** Brokers, spread over the VPC's two AZs. @default DEFAULTS.brokerNodes (2) */
  readonly brokerNodes: number;
  /** EBS storage per broker, GiB. @default DEFAULTS.brokerVolumeGiB (20) */
  readonly brokerVolumeGiB: number;
  /** Retention of broker logs in CloudWatch, days. @default DEFAULTS.brokerLogRetentionDays (14) */
  readonly brokerLogRetentionDays: number;
  /** Replicas of each partition. @default DEFAULTS.replicationFactor (2) */
  readonly replicationFactor: number;
  /** Replicas that must acknowledge an acks=all write (1 keeps producing while MSK patches one of two brokers). @default DEFAULTS.minInsyncReplicas (1) */
  readonly minInsyncReplicas: number;
  /** Topic retention, hours: the compactor must run within it or records are lost (reported as gaps). @default DEFAULTS.topicRetentionHours (168) */
  readonly topicRetentionHours: number;
  /** Partitions already deployed: synth refuses a `partitions` below it, because Kafka partitions never shrink. @default DEFAULTS.partitionFloor (6) */
  readonly partitionFloor: number;
  /** Generator Lambda memory, MiB. @default DEFAULTS.generatorMemoryMiB (256) */
  readonly generatorMemoryMiB: number;
  /** Generator Lambda timeout, seconds. @default DEFAULTS.generatorTimeoutSeconds (50) */
  readonly generatorTimeoutSeconds: number;
  /** Compactor Lambda memory, MiB (CPU scales with it). @default DEFAULTS.compactorMemoryMiB (1024) */
  readonly compactorMemoryMiB: number;
  /** Compactor Lambda timeout, seconds. @default DEFAULTS.compactorTimeoutSeconds (240) */
  readonly compactorTimeoutSeconds: number;
  /**
   * Cadence, in minutes, of each Iceberg table's optimizer: it merges the small files of the
   * table's closed partitions, expires old snapshots and removes unreferenced files.
   * @default DEFAULTS.optimizeEveryMinutes (60)
   */
  readonly optimizeEveryMinutes: number;
  /** Optimizer Lambda memory, MiB: it holds a merged file's rows while it writes it. @default DEFAULTS.optimizerMemoryMiB (2048) */
  readonly optimizerMemoryMiB: number;
  /** Optimizer Lambda timeout, seconds (at most Lambda's 900). @default DEFAULTS.optimizerTimeoutSeconds (900) */
  readonly optimizerTimeoutSeconds: number;
  /** Size, MB, the optimizer's merged files aim at (Iceberg's write.target-file-size-bytes). @default DEFAULTS.optimizeTargetFileMb (128) */
  readonly optimizeTargetFileMb: number;
  /** Days an Iceberg table keeps its snapshots (time travel) and its unreferenced files before the optimizer removes them. @default DEFAULTS.optimizeRetentionDays (7) */
  readonly optimizeRetentionDays: number;
  /** Retention of the Lambdas' logs, days. @default DEFAULTS.lambdaLogRetentionDays (30) */
  readonly lambdaLogRetentionDays: number;
  /** X-Ray active tracing on both Lambdas. @default DEFAULTS.tracing (false) */
  readonly tracing: boolean;
  /** Whether the EventBridge schedules are enabled (false: deploy paused). @default DEFAULTS.schedulesEnabled (true) */
  readonly schedulesEnabled: boolean;
  /** Days before curated Parquet moves to Standard-IA; 0 turns the transition off. @default DEFAULTS.curatedInfrequentAccessAfterDays (30) */
  readonly curatedInfrequentAccessAfterDays: number;
  /** Days before curated Parquet moves to Glacier Instant Retrieval; 0 off. @default DEFAULTS.curatedGlacierInstantAfterDays (90) */
  readonly curatedGlacierInstantAfterDays: number;
  /** Days before curated Parquet moves to Glacier Deep Archive (no longer queryable by Athena); 0 off. @default DEFAULTS.curatedDeepArchiveAfterDays (365) */
  readonly curatedDeepArchiveAfterDays: number;
  /** Days quarantined records are kept. @default DEFAULTS.quarantineExpireDays (30) */
  readonly quarantineExpireDays: number;
  /** Days Athena query results are kept. @default DEFAULTS.athenaResultsExpireDays (7) */
  readonly athenaResultsExpireDays: number;
  /** Days a replaced or deleted object version is kept. @default DEFAULTS.noncurrentVersionExpireDays (30) */
  readonly noncurrentVersionExpireDays: number;
  /** Days before an unfinished multipart upload is aborted. @default DEFAULTS.abortIncompleteUploadAfterDays (1) */
  readonly abortIncompleteUploadAfterDays: number;
  /** Encrypt the buckets with a customer-managed KMS key instead of S3-managed keys. @default DEFAULTS.kmsEncryption (false) */
  readonly kmsEncryption: boolean;
  /** ARN of a bucket to replicate curated data to; empty: no replication. @default DEFAULTS.replicationBucketArn ('') */
  readonly replicationBucketArn: string;
  /** ARN of the KMS key that encrypts the replicas when `kmsEncryption` is on, in the replica bucket's region; empty: the stack's own key (a replica bucket in the stack's region). @default DEFAULTS.replicationKmsKeyArn ('') */
  readonly replicationKmsKeyArn: string;
  /**
   * Share of a table's records read, in percent, that its quarantine alarm fires above when it holds
   * for `quarantineAlarmMinutes`. The demo fleet corrupts 0.1% of its records on purpose (`corruptShare`),
   * so a count of quarantined records would page every few periods; a share this far above that means
   * a producer or a declaration is broken. @default DEFAULTS.quarantineAlarmSharePercent (1)
   */
  readonly quarantineAlarmSharePercent: number;
  /** How long, in minutes, the quarantined share must stay above `quarantineAlarmSharePercent` before its alarm fires (rounded up to whole compactor periods). @default DEFAULTS.quarantineAlarmMinutes (15) */
  readonly quarantineAlarmMinutes: number;
  /** E-mail address subscribed to the alarm topic; empty: no subscription. @default DEFAULTS.alarmEmail ('') */
  readonly alarmEmail: string;
  /** Glue database of the lake tables. @default DEFAULTS.glueDatabase ('streamlake') */
  readonly glueDatabase: string;
  /** Athena workgroup of the named queries and `streamlake query --athena`. @default DEFAULTS.athenaWorkgroup ('streamlake') */
  readonly athenaWorkgroup: string;
  /** Most data one Athena query may scan, MB, before Athena cancels it. @default DEFAULTS.athenaBytesScannedCutoffMB (10240) */
  readonly athenaBytesScannedCutoffMB: number;
}

/** The stack `cdk deploy` creates unless `-c stackName=…` names another; the CLI's `--aws` commands look for it unless `--stack` names another. */
export const DEFAULT_STACK_NAME = 'streamlake';

export const DEFAULTS: PipelineConfig = {
  topicName: 'device-logs',
  partitions: 6,
  consumerGroup: 'streamlake-compactor',
  devices: 100,
  eventsPerDevicePerMinute: 1,
  seed: 42,
  lateShare: 0.02,
  maxLatenessMinutes: 90,
  anomalyShare: 0.005,
  corruptShare: 0.001,
  generatorEveryMinutes: 1,
  compactorEveryMinutes: 5,
  compactorShards: 1,
  codec: 'snappy',
  maxRecordsPerRun: 500_000,
  maxRecordBytes: 65_536,
  maxEventAgeHours: 168,
  maxEventFutureMinutes: 15,
  tablesDir: 'tables',
  stage: 'prod',
  mskMode: 'provisioned',
  kafkaVersion: '3.9.x',
  brokerInstanceType: 'kafka.t3.small',
  brokerNodes: 2,
  brokerVolumeGiB: 20,
  brokerLogRetentionDays: 14,
  replicationFactor: 2,
  minInsyncReplicas: 1,
  topicRetentionHours: 168,
  partitionFloor: 6,
  generatorMemoryMiB: 256,
  generatorTimeoutSeconds: 50,
  compactorMemoryMiB: 1024,
  compactorTimeoutSeconds: 240,
  optimizeEveryMinutes: 60,
  optimizerMemoryMiB: 2048,
  optimizerTimeoutSeconds: 900,
  optimizeTargetFileMb: 128,
  optimizeRetentionDays: 7,
  lambdaLogRetentionDays: 30,
  tracing: false,
  schedulesEnabled: true,
  curatedInfrequentAccessAfterDays: 30,
  curatedGlacierInstantAfterDays: 90,
  curatedDeepArchiveAfterDays: 365,
  quarantineExpireDays: 30,
  athenaResultsExpireDays: 7,
  noncurrentVersionExpireDays: 30,
  abortIncompleteUploadAfterDays: 1,
  kmsEncryption: false,
  replicationBucketArn: '',
  replicationKmsKeyArn: '',
  quarantineAlarmSharePercent: 1,
  quarantineAlarmMinutes: 15,
  alarmEmail: '',
  glueDatabase: 'streamlake',
  athenaWorkgroup: 'streamlake',
  athenaBytesScannedCutoffMB: 10_240,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The config with CDK context values (`cdk deploy -c partitions=12`, or `context` in cdk.json)
 * laid over DEFAULTS. Context values arrive as strings or JSON values; each is converted to the
 * default's type and the whole config is validated, failing with a message that names the key.
 */
export function configFromContext(lookup: (key: string) => unknown): PipelineConfig {
  const config: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const raw = lookup(key);
    if (raw === undefined) continue;
    config[key] = typeof fallback === 'number' ? Number(raw) : typeof fallback === 'boolean' ? raw === true || raw === 'true' : String(raw);
    if (typeof fallback === 'boolean' && !['true', 'false', true, false].includes(raw as string | boolean)) {
      throw new ConfigError(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
    }
  }
  return validateConfig(config as unknown as PipelineConfig);
}

const POSITIVE_INTEGERS = [
  'partitions', 'devices', 'eventsPerDevicePerMinute', 'generatorEveryMinutes', 'compactorEveryMinutes', 'compactorShards', 'maxRecordsPerRun', 'maxRecordBytes',
  'brokerNodes', 'brokerVolumeGiB', 'brokerLogRetentionDays', 'replicationFactor', 'minInsyncReplicas', 'topicRetentionHours', 'partitionFloor',
  'generatorMemoryMiB', 'generatorTimeoutSeconds', 'compactorMemoryMiB', 'compactorTimeoutSeconds', 'lambdaLogRetentionDays',
  'quarantineExpireDays', 'athenaResultsExpireDays', 'noncurrentVersionExpireDays', 'abortIncompleteUploadAfterDays', 'athenaBytesScannedCutoffMB',
  'quarantineAlarmMinutes', 'optimizeEveryMinutes', 'optimizerMemoryMiB', 'optimizerTimeoutSeconds', 'optimizeTargetFileMb', 'optimizeRetentionDays',
] as const satisfies readonly (keyof PipelineConfig)[];
const MAX_LAMBDA_TIMEOUT_SECONDS = 900;
const MAX_ALARM_PERIOD_MINUTES = 1440;
const DAYS_OR_OFF = ['curatedInfrequentAccessAfterDays', 'curatedGlacierInstantAfterDays', 'curatedDeepArchiveAfterDays'] as const;

/** Checks a config, failing with a message that names the key and says what to pass. */
/** Whether an MSK Kafka version (`3.9.x`, `3.6.0`, `4.1.x.kraft`, …) is at least `major.minor`. */
function kafkaVersionAtLeast(version: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) return false;
  const [found, foundMinor] = [Number(match[1]), Number(match[2])];
  return found > major || (found === major && foundMinor >= minor);
}

export function validateConfig(config: PipelineConfig): PipelineConfig {
  const fail = (key: keyof PipelineConfig, rule: string) => {
    throw new ConfigError(`${key} ${rule}, got ${JSON.stringify(config[key])} (set it in lib/config.ts or with cdk deploy -c ${key}=…)`);
  };
  for (const key of POSITIVE_INTEGERS) if (!Number.isInteger(config[key]) || config[key] < 1) fail(key, 'must be a positive integer');
  for (const key of DAYS_OR_OFF) if (!Number.isInteger(config[key]) || config[key] < 0) fail(key, 'must be a whole number of days, or 0 for off');
  if (config.tablesDir.trim() === '') fail('tablesDir', 'must name the directory of the table declarations');
  if (!['dev', 'prod'].includes(config.stage)) fail('stage', 'must be dev or prod');
  if (!['provisioned', 'serverless'].includes(config.mskMode)) fail('mskMode', 'must be provisioned or serverless');
  if (!['snappy', 'zstd'].includes(config.codec)) fail('codec', 'must be snappy or zstd');
  if (config.partitions < config.partitionFloor) {
    throw new ConfigError(
      `partitions ${config.partitions} is below the ${config.partitionFloor} partitions already deployed (partitionFloor): Kafka partitions can grow but never shrink. ` +
        `Keep partitions >= ${config.partitionFloor}, or deploy under a new topicName.`,
    );
  }
  if (config.compactorShards > config.partitions) fail('compactorShards', `must not exceed partitions (${config.partitions}): each shard owns at least one partition of a table's topic`);
  // AWS::MSK::Topic, which creates the tables' topics on a provisioned cluster, needs Kafka 3.6 or later.
  if (config.mskMode === 'provisioned' && !kafkaVersionAtLeast(config.kafkaVersion, 3, 6)) fail('kafkaVersion', 'must be 3.6 or later with mskMode=provisioned (AWS::MSK::Topic needs it), e.g. 3.9.x');
  if (!(config.quarantineAlarmSharePercent > 0 && config.quarantineAlarmSharePercent < 100)) fail('quarantineAlarmSharePercent', 'must be a percentage above 0 and below 100');
  if (config.replicationBucketArn && !/^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(config.replicationBucketArn)) fail('replicationBucketArn', 'must be a bucket ARN, arn:aws:s3:::<bucket>');
  if (config.replicationKmsKeyArn && !(config.kmsEncryption && config.replicationBucketArn)) fail('replicationKmsKeyArn', 'is used only with kmsEncryption=true and a replicationBucketArn');
  if (config.minInsyncReplicas > config.replicationFactor) fail('minInsyncReplicas', `must not exceed replicationFactor (${config.replicationFactor})`);
  if (config.mskMode === 'provisioned' && config.replicationFactor > config.brokerNodes) fail('replicationFactor', `must not exceed brokerNodes (${config.brokerNodes})`);
  const transitions = DAYS_OR_OFF.map((key) => config[key]).filter((days) => days > 0);
  if (transitions.some((days, i) => i > 0 && days <= transitions[i - 1]!)) fail('curatedGlacierInstantAfterDays', 'and the other curated transitions must come in increasing order of days');
  if (config.compactorEveryMinutes * 60 <= config.compactorTimeoutSeconds) fail('compactorTimeoutSeconds', `must be shorter than the compactor's schedule (${config.compactorEveryMinutes} min)`);
  if (config.optimizeEveryMinutes > MAX_ALARM_PERIOD_MINUTES) fail('optimizeEveryMinutes', `must be at most ${MAX_ALARM_PERIOD_MINUTES} (a day: the optimizer's alarms watch one period)`);
  if (config.optimizerTimeoutSeconds > MAX_LAMBDA_TIMEOUT_SECONDS) fail('optimizerTimeoutSeconds', `must be at most ${MAX_LAMBDA_TIMEOUT_SECONDS}, Lambda's longest timeout`);
  if (config.optimizeEveryMinutes * 60 <= config.optimizerTimeoutSeconds) fail('optimizerTimeoutSeconds', `must be shorter than the optimizer's schedule (${config.optimizeEveryMinutes} min)`);
  return config;
}

