import type { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import type { PipelineConfig } from '../config.ts';
import type { LakeStorage } from '../lake/lake-storage.ts';
import type { LakeCatalog } from '../query/lake-catalog.ts';
import type { KafkaCluster } from '../streaming/kafka-cluster.ts';
import type { KafkaTopic } from '../streaming/kafka-topic.ts';
import { BUNDLED_TABLES_DIR, withDeclaration } from './lambda-defaults.ts';
import { scheduledFunction } from './scheduled-function.ts';

export interface TableCompactorProps {
  /** The table this compactor writes. Required. */
  readonly table: TableSpec;
  /** The table's topic. Required. */
  readonly topic: KafkaTopic;
  /** The brokers it reads from. Required. */
  readonly cluster: KafkaCluster;
  /** The lake it writes to. Required. */
  readonly lake: LakeStorage;
  /** The Glue catalog an Iceberg table is committed in. Required. */
  readonly catalog: LakeCatalog;
  /** The Glue API endpoint an Iceberg table's compactor reaches the catalog through. Required for an Iceberg table. */
  readonly glueEndpoint?: ec2.IConnectable;
  /** The network it runs in. Required. */
  readonly vpc: ec2.IVpc;
  /** Its subnets. Required. */
  readonly subnets: ec2.SubnetSelection;
  /** Where its failed invocations and failed schedule deliveries go. Required. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Size, timeout, schedule and the settings the handler reads from its environment. @default DEFAULTS */
  readonly config: PipelineConfig;
  /** @default RemovalPolicy.RETAIN (of the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/** The compactor's settings as environment variables (brokers, table, group and bucket come with its wiring). */
export function compactorSettings(config: PipelineConfig): Record<string, string> {
  return {
    [ENV.codec]: config.codec,
    [ENV.compactorShards]: String(config.compactorShards),
    [ENV.maxRecordsPerRun]: String(config.maxRecordsPerRun),
    [ENV.maxRecordBytes]: String(config.maxRecordBytes),
    [ENV.maxEventAgeHours]: String(config.maxEventAgeHours),
    [ENV.maxEventFutureMinutes]: String(config.maxEventFutureMinutes),
  };
}

/**
 * The consumer groups the shards of a compactor commit, as IAM names them: `group` itself (one
 * shard) and `<group>.shard-*` (shard `i` of `N`, `<group>.shard-<i>-of-<N>`, for every `N`, so a
 * change of `compactorShards` can read the offsets the previous shards committed).
 */
export function compactorGroupPatterns(group: string): [string, string] {
  return [group, `${group}.shard-*`];
}

/** The event of shard `shard`'s schedule: the handler reads `event.shard` (0 when absent). */
export function shardEvent(shard: number): { shard: number } {
  return { shard };
}

/**
 * One table's compactor: its own Lambda, invoked every few minutes by one schedule per shard
 * (`compactorShards`, each schedule's event `{"shard": i}`), each invocation working until it has
 * caught up or its time budget is spent, with its table's declaration in its bundle
 * (`STREAMLAKE_TABLES_DIR`). It may read only its table's topic, commit only the pipeline's
 * consumer group and its shard groups, and read and write only its table's
 * prefixes of the lake, so a table's failure, timeout or permissions never reach another's. The
 * compactor of an Iceberg table also reads, creates and updates that table's Glue table, its commit
 * point, through the VPC's Glue endpoint (`STREAMLAKE_GLUE_DATABASE`).
 */
export class TableCompactor extends Construct {
  readonly fn: nodejs.NodejsFunction;
  /** One schedule per shard, shard `i`'s at index `i`: shard 0's keeps the construct ID `CompactorSchedule` of the one schedule before shards. */
  readonly schedules: readonly scheduler.Schedule[];
  readonly table: TableSpec;

  constructor(scope: Construct, id: string, props: TableCompactorProps) {
    super(scope, id);
    const { config, table } = props;
    this.table = table;
    const shards = config.compactorShards;
    ({ fn: this.fn, schedules: this.schedules } = scheduledFunction(this, 'Compactor', 'CompactorSchedule', {
      handler: 'compactor',
      memoryMiB: config.compactorMemoryMiB,
      timeoutSeconds: config.compactorTimeoutSeconds,
      everyMinutes: config.compactorEveryMinutes,
      enabled: config.schedulesEnabled,
      // No reserved concurrency: reserving it fails function creation in accounts whose concurrency
      // quota is 10, and concurrent runs are safe anyway (they race for one claim and finish one run).
      // The shards run side by side, each on its own schedule, all on every tick.
      inputs: Array.from({ length: shards }, (_, shard) => ({ event: shardEvent(shard), describedAs: shards > 1 ? ` as shard ${shard} of ${shards}` : undefined })),
      vpc: props.vpc,
      subnets: props.subnets,
      deadLetterQueue: props.deadLetterQueue,
      logRetentionDays: config.lambdaLogRetentionDays,
      tracing: config.tracing,
      removalPolicy: props.removalPolicy,
      dependsOn: [props.topic.resource],
      bundling: withDeclaration(table),
    }));

    const settings = {
      ...compactorSettings(config),
      [ENV.table]: table.name,
      [ENV.tablesDir]: BUNDLED_TABLES_DIR,
      [ENV.bootstrapBrokers]: props.cluster.bootstrapBrokers,
      [ENV.consumerGroup]: config.consumerGroup,
      [ENV.lakeBucket]: props.lake.lakeBucket.bucketName,
    };
    for (const [name, value] of Object.entries(settings)) this.fn.addEnvironment(name, value);
    props.cluster.connections.allowDefaultPortFrom(this.fn, `Kafka over IAM/TLS from the ${table.name} compactor`);
    props.topic.grantConsume(this.fn, ...compactorGroupPatterns(config.consumerGroup));
    props.lake.grantCompactor(this.fn, table.name);
    if (table.format === 'iceberg') this.commitsInGlue(props);
  }

  // An Iceberg table's commit is an update of its Glue table, through the Glue endpoint of the VPC.
  private commitsInGlue(props: TableCompactorProps): void {
    if (!props.glueEndpoint) throw new Error(`the compactor of Iceberg table ${props.table.name} needs a Glue endpoint: build the network with glueEndpoint: true`);
    this.fn.addEnvironment(ENV.glueDatabase, props.catalog.databaseName);
    props.catalog.grantIcebergCommit(this.fn, props.table.name);
    props.glueEndpoint.connections.allowFrom(this.fn, ec2.Port.tcp(443), `HTTPS to the Glue API from the ${props.table.name} compactor`);
  }
}
