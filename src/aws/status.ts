import { CloudFormationClient, ListStackResourcesCommand, type StackResourceSummary } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { DescribeClusterV2Command, GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { S3ObjectStore } from '../../lambdas/adapters/s3-store.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { readTableCheckpoints } from '../local/shard-status.ts';
import { statusFromShards, type TableStatus } from '../local/status.ts';
import { requireOutput, stackOutputs } from './stack.ts';

/** The MSK cluster as `streamlake status --aws` reports it. */
export interface ClusterStatus {
  readonly name: string;
  readonly arn: string;
  /** ACTIVE, CREATING, UPDATING, DELETING, FAILED, HEALING, MAINTENANCE, REBOOTING_BROKER. */
  readonly state: string;
  readonly stateInfo: string | null;
  readonly type: string;
  readonly kafkaVersion: string | null;
  readonly brokers: number | null;
  /** EBS storage per broker, GiB (null on MSK Serverless). */
  readonly storageGiB: number | null;
  /** Only an ACTIVE cluster has them. */
  readonly bootstrapBrokers: string | null;
}

export interface AlarmStatus {
  readonly name: string;
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state: string;
  readonly reason: string;
  readonly since: string | null;
}

export interface AwsStatus {
  readonly stack: string;
  readonly lakeBucket: string;
  readonly cluster: ClusterStatus;
  readonly alarms: AlarmStatus[];
  readonly deadLetterQueue: string | null;
  /** ApproximateNumberOfMessages of the dead-letter queue; null when the stack has none. */
  readonly deadLetters: number | null;
  readonly tables: TableStatus[];
}

/** The AWS clients status reads with; built from the environment's region and credentials unless given. */
export interface AwsStatusClients {
  readonly cloudFormation: CloudFormationClient;
  readonly kafka: KafkaClient;
  readonly cloudWatch: CloudWatchClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
}

export function defaultClients(): AwsStatusClients {
  return { cloudFormation: new CloudFormationClient({}), kafka: new KafkaClient({}), cloudWatch: new CloudWatchClient({}), sqs: new SQSClient({}), s3: new S3Client({}) };
}

/**
 * The deployed pipeline's health: the stack's outputs name the lake bucket and the MSK cluster;
 * its resources name the alarms and the dead-letter queue; each table's checkpoints in the bucket
 * (of every shard generation, listed) give its last run, a pending claim, a handover under way and
 * the lag as of the last runs.
 */
export async function awsStatus(options: { stack: string; tables: readonly TableSpec[]; now: number }, clients: AwsStatusClients = defaultClients()): Promise<AwsStatus> {
  const outputs = await stackOutputs(clients.cloudFormation, options.stack);
  const lakeBucket = requireOutput(outputs, 'LakeBucket', options.stack);
  const clusterArn = requireOutput(outputs, 'KafkaClusterArn', options.stack);
  const resources = await stackResources(clients.cloudFormation, options.stack);
  const alarmNames = resources.filter((r) => r.ResourceType === 'AWS::CloudWatch::Alarm' && r.PhysicalResourceId).map((r) => r.PhysicalResourceId!);
  const queue = outputs.get('DeadLetterQueueUrl') ?? resources.find((r) => r.ResourceType === 'AWS::SQS::Queue' && /DeadLetter/.test(r.LogicalResourceId ?? ''))?.PhysicalResourceId ?? null;
  const [cluster, alarms, deadLetters, tables] = await Promise.all([
    clusterStatus(clients.kafka, clusterArn),
    alarmStates(clients.cloudWatch, alarmNames),
    queue === null ? Promise.resolve(null) : queueDepth(clients.sqs, queue),
    Promise.all(options.tables.map((table) => tableStatus(new S3ObjectStore(clients.s3, lakeBucket), table))),
  ]);
  return { stack: options.stack, lakeBucket, cluster, alarms, deadLetterQueue: queue, deadLetters, tables };
}

async function stackResources(client: CloudFormationClient, stack: string): Promise<StackResourceSummary[]> {
  const all: StackResourceSummary[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListStackResourcesCommand({ StackName: stack, NextToken: token }));
    all.push(...(page.StackResourceSummaries ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}

async function clusterStatus(client: KafkaClient, arn: string): Promise<ClusterStatus> {
  const info = (await client.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
  const state = info?.State ?? 'UNKNOWN';
  const provisioned = info?.Provisioned;
  let bootstrapBrokers: string | null = null;
  if (state === 'ACTIVE') {
    const b = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }));
    bootstrapBrokers = b.BootstrapBrokerStringSaslIam ?? b.BootstrapBrokerStringTls ?? b.BootstrapBrokerStringSaslScram ?? b.BootstrapBrokerString ?? null;
  }
  const stateInfo = info?.StateInfo;
  return {
    name: info?.ClusterName ?? arn,
    arn,
    state,
    stateInfo: stateInfo?.Code || stateInfo?.Message ? [stateInfo.Code, stateInfo.Message].filter(Boolean).join(': ') : null,
    type: info?.ClusterType ?? 'UNKNOWN',
    kafkaVersion: provisioned?.CurrentBrokerSoftwareInfo?.KafkaVersion ?? null,
    brokers: provisioned?.NumberOfBrokerNodes ?? null,
    storageGiB: provisioned?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize ?? null,
    bootstrapBrokers,
  };
}

// DescribeAlarms takes at most 100 names a call.
async function alarmStates(client: CloudWatchClient, names: readonly string[]): Promise<AlarmStatus[]> {
  const alarms: MetricAlarm[] = [];
  for (let i = 0; i < names.length; i += 100) {
    const response = await client.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), AlarmTypes: ['MetricAlarm'] }));
    alarms.push(...(response.MetricAlarms ?? []));
  }
  return alarms
    .map((a) => ({ name: a.AlarmName ?? '?', state: a.StateValue ?? 'UNKNOWN', reason: a.StateReason ?? '', since: a.StateUpdatedTimestamp?.toISOString() ?? null }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function queueDepth(client: SQSClient, url: string): Promise<number> {
  const response = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(response.Attributes?.['ApproximateNumberOfMessages'] ?? 0);
}

// The shard layout (absent: one shard) and every checkpoint of the table's compactor group, of any generation.
async function tableStatus(store: S3ObjectStore, table: TableSpec): Promise<TableStatus> {
  const checkpoints = await readTableCheckpoints(store, table.name);
  // The newest event time and the quarantine by reason need a query of the lake (Athena): not read here.
  return { ...statusFromShards(table.name, checkpoints, undefined), newestEventTime: null, quarantined24h: null };
}
