import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import type { PipelineConfig } from '../config.ts';
import type { LakeStorage } from '../lake/lake-storage.ts';
import type { LakeCatalog } from '../query/lake-catalog.ts';
import type { KafkaCluster } from '../streaming/kafka-cluster.ts';
import type { KafkaTopic } from '../streaming/kafka-topic.ts';
import { DEMO_TABLE, tableConstructId } from '../tables.ts';
import { scheduledFunction } from './scheduled-function.ts';
import { TableCompactor } from './table-compactor.ts';
import { TableOptimizer } from './table-optimizer.ts';

export { compactorSettings } from './table-compactor.ts';
export { optimizerSettings } from './table-optimizer.ts';

/** A declared table and its topic. */
export interface TableTopic {
  /** The table's declaration. */
  readonly table: TableSpec;
  /** The topic it declares, made by `KafkaCluster.addTopic`. */
  readonly topic: KafkaTopic;
}

export interface PipelineFunctionsProps {
  /** The network the functions run in. Required. */
  readonly vpc: ec2.IVpc;
  /** Their subnets. Required. */
  readonly subnets: ec2.SubnetSelection;
  /** The brokers they produce to and read from. Required. */
  readonly cluster: KafkaCluster;
  /** The lake the compactors write. Required. */
  readonly lake: LakeStorage;
  /** The Glue catalog the Iceberg tables are committed in. Required. */
  readonly catalog: LakeCatalog;
  /** The VPC's Glue API endpoint. Required when a table is Iceberg. */
  readonly glueEndpoint?: ec2.IConnectable;
  /** The declared tables with their topics: each gets its compactor. Required. */
  readonly tables: readonly TableTopic[];
  /** Sizes, timeouts, schedules and the settings the handlers read from their environment. @default DEFAULTS */
  readonly config: PipelineConfig;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The generator's settings as environment variables (its brokers and topic come with its wiring). */
export function generatorSettings(config: PipelineConfig): Record<string, string> {
  return {
    [ENV.devices]: String(config.devices),
    [ENV.eventsPerDevicePerMinute]: String(config.eventsPerDevicePerMinute),
    [ENV.seed]: String(config.seed),
    [ENV.lateShare]: String(config.lateShare),
    [ENV.maxLatenessMinutes]: String(config.maxLatenessMinutes),
    [ENV.anomalyShare]: String(config.anomalyShare),
    [ENV.corruptShare]: String(config.corruptShare),
  };
}

/**
 * The scheduled Lambdas: a compactor per declared table, which turns the table's topic into
 * Parquet every few minutes, and — when the demo table `device_logs` is declared — the
 * log-generator, which produces a minute of the simulated fleet's events to its topic every minute;
 * and an optimizer per Iceberg table, which merges its small files every hour or so. Failed
 * invocations and failed schedule deliveries land in one dead-letter queue.
 */
export class PipelineFunctions extends Construct {
  /** The demo fleet's producer; absent when no `device_logs` table is declared. */
  readonly generator?: nodejs.NodejsFunction;
  readonly generatorSchedule?: scheduler.Schedule;
  /** Each table's compactor, by table name. */
  readonly compactors: ReadonlyMap<string, TableCompactor>;
  /** Each Iceberg table's optimizer, by table name. */
  readonly optimizers: ReadonlyMap<string, TableOptimizer>;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    const { config } = props;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the functions and schedules.' });
    const shared = {
      vpc: props.vpc,
      subnets: props.subnets,
      deadLetterQueue: this.deadLetterQueue,
      logRetentionDays: config.lambdaLogRetentionDays,
      tracing: config.tracing,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    };

    // The simulated fleet produces the demo table only.
    const demoTopic = props.tables.find(({ table }) => table.name === DEMO_TABLE)?.topic;
    if (demoTopic) {
      ({ fn: this.generator, schedule: this.generatorSchedule } = scheduledFunction(this, 'LogGenerator', 'GeneratorSchedule', {
        ...shared,
        handler: 'generator',
        memoryMiB: config.generatorMemoryMiB,
        timeoutSeconds: config.generatorTimeoutSeconds,
        everyMinutes: config.generatorEveryMinutes,
        enabled: config.schedulesEnabled,
        dependsOn: [demoTopic.resource],
      }));
      const settings = { ...generatorSettings(config), [ENV.bootstrapBrokers]: props.cluster.bootstrapBrokers, [ENV.topic]: demoTopic.topicName };
      for (const [name, value] of Object.entries(settings)) this.generator.addEnvironment(name, value);
      props.cluster.connections.allowDefaultPortFrom(this.generator, 'Kafka over IAM/TLS from the log-generator');
      demoTopic.grantProduce(this.generator);
    }

    this.compactors = new Map(
      props.tables.map(({ table, topic }) => [table.name, new TableCompactor(this, tableConstructId(table.name), { ...shared, table, topic, cluster: props.cluster, lake: props.lake, catalog: props.catalog, glueEndpoint: props.glueEndpoint, config })]),
    );
    // Outside the VPC: the optimizer reads and writes S3 and Glue only.
    this.optimizers = new Map(
      props.tables
        .filter(({ table }) => table.format === 'iceberg')
        .map(({ table }) => [
          table.name,
          new TableOptimizer(this, `${tableConstructId(table.name)}Optimizer`, { table, lake: props.lake, catalog: props.catalog, deadLetterQueue: this.deadLetterQueue, config, removalPolicy: shared.removalPolicy }),
        ]),
    );
  }
}
