import { CfnResource, CustomResource, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { handlerEntry, NODE_FUNCTION_DEFAULTS } from '../functions/lambda-defaults.ts';

/** The port of MSK's IAM-authenticated TLS listener. */
export const MSK_IAM_PORT = 9098;

export interface KafkaClusterProps {
  /** Provisioned brokers with the topic as `AWS::MSK::Topic`, or MSK Serverless with the topic made through the Kafka admin API. @default DEFAULTS.mskMode ('provisioned') */
  readonly mskMode: 'provisioned' | 'serverless';
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
 * An MSK cluster with IAM access control over TLS and encryption at rest, and its topic declared
 * as code. Provisioned (the default): TLS inside the cluster, broker logs in CloudWatch, the topic
 * as `AWS::MSK::Topic`. Serverless: the topic made and grown by a custom resource through the
 * Kafka admin API. `grantProduce` and `grantConsume` give a Lambda exactly the Kafka actions it
 * needs on this cluster, topic and group, open the broker port to it, and set its environment.
 */
export class KafkaCluster extends Construct {
  readonly clusterArn: string;
  readonly topic: msk.CfnTopic | CustomResource;
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
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (props.mskMode === 'serverless') {
      const cluster = new msk.CfnServerlessCluster(this, 'ServerlessCluster', {
        clusterName: `${Stack.of(this).stackName}-kafka`,
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [{ subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds, securityGroups: [this.securityGroup.securityGroupId] }],
      });
      cluster.applyRemovalPolicy(removalPolicy);
      this.clusterArn = cluster.attrArn;
      this.bootstrapBrokers = this.lookUpBootstrapBrokers();
      this.topic = this.topicThroughAdminApi(props);
    } else {
      this.clusterArn = this.provisionedCluster(props, removalPolicy);
      this.bootstrapBrokers = this.lookUpBootstrapBrokers();
      this.topic = new msk.CfnTopic(this, 'Topic', {
        clusterArn: this.clusterArn,
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
    }
    this.topic.applyRemovalPolicy(removalPolicy);
  }

  private provisionedCluster(props: KafkaClusterProps, removalPolicy: RemovalPolicy): string {
    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', { retention: props.brokerLogRetentionDays, removalPolicy });
    const configuration = new msk.CfnConfiguration(this, 'BrokerConfiguration', {
      name: `${Stack.of(this).stackName}-brokers`,
      serverProperties: [
        'auto.create.topics.enable=false',
        `default.replication.factor=${props.replicationFactor}`,
        `min.insync.replicas=${props.minInsyncReplicas}`,
        'unclean.leader.election.enable=false',
      ].join('\n'),
    });
    const cluster = new msk.CfnCluster(this, 'Cluster', {
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
    cluster.applyRemovalPolicy(removalPolicy);
    return cluster.attrArn;
  }

  // MSK Serverless has no AWS::MSK::Topic: a custom resource creates and grows the topic with the admin API.
  private topicThroughAdminApi(props: KafkaClusterProps): CustomResource {
    const manager = new nodejs.NodejsFunction(this, 'TopicManager', {
      ...NODE_FUNCTION_DEFAULTS,
      entry: handlerEntry('topic-manager'),
      timeout: Duration.minutes(2),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      allowAllOutbound: false,
      logGroup: new logs.LogGroup(this, 'TopicManagerLogs', { retention: props.brokerLogRetentionDays, removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN }),
    });
    manager.connections.allowTo(this.securityGroup, ec2.Port.tcp(MSK_IAM_PORT), 'Kafka admin over IAM/TLS');
    iam.Grant.addToPrincipal({ grantee: manager, actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resourceArns: [this.clusterArn] });
    iam.Grant.addToPrincipal({
      grantee: manager,
      actions: ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic'],
      resourceArns: [this.resourceArn('topic', props.topicName)],
    });
    const provider = new cr.Provider(this, 'TopicProvider', { onEventHandler: manager });
    acknowledgeLambdaBasics(manager, 'AWSLambdaVPCAccessExecutionRole');
    acknowledgeLambdaBasics(provider.node.findChild('framework-onEvent') as Construct);
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(manager.node.defaultChild as CfnResource)}.Arn>:*]`,
      reason: 'The CDK custom resource framework may invoke only the topic manager (and its versions).',
    });
    return new CustomResource(this, 'Topic', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: { BootstrapBrokers: this.bootstrapBrokers, TopicName: props.topicName, Partitions: String(props.partitions) },
    });
  }

  // AWS::MSK::Cluster has no attribute for its brokers: ask the MSK API once the cluster exists.
  private lookUpBootstrapBrokers(): string {
    const call: cr.AwsSdkCall = {
      service: 'Kafka',
      action: 'getBootstrapBrokers',
      parameters: { ClusterArn: this.clusterArn },
      physicalResourceId: cr.PhysicalResourceId.of(this.clusterArn),
    };
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.clusterArn] }),
      installLatestAwsSdk: false,
    });
    // The lookup runs in CDK's singleton provider function, a child of the stack.
    acknowledgeLambdaBasics(Stack.of(this).node.findChild(`AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`));
    return lookup.getResponseField('BootstrapBrokerStringSaslIam');
  }

  /** `arn:…:kafka:region:account:<kind>/<cluster name>/<cluster uuid>/<name>` for topics and groups. */
  private resourceArn(kind: 'topic' | 'group', name: string): string {
    const clusterPath = Fn.select(1, Fn.split(':cluster/', this.clusterArn)); // "<name>/<uuid>"
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
      resourceArns: [this.clusterArn],
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
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resourceArns: [this.clusterArn] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resourceArns: [this.resourceArn('topic', this.topicName)] });
    return iam.Grant.addToPrincipal({ grantee: fn, actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], resourceArns: [this.resourceArn('group', group)] });
  }
}

/** Acknowledges the AWS-managed execution policies CDK gives a function it creates. */
function acknowledgeLambdaBasics(fn: Construct, ...extraPolicies: string[]): void {
  for (const policy of ['AWSLambdaBasicExecutionRole', ...extraPolicies]) {
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
      reason: 'The AWS-maintained minimum for a function to write its logs (and attach VPC interfaces, which need Resource *); its other permissions are scoped to this cluster.',
    });
  }
}
