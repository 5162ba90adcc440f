import { Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/environment.ts';

/** The port of MSK's IAM-authenticated TLS listener. */
export const MSK_IAM_PORT = 9098;

export interface KafkaClusterProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** @default DEFAULTS.topicName */
  readonly topicName: string;
  /** @default DEFAULTS.partitions */
  readonly partitions: number;
  /** @default DEFAULTS.replicationFactor */
  readonly replicationFactor: number;
  /** @default DEFAULTS.minInsyncReplicas */
  readonly minInsyncReplicas: number;
  /** @default DEFAULTS.topicRetentionHours */
  readonly topicRetentionHours: number;
  /** @default DEFAULTS.kafkaVersion */
  readonly kafkaVersion: string;
  /** @default DEFAULTS.brokerInstanceType */
  readonly brokerInstanceType: string;
  /** @default DEFAULTS.brokerNodes */
  readonly brokerNodes: number;
  /** @default DEFAULTS.brokerVolumeGiB */
  readonly brokerVolumeGiB: number;
  /** @default DEFAULTS.brokerLogRetentionDays */
  readonly brokerLogRetentionDays: number;
  /** Key for encryption at rest. @default the AWS-managed MSK key */
  readonly encryptionKey?: kms.IKey;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A provisioned MSK cluster with IAM access control, TLS between clients and brokers and inside
 * the cluster, encryption at rest and broker logs in CloudWatch; its topic declared as
 * `AWS::MSK::Topic`. `grantProduce` and `grantConsume` give a Lambda exactly the Kafka actions it
 * needs on this cluster, topic and group, open the broker port to it, and set its environment.
 */
export class KafkaCluster extends Construct {
  readonly cluster: msk.CfnCluster;
  readonly topic: msk.CfnTopic;
  readonly securityGroup: ec2.SecurityGroup;
  /** Comma-separated `host:9098` list, resolved from the MSK API at deploy time. */
  readonly bootstrapBrokers: string;
  readonly topicName: string;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    this.topicName = props.topicName;
    this.securityGroup = new ec2.SecurityGroup(this, 'BrokerSecurityGroup', {
      vpc: props.vpc,
      description: 'MSK brokers: reachable only from the pipeline Lambdas on the IAM/TLS port',
      allowAllOutbound: false,
    });
    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', { retention: props.brokerLogRetentionDays, removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN });
    const configuration = new msk.CfnConfiguration(this, 'BrokerConfiguration', {
      name: `${Stack.of(this).stackName}-brokers`,
      serverProperties: [
        'auto.create.topics.enable=false',
        `default.replication.factor=${props.replicationFactor}`,
        `min.insync.replicas=${props.minInsyncReplicas}`,
        'unclean.leader.election.enable=false',
      ].join('\n'),
    });
    this.cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: `${Stack.of(this).stackName}-kafka`,
      kafkaVersion: props.kafkaVersion,
      numberOfBrokerNodes: props.brokerNodes,
      brokerNodeGroupInfo: {
        instanceType: props.brokerInstanceType,
        clientSubnets: props.vpc.selectSubnets(props.subnets).subnetIds,
        securityGroups: [this.securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: props.brokerVolumeGiB } },
      },
      clientAuthentication: { sasl: { iam: { enabled: true } }, unauthenticated: { enabled: false } },
      encryptionInfo: {
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
        ...(props.encryptionKey ? { encryptionAtRest: { dataVolumeKmsKeyId: props.encryptionKey.keyArn } } : {}),
      },
      configurationInfo: { arn: configuration.attrArn, revision: 1 },
      loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } } },
      enhancedMonitoring: 'DEFAULT',
    });
    this.cluster.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);

    this.topic = new msk.CfnTopic(this, 'Topic', {
      clusterArn: this.cluster.attrArn,
      topicName: props.topicName,
      partitionCount: props.partitions,
      replicationFactor: props.replicationFactor,
      // Topic-level settings, as the MSK topic API takes them: a base64 JSON map of Kafka configs.
      configs: Fn.base64(
        JSON.stringify({
          'retention.ms': String(props.topicRetentionHours * 3_600_000),
          'min.insync.replicas': String(props.minInsyncReplicas),
          'cleanup.policy': 'delete',
        }),
      ),
    });
    this.topic.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.bootstrapBrokers = this.lookUpBootstrapBrokers();
  }

  // AWS::MSK::Cluster has no attribute for its brokers: ask the MSK API once the cluster exists.
  private lookUpBootstrapBrokers(): string {
    const call: cr.AwsSdkCall = {
      service: 'Kafka',
      action: 'getBootstrapBrokers',
      parameters: { ClusterArn: this.cluster.attrArn },
      physicalResourceId: cr.PhysicalResourceId.of(this.cluster.attrArn),
    };
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.cluster.attrArn] }),
      installLatestAwsSdk: false,
    });
    // The lookup runs in CDK's singleton provider function, a child of the stack.
    const provider = Stack.of(this).node.findChild(`AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`);
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The CDK-provided custom resource function only writes its logs; its only other permission is kafka:GetBootstrapBrokers on this cluster.',
    });
    return lookup.getResponseField('BootstrapBrokerStringSaslIam');
  }

  /** `arn:…:kafka:region:account:<kind>/<cluster name>/<cluster uuid>/<name>` for topics and groups. */
  private resourceArn(kind: 'topic' | 'group', name: string): string {
    const clusterPath = Fn.select(1, Fn.split(':cluster/', this.cluster.attrArn)); // "<name>/<uuid>"
    return Stack.of(this).formatArn({ service: 'kafka', resource: kind, resourceName: `${clusterPath}/${name}` });
  }

  private connect(fn: lambda.Function): void {
    fn.connections.allowTo(this.securityGroup, ec2.Port.tcp(MSK_IAM_PORT), 'Kafka over IAM/TLS');
    fn.addEnvironment(ENV.bootstrapBrokers, this.bootstrapBrokers).addEnvironment(ENV.topic, this.topicName);
  }

  /** Lets `fn` produce to the topic (idempotently) and tells it where: brokers and topic in its environment. */
  grantProduce(fn: lambda.Function): iam.Grant {
    this.connect(fn);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', 'kafka-cluster:WriteDataIdempotently'],
      resourceArns: [this.cluster.attrArn],
    });
    return iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resourceArns: [this.resourceArn('topic', this.topicName)],
    });
  }

  /** Lets `fn` read the topic and commit offsets of `group`, and tells it where. */
  grantConsume(fn: lambda.Function, group: string): iam.Grant {
    this.connect(fn);
    fn.addEnvironment(ENV.consumerGroup, group);
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resourceArns: [this.cluster.attrArn] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resourceArns: [this.resourceArn('topic', this.topicName)] });
    return iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], resourceArns: [this.resourceArn('group', group)] });
  }
}
