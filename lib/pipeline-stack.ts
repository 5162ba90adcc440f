import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { PipelineConfig } from './config.ts';
import { PipelineFunctions } from './functions/pipeline-functions.ts';
import { LakeStorage } from './lake/lake-storage.ts';
import { PipelineMonitoring } from './operations/pipeline-monitoring.ts';
import { LakeCatalog } from './query/lake-catalog.ts';
import { KafkaCluster } from './streaming/kafka-cluster.ts';
import { PipelineNetwork } from './streaming/network.ts';

export interface PipelineStackProps extends StackProps {
  /** Everything tunable. @default DEFAULTS, with CDK context applied by bin/streamlake.ts */
  readonly config: PipelineConfig;
}

/** The whole pipeline: network, MSK and its topic, the lake, the catalog, the scheduled Lambdas, and their monitoring. */
export class PipelineStack extends Stack {
  readonly network: PipelineNetwork;
  readonly kafka: KafkaCluster;
  readonly lake: LakeStorage;
  readonly catalog: LakeCatalog;
  readonly functions: PipelineFunctions;
  readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    // Only an explicit dev stage deletes data with the stack.
    const removalPolicy = config.stage === 'dev' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const encryptionKey = config.kmsEncryption ? new kms.Key(this, 'DataKey', { enableKeyRotation: true, removalPolicy, description: 'streamlake lake, results and broker storage' }) : undefined;

    this.network = new PipelineNetwork(this, 'Network', { tracing: config.tracing, flowLogRetentionDays: config.brokerLogRetentionDays, removalPolicy });
    this.kafka = new KafkaCluster(this, 'Kafka', { ...config, vpc: this.network.vpc, subnets: this.network.privateSubnets, encryptionKey, removalPolicy });
    this.lake = new LakeStorage(this, 'Lake', { ...config, encryptionKey, replicationBucketArn: config.replicationBucketArn || undefined, removalPolicy });
    this.catalog = new LakeCatalog(this, 'Catalog', {
      lakeBucket: this.lake.lakeBucket,
      resultsBucket: this.lake.resultsBucket,
      databaseName: config.glueDatabase,
      workgroupName: config.athenaWorkgroup,
      bytesScannedCutoffMB: config.athenaBytesScannedCutoffMB,
      encryptionKey,
      removalPolicy,
    });
    this.functions = new PipelineFunctions(this, 'Functions', { vpc: this.network.vpc, subnets: this.network.privateSubnets, cluster: this.kafka, lake: this.lake, config, removalPolicy });
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      generator: this.functions.generator,
      compactor: this.functions.compactor,
      deadLetterQueue: this.functions.deadLetterQueue,
      compactorTimeoutSeconds: config.compactorTimeoutSeconds,
      compactorEveryMinutes: config.compactorEveryMinutes,
      lagAlarmRecords: 3 * config.compactorEveryMinutes * config.devices * config.eventsPerDevicePerMinute,
      alarmEmail: config.alarmEmail || undefined,
    });

    new CfnOutput(this, 'LakeBucket', { value: this.lake.lakeBucket.bucketName, description: 'S3 bucket of the lake (curated/, quarantine/, checkpoints/)' });
    new CfnOutput(this, 'AthenaWorkgroup', { value: config.athenaWorkgroup, description: 'Run: npx streamlake query --athena --workgroup <this> --named site_summary' });
    new CfnOutput(this, 'GlueDatabase', { value: config.glueDatabase });
    new CfnOutput(this, 'KafkaClusterArn', { value: this.kafka.clusterArn });
    new CfnOutput(this, 'AlarmTopic', { value: this.monitoring.alarmTopic.topicArn, description: 'Subscribe to get alarms' });
  }
}
