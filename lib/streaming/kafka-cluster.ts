import { CfnResource, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { handlerEntry, NODE_FUNCTION_DEFAULTS } from '../functions/lambda-defaults.ts';
import { acknowledgeLambdaBasics } from './acknowledgements.ts';
import { BootstrapBrokers } from './bootstrap-brokers.ts';
import { KafkaTopic } from './kafka-topic.ts';

/** The port of MSK's IAM-authenticated TLS listener. */
export const MSK_IAM_PORT = 9098;

export interface KafkaClusterProps {
  /** Provisioned brokers with topics as `AWS::MSK::Topic`, or MSK Serverless with topics made through the Kafka admin API. @default DEFAULTS.mskMode ('provisioned') */
  readonly mskMode: 'provisioned' | 'serverless';
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Partitions of every topic. @default DEFAULTS.partitions */
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
 * Construct IDs of topics deployed before tables were declarations. A topic whose logical ID
 * changes is replaced, and creating a topic that exists fails the deploy: these keep theirs.
 */
const DEPLOYED_TOPIC_IDS: Readonly<Record<string, string>> = { 'device-logs': 'Topic' };

/**
 * An MSK cluster with IAM access control over TLS and encryption at rest. Provisioned (the
 * default): TLS inside the cluster, broker logs in CloudWatch, topics as `AWS::MSK::Topic`.
 * Serverless: topics made and grown by a custom resource through the Kafka admin API. Reach the
 * brokers through `connections` (port 9098); `addTopic` declares a topic, whose grants give exactly
 * the Kafka actions a client needs.
 */
export class KafkaCluster extends Construct implements ec2.IConnectable {
  readonly clusterArn: string;
  readonly securityGroup: ec2.SecurityGroup;
  /** The brokers' security group, with the IAM/TLS port as its default port. */
  readonly connections: ec2.Connections;
  /** Comma-separated `host:9098` list, resolved from the MSK API at deploy time (see `BootstrapBrokers`). */
  readonly bootstrapBrokers: string;
  private readonly props: KafkaClusterProps;
  private readonly removalPolicy: RemovalPolicy;
  private topicManager?: { readonly fn: nodejs.NodejsFunction; readonly serviceToken: string };

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    this.props = props;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.securityGroup = new ec2.SecurityGroup(this, 'BrokerSecurityGroup', {
      vpc: props.vpc,
      description: 'MSK brokers: reachable only from the pipeline Lambdas on the IAM/TLS port',
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(MSK_IAM_PORT) });
    if (props.mskMode === 'serverless') {
      const cluster = new msk.CfnServerlessCluster(this, 'ServerlessCluster', {
        clusterName: `${Stack.of(this).stackName}-kafka`,
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [{ subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds, securityGroups: [this.securityGroup.securityGroupId] }],
      });
      cluster.applyRemovalPolicy(this.removalPolicy);
      this.clusterArn = cluster.attrArn;
    } else {
      this.clusterArn = this.provisionedCluster(props);
    }
    // Neither AWS::MSK::Cluster nor AWS::MSK::ServerlessCluster has an attribute for its brokers: ask the MSK API.
    this.bootstrapBrokers = new BootstrapBrokers(this, 'BrokerLookup', {
      clusterArn: this.clusterArn,
      logRetentionDays: props.brokerLogRetentionDays,
      removalPolicy: this.removalPolicy,
    }).saslIam;
  }

  /** Declares `topicName` with the cluster's partitions, replication and retention. */
  addTopic(topicName: string): KafkaTopic {
    const id = DEPLOYED_TOPIC_IDS[topicName] ?? `Topic-${topicName}`;
    const { partitions, replicationFactor, minInsyncReplicas, topicRetentionHours } = this.props;
    return new KafkaTopic(this, id, {
      cluster: this,
      topicName,
      partitions,
      replicationFactor,
      minInsyncReplicas,
      topicRetentionHours,
      serviceToken: this.props.mskMode === 'serverless' ? this.topicManagerFor(topicName) : undefined,
      removalPolicy: this.removalPolicy,
    });
  }

  /** Lets `grantee` connect to the cluster and describe it, plus any other cluster-level `actions`. */
  grantConnect(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', ...actions], resourceArns: [this.clusterArn] });
  }

  /** `arn:…:kafka:region:account:<kind>/<cluster name>/<cluster uuid>/<name>` of a topic or a consumer group. */
  resourceArn(kind: 'topic' | 'group', name: string): string {
    const clusterPath = Fn.select(1, Fn.split(':cluster/', this.clusterArn)); // "<name>/<uuid>"
    return Stack.of(this).formatArn({ service: 'kafka', resource: kind, resourceName: `${clusterPath}/${name}` });
  }

  private provisionedCluster(props: KafkaClusterProps): string {
    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', { retention: props.brokerLogRetentionDays, removalPolicy: this.removalPolicy });
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
      // The latest revision, so a changed server property reaches the cluster.
      configurationInfo: { arn: configuration.attrArn, revision: configuration.attrLatestRevisionRevision },
      loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } } },
      enhancedMonitoring: 'DEFAULT',
    });
    cluster.applyRemovalPolicy(this.removalPolicy);
    return cluster.attrArn;
  }

  // MSK Serverless has no AWS::MSK::Topic: one custom resource provider creates and grows every topic with the admin API.
  private topicManagerFor(topicName: string): string {
    this.topicManager ??= this.createTopicManager();
    iam.Grant.addToPrincipal({
      grantee: this.topicManager.fn,
      actions: ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic'],
      resourceArns: [this.resourceArn('topic', topicName)],
    });
    return this.topicManager.serviceToken;
  }

  private createTopicManager() {
    const fn = new nodejs.NodejsFunction(this, 'TopicManager', {
      ...NODE_FUNCTION_DEFAULTS,
      entry: handlerEntry('topic-manager'),
      timeout: Duration.minutes(2),
      vpc: this.props.vpc,
      vpcSubnets: this.props.subnets,
      allowAllOutbound: false,
      logGroup: new logs.LogGroup(this, 'TopicManagerLogs', { retention: this.props.brokerLogRetentionDays, removalPolicy: this.removalPolicy }),
    });
    this.connections.allowDefaultPortFrom(fn, 'Kafka admin over IAM/TLS');
    this.grantConnect(fn);
    const provider = new cr.Provider(this, 'TopicProvider', { onEventHandler: fn });
    acknowledgeLambdaBasics(fn, 'AWSLambdaVPCAccessExecutionRole');
    acknowledgeLambdaBasics(provider.node.findChild('framework-onEvent') as Construct);
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn.node.defaultChild as CfnResource)}.Arn>:*]`,
      reason: 'The CDK custom resource framework may invoke only the topic manager (and its versions).',
    });
    return { fn, serviceToken: provider.serviceToken };
  }
}
