import { CustomResource, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as msk from 'aws-cdk-lib/aws-msk';
import { Construct } from 'constructs';
import type { KafkaCluster } from './kafka-cluster.ts';

export interface KafkaTopicProps {
  /** The cluster the topic lives on. Required. */
  readonly cluster: KafkaCluster;
  /** The topic's name, from its table's declaration. Required. */
  readonly topicName: string;
  /** @default DEFAULTS.partitions */
  readonly partitions: number;
  /** @default DEFAULTS.replicationFactor */
  readonly replicationFactor: number;
  /** @default DEFAULTS.minInsyncReplicas */
  readonly minInsyncReplicas: number;
  /** @default DEFAULTS.topicRetentionHours */
  readonly topicRetentionHours: number;
  /** Service token of the admin-API topic provider (MSK Serverless). @default none: the topic is an `AWS::MSK::Topic` */
  readonly serviceToken?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One Kafka topic declared as code: an `AWS::MSK::Topic` on provisioned MSK, a `Custom::KafkaTopic`
 * made through the Kafka admin API on MSK Serverless. Its grants give a principal exactly the
 * Kafka actions a producer or a consumer of this topic needs (network access is the cluster's
 * `connections`). Made by `KafkaCluster.addTopic`.
 */
export class KafkaTopic extends Construct {
  readonly topicName: string;
  /** `arn:…:topic/<cluster>/<uuid>/<topic>`, what the topic's IAM statements name. */
  readonly topicArn: string;
  readonly resource: msk.CfnTopic | CustomResource;
  private readonly cluster: KafkaCluster;

  constructor(scope: Construct, id: string, props: KafkaTopicProps) {
    super(scope, id);
    this.cluster = props.cluster;
    this.topicName = props.topicName;
    this.topicArn = props.cluster.resourceArn('topic', props.topicName);
    // The resource is this construct's `Default` child, so its logical ID is the one of the construct's path.
    this.resource = props.serviceToken
      ? new CustomResource(this, 'Default', {
          serviceToken: props.serviceToken,
          resourceType: 'Custom::KafkaTopic',
          properties: { BootstrapBrokers: props.cluster.bootstrapBrokers, TopicName: props.topicName, Partitions: String(props.partitions) },
        })
      : new msk.CfnTopic(this, 'Default', {
          clusterArn: props.cluster.clusterArn,
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
    this.resource.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
  }

  /** Lets `grantee` write this topic idempotently (acks=all producer with idempotence), nothing else. */
  grantProduce(grantee: iam.IGrantable): iam.Grant {
    return this.cluster
      .grantConnect(grantee, 'kafka-cluster:WriteDataIdempotently')
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], resourceArns: [this.topicArn] }));
  }

  /**
   * Lets `grantee` read this topic and commit the offsets of the consumer groups `groups` (names,
   * or IAM patterns such as `name.shard-*`), nothing else.
   */
  grantConsume(grantee: iam.IGrantable, ...groups: [string, ...string[]]): iam.Grant {
    const principal = grantee.grantPrincipal;
    for (const group of groups.filter((name) => name.includes('*'))) {
      if (!Construct.isConstruct(principal)) break;
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${flattened(Stack.of(this).resolve(this.cluster.resourceArn('group', group)))}]`,
        reason: `Only the consumer groups named ${group} on this cluster (a compactor's shards, one group each, as many as compactorShards), no other group.`,
      });
    }
    return this.cluster
      .grantConnect(grantee)
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resourceArns: [this.topicArn] }))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], resourceArns: groups.map((group) => this.cluster.resourceArn('group', group)) }));
  }
}

/** A resolved ARN as cdk-nag names it in a finding: joined parts, `<Ref>`, `<Logical.Attribute>`, any other function as JSON. */
function flattened(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const fn = node as Record<string, unknown>;
  if (Array.isArray(fn['Fn::Join'])) {
    const [delimiter, parts] = fn['Fn::Join'] as [string, unknown[]];
    return parts.map(flattened).join(delimiter);
  }
  if (Array.isArray(fn['Fn::GetAtt'])) return `<${(fn['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof fn.Ref === 'string') return `<${fn.Ref}>`;
  return JSON.stringify(node);
}
