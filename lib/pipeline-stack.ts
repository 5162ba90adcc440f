import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { DeclaredTables } from '../lambdas/adapters/table-directory.ts';
import type { PipelineConfig } from './config.ts';
import { PipelineFunctions } from './functions/pipeline-functions.ts';
import { LakeStorage } from './lake/lake-storage.ts';
import { PipelineMonitoring } from './operations/pipeline-monitoring.ts';
import { LakeCatalog } from './query/lake-catalog.ts';
import { TableSchemaRegistry } from './query/table-schemas.ts';
import { KafkaCluster } from './streaming/kafka-cluster.ts';
import { PipelineNetwork } from './streaming/network.ts';
import { DEMO_TABLE } from './tables.ts';

export interface PipelineStackProps extends StackProps {
  /** Everything tunable. @default DEFAULTS, with CDK context applied by bin/streamlake.ts */
  readonly config: PipelineConfig;
  /** The tables to land, from `deployableTables(config.tablesDir)`. Required. */
  readonly tables: DeclaredTables;
}

/**
 * The whole pipeline: network, MSK with a topic per declared table, the lake, the catalog and the
 * schema registry of the tables, a compactor per table (and the demo fleet's generator), and their
 * monitoring.
 */
export class PipelineStack extends Stack {
  readonly network: PipelineNetwork;
  readonly kafka: KafkaCluster;
  readonly lake: LakeStorage;
  readonly catalog: LakeCatalog;
  readonly schemas: TableSchemaRegistry;
  readonly functions: PipelineFunctions;
  readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { tables, queries } = props.tables;
    // Only an explicit dev stage deletes data with the stack: the buckets, the key that can read them, the logs.
    const removalPolicy = config.stage === 'dev' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    // These go with the stack in every stage (README, Tear down). The cluster lives in the stack's
    // subnets and security group, which are deleted: retained, its network interfaces would make
    // that deletion fail; it holds only the minutes of records not yet compacted into the lake.
    // The catalog and the schema registry hold no data and are rebuilt from the declarations under
    // the same names, which a retained copy would block on the next deploy.
    const withStack = RemovalPolicy.DESTROY;
    const encryptionKey = config.kmsEncryption ? new kms.Key(this, 'DataKey', { enableKeyRotation: true, removalPolicy, description: 'streamlake lake, results and broker storage' }) : undefined;

    const icebergTables = tables.filter((table) => table.format === 'iceberg').map((table) => table.name);
    // The Glue endpoint costs by the hour in each AZ: only a stack with an Iceberg table, whose compactor commits in Glue, has one.
    this.network = new PipelineNetwork(this, 'Network', { glueEndpoint: icebergTables.length > 0, flowLogRetentionDays: config.brokerLogRetentionDays, removalPolicy });
    this.kafka = new KafkaCluster(this, 'Kafka', { ...config, vpc: this.network.vpc, subnets: this.network.privateSubnets, encryptionKey, removalPolicy: withStack });
    this.lake = new LakeStorage(this, 'Lake', {
      ...config,
      icebergTables,
      hiveTables: tables.filter((table) => table.format !== 'iceberg').map((table) => table.name),
      encryptionKey,
      replicationBucketArn: config.replicationBucketArn || undefined,
      replicationKey: config.replicationKmsKeyArn ? kms.Key.fromKeyArn(this, 'ReplicaKey', config.replicationKmsKeyArn) : undefined,
      removalPolicy,
    });
    this.catalog = new LakeCatalog(this, 'Catalog', {
      lakeBucket: this.lake.lakeBucket,
      resultsBucket: this.lake.resultsBucket,
      tables,
      queries,
      databaseName: config.glueDatabase,
      workgroupName: config.athenaWorkgroup,
      bytesScannedCutoffMB: config.athenaBytesScannedCutoffMB,
      encryptionKey,
      removalPolicy: withStack,
    });
    this.schemas = new TableSchemaRegistry(this, 'Schemas', { tables, removalPolicy: withStack });
    this.functions = new PipelineFunctions(this, 'Functions', {
      vpc: this.network.vpc,
      subnets: this.network.privateSubnets,
      cluster: this.kafka,
      lake: this.lake,
      catalog: this.catalog,
      glueEndpoint: this.network.glueEndpoint,
      tables: tables.map((table) => ({ table, topic: this.kafka.addTopic(table.topic) })),
      config,
      removalPolicy,
    });
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      generator: this.functions.generator,
      compactors: [...this.functions.compactors.values()].map(({ table, fn }) => ({
        table: table.name,
        fn,
        // Three compactor periods of the demo fleet's traffic; other tables' traffic is unknown here,
        // so they alarm when more is waiting than one run may read. Each shard alarms at its share.
        lagAlarmRecords: table.name === DEMO_TABLE ? 3 * config.compactorEveryMinutes * config.devices * config.eventsPerDevicePerMinute : config.maxRecordsPerRun,
        shards: config.compactorShards,
      })),
      optimizers: [...this.functions.optimizers.values()].map(({ table, fn }) => ({ table: table.name, fn })),
      optimizerTimeoutSeconds: config.optimizerTimeoutSeconds,
      optimizeEveryMinutes: config.optimizeEveryMinutes,
      deadLetterQueue: this.functions.deadLetterQueue,
      compactorTimeoutSeconds: config.compactorTimeoutSeconds,
      compactorEveryMinutes: config.compactorEveryMinutes,
      quarantineAlarmSharePercent: config.quarantineAlarmSharePercent,
      quarantineAlarmMinutes: config.quarantineAlarmMinutes,
      alarmEmail: config.alarmEmail || undefined,
    });

    new CfnOutput(this, 'LakeBucket', { value: this.lake.lakeBucket.bucketName, description: 'S3 bucket of the lake (curated/, quarantine/, checkpoints/, a folder per table in each)' });
    new CfnOutput(this, 'AthenaWorkgroup', { value: config.athenaWorkgroup, description: 'Run: npx streamlake query --athena --workgroup <this> --named <query>' });
    new CfnOutput(this, 'GlueDatabase', { value: config.glueDatabase });
    if (icebergTables.length > 0) {
      new CfnOutput(this, 'IcebergTables', {
        value: icebergTables.join(','),
        description: 'Apache Iceberg tables: each compactor creates its Glue table (type ICEBERG) at its first commit, so Athena finds the table only after its first run; each has an optimizer that merges its small files every optimizeEveryMinutes',
      });
    }
    new CfnOutput(this, 'SchemaRegistry', { value: this.schemas.registry.name, description: 'Glue Schema Registry with the record schema of every table' });
    new CfnOutput(this, 'KafkaClusterArn', { value: this.kafka.clusterArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.functions.deadLetterQueue.queueUrl, description: 'Dead-letter queue of the functions and schedules; streamlake status --aws reports its depth' });
    new CfnOutput(this, 'AlarmTopic', { value: this.monitoring.alarmTopic.topicArn, description: 'Subscribe to get alarms' });
  }
}
