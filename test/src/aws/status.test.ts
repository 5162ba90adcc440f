import { CloudFormationClient, DescribeStacksCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { DescribeClusterV2Command, GetBootstrapBrokersCommand, KafkaClient, type Cluster } from '@aws-sdk/client-kafka';
import { GetObjectCommand, ListObjectsV2Command, S3Client, type GetObjectCommandInput, type ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serializeCheckpoint, type CheckpointState } from '../../../lambdas/core/checkpoint.ts';
import { StackNotFoundError } from '../../../src/aws/stack.ts';
import { UsageError } from '../../../src/cli/errors.ts';
import { NeedsAttentionError, statusCommand, type StatusFlags } from '../../../src/cli/status-command.ts';
import { STATUS_DEFAULTS } from '../../../src/local/status-thresholds.ts';
import { DEFAULT_TABLES_DIR } from '../../../src/local/tables-dir.ts';
import { noSuchKey, objectBody } from '../../helpers/fake-s3.ts';

const cfn = mockClient(CloudFormationClient);
const kafka = mockClient(KafkaClient);
const cloudWatch = mockClient(CloudWatchClient);
const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);

const STACK = 'streamlake';
const BUCKET = 'streamlake-lakebucket-abc123';
const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/streamlake-kafka/1111-2222';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/streamlake-FunctionsDeadLetterQueue-XYZ';
const ALARMS = ['streamlake-MonitoringDeadLetters-AAA', 'streamlake-MonitoringDeviceLogsCompactorErrors-BBB'];
const BROKERS = 'b-1.demo.kafka.eu-west-1.amazonaws.com:9098,b-2.demo.kafka.eu-west-1.amazonaws.com:9098';
const NOW = Date.now();

const flags: StatusFlags = { dataDir: './.streamlake', tables: DEFAULT_TABLES_DIR, aws: true, json: true, ...STATUS_DEFAULTS };

function cluster(State: Cluster['State'], StateInfo?: Cluster['StateInfo']): Cluster {
  return {
    ClusterName: 'streamlake-kafka', ClusterType: 'PROVISIONED', State, StateInfo,
    Provisioned: { BrokerNodeGroupInfo: { ClientSubnets: ['subnet-1'], InstanceType: 'kafka.t3.small', StorageInfo: { EbsStorageInfo: { VolumeSize: 20 } } }, NumberOfBrokerNodes: 2, CurrentBrokerSoftwareInfo: { KafkaVersion: '3.9.x' } },
  };
}

function alarm(AlarmName: string, StateValue: MetricAlarm['StateValue'], StateReason = 'Threshold Crossed: no datapoints were received'): MetricAlarm {
  return { AlarmName, StateValue, StateReason, StateUpdatedTimestamp: new Date(NOW - 3_600_000) };
}

// The lake bucket's objects, by key: what GetObject and ListObjectsV2 answer from.
const bucket = new Map<string, Uint8Array>();

function putCheckpoint(group: string, state: CheckpointState): void {
  bucket.set(`checkpoints/device_logs/${group}.json`, serializeCheckpoint(state));
}

function putShardLayout(layout: string): void {
  bucket.set('checkpoints/device_logs/streamlake-compactor.shard-layout', new TextEncoder().encode(layout));
}

function getObject(input: GetObjectCommandInput) {
  const object = input.Bucket === BUCKET ? bucket.get(input.Key!) : undefined;
  if (object === undefined) throw noSuchKey();
  return { Body: objectBody(object), ETag: `"${object.byteLength}"` };
}

function listObjects(input: ListObjectsV2CommandInput) {
  return { Contents: [...bucket.keys()].filter((key) => input.Bucket === BUCKET && key.startsWith(input.Prefix ?? '')).sort().map((Key) => ({ Key })), IsTruncated: false };
}

const committed: CheckpointState = {
  format: 1, sequence: 42, offsets: { 0: 1000, 1: 990 }, pending: null,
  lastRun: { sequence: 42, committedAt: NOW - 120_000, records: 1990, rows: 1988, quarantined: 2, lag: { 0: 3, 1: 0 }, unknownFields: [] },
};

// Runs the command, returns what it printed as JSON and the error it threw (undefined: exit 0).
async function run(extra: Partial<StatusFlags> = {}): Promise<{ out: Record<string, unknown> | undefined; error: Error | undefined }> {
  let printed = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((printed += String(chunk)), true));
  try {
    await statusCommand({ ...flags, ...extra });
    return { out: JSON.parse(printed) as Record<string, unknown>, error: undefined };
  } catch (error) {
    return { out: printed ? (JSON.parse(printed) as Record<string, unknown>) : undefined, error: error as Error };
  } finally {
    write.mockRestore();
  }
}

describe('streamlake status --aws', () => {
  beforeEach(() => {
    cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [{ StackName: STACK, CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: [{ OutputKey: 'LakeBucket', OutputValue: BUCKET }, { OutputKey: 'KafkaClusterArn', OutputValue: CLUSTER_ARN }] }],
    });
    cfn.on(ListStackResourcesCommand, { StackName: STACK }).resolves({
      StackResourceSummaries: [
        ...ALARMS.map((name, i) => ({ LogicalResourceId: `Alarm${i}`, PhysicalResourceId: name, ResourceType: 'AWS::CloudWatch::Alarm', ResourceStatus: 'CREATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() })),
        { LogicalResourceId: 'FunctionsDeadLetterQueue1234', PhysicalResourceId: QUEUE_URL, ResourceType: 'AWS::SQS::Queue', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
      ],
    });
    kafka.on(DescribeClusterV2Command, { ClusterArn: CLUSTER_ARN }).resolves({ ClusterInfo: cluster('ACTIVE') });
    kafka.on(GetBootstrapBrokersCommand, { ClusterArn: CLUSTER_ARN }).resolves({ BootstrapBrokerStringSaslIam: BROKERS });
    cloudWatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: ALARMS.map((name) => alarm(name, 'OK', 'Threshold Crossed: 1 datapoint was not greater than the threshold')) });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
    s3.on(GetObjectCommand).callsFake(getObject).on(ListObjectsV2Command).callsFake(listObjects);
    putCheckpoint('streamlake-compactor', committed);
  });
  afterEach(() => {
    for (const mock of [cfn, kafka, cloudWatch, sqs, s3]) mock.reset();
    bucket.clear();
  });

  it('is healthy with an ACTIVE cluster, every alarm OK and an empty dead-letter queue; reads the names it needs from the stack', async () => {
    const { out, error } = await run();
    expect(error).toBeUndefined();
    expect(out).toMatchObject({
      healthy: true,
      reasons: [],
      cluster: { name: 'streamlake-kafka', state: 'ACTIVE', kafkaVersion: '3.9.x', brokers: 2, storageGiB: 20, bootstrapBrokers: BROKERS },
      alarms: ALARMS.map((name) => ({ name, state: 'OK' })),
      deadLetters: 0,
      tables: [{ table: 'device_logs', sequence: 42, lastRunAt: new Date(NOW - 120_000).toISOString(), pendingSince: null, lag: { source: 'last-run', partitions: { 0: 3, 1: 0 }, total: 3 }, newestEventTime: null, quarantined24h: null }],
    });
    expect(cloudWatch.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input).toEqual({ AlarmNames: ALARMS, AlarmTypes: ['MetricAlarm'] });
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]!.args[0].input).toEqual({ QueueUrl: QUEUE_URL, AttributeNames: ['ApproximateNumberOfMessages'] });
    expect(kafka.commandCalls(DescribeClusterV2Command)[0]!.args[0].input).toEqual({ ClusterArn: CLUSTER_ARN });
  });

  it('needs attention (exit 1) when an alarm is in ALARM, naming it and its reason', async () => {
    cloudWatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm(ALARMS[0]!, 'ALARM', 'Threshold Crossed: 1 datapoint [3.0] was >= 1.0'), alarm(ALARMS[1]!, 'OK')] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(error).not.toBeInstanceOf(UsageError);
    expect(out).toMatchObject({
      healthy: false,
      reasons: [`alarm ${ALARMS[0]} is in ALARM: Threshold Crossed: 1 datapoint [3.0] was >= 1.0`, `3 failed invocations wait in the dead-letter queue ${QUEUE_URL}`],
    });
  });

  it('needs attention while the cluster is CREATING, and reads no bootstrap brokers from it yet', async () => {
    kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster('CREATING') });
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(out).toMatchObject({ healthy: false, reasons: ['MSK cluster streamlake-kafka is CREATING'], cluster: { state: 'CREATING', bootstrapBrokers: null } });
    expect(kafka.commandCalls(GetBootstrapBrokersCommand)).toHaveLength(0);
  });

  it('needs attention when the cluster FAILED, with the state info MSK gives', async () => {
    kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster('FAILED', { Code: 'InsufficientCapacity', Message: 'no kafka.t3.small capacity in eu-west-1c' }) });
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(out).toMatchObject({ reasons: ['MSK cluster streamlake-kafka is FAILED: InsufficientCapacity: no kafka.t3.small capacity in eu-west-1c'] });
  });

  it('reports a stuck claim in the S3 checkpoint', async () => {
    const startedAt = NOW - 40 * 60_000;
    putCheckpoint('streamlake-compactor', { ...committed, pending: { sequence: 43, runId: 'abc', ranges: [{ partition: 0, from: 1000, to: 1010 }], startedAt } });
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(out).toMatchObject({ tables: [{ pendingSince: new Date(startedAt).toISOString(), pendingSequence: 43 }], reasons: [expect.stringMatching(/^device_logs: run 43 was claimed 40m \d+s ago and has not committed/)] });
  });

  it('reads a sharded table by its shard layout: lag summed over the shards, a stuck claim in one named with its shard, a row per shard', async () => {
    const startedAt = NOW - 40 * 60_000;
    const shardState = (i: number, lag: number, pending = false): CheckpointState => ({
      format: 1, sequence: 10 + i, offsets: { [i]: 100 }, pending: pending ? { sequence: 11 + i, runId: 'abc', ranges: [{ partition: i, from: 100, to: 110 }], startedAt } : null, generation: 1,
      lastRun: { sequence: 10 + i, committedAt: NOW - 60_000 * (i + 1), records: 100, rows: 99, quarantined: 1, lag: { [i]: lag }, unknownFields: [] },
    });
    bucket.clear();
    putShardLayout('{"count":3,"generation":1}');
    for (const i of [0, 1, 2]) putCheckpoint(`streamlake-compactor.shard-${i}-of-3`, shardState(i, i * 5, i === 1));
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(out).toMatchObject({
      tables: [{ sequence: 12, lag: { source: 'last-run', partitions: { 0: 0, 1: 5, 2: 10 }, total: 15 }, lastRun: { records: 300, rows: 297, quarantined: 3 }, pendingSequence: 12, shards: [{ shard: 0, of: 3 }, { shard: 1, of: 3, pendingSequence: 12 }, { shard: 2, of: 3 }] }],
      reasons: [expect.stringMatching(/^device_logs: run 12 of shard 1 was claimed 40m \d+s ago and has not committed/)],
    });
  });

  it('shows a handover from one shard to 3 that waits for the single compactor\'s claim, stuck after --stuck-after-minutes, and the lag its last run left', async () => {
    const claim = (minutesAgo: number): CheckpointState => ({ ...committed, lastRun: { ...committed.lastRun!, lag: { 0: 3, 1: 0, 2: 7 } }, pending: { sequence: 43, runId: 'abc', ranges: [{ partition: 0, from: 1000, to: 1010 }], startedAt: NOW - minutesAgo * 60_000 } });
    putShardLayout('{"count":3,"generation":1}');
    putCheckpoint('streamlake-compactor', claim(40));
    const { out, error } = await run();
    expect(error).toBeInstanceOf(NeedsAttentionError);
    expect(out).toMatchObject({
      tables: [{
        pendingSince: null, lag: { source: 'last-run', partitions: { 0: 3, 1: 0, 2: 7 }, total: 10 },
        handover: { from: 1, to: 3, waiting: [0, 1, 2], claims: [{ shard: 0, of: 1, pendingSequence: 43, pendingSince: new Date(NOW - 40 * 60_000).toISOString() }] },
      }],
      reasons: [expect.stringMatching(/^device_logs: run 43 of shard 0 of 1 was claimed 40m \d+s ago and has not committed \(more than 10 min\): the handover to 3 shards waits for it/)],
    });
    putCheckpoint('streamlake-compactor', claim(5));
    const running = await run();
    expect(running.error).toBeUndefined();
    expect(running.out).toMatchObject({ healthy: true, tables: [{ handover: { from: 1, to: 3, claims: [{ pendingSequence: 43 }] } }] });
  });

  it('treats a table without a checkpoint object as not compacted yet', async () => {
    bucket.clear();
    const { out, error } = await run();
    expect(error).toBeUndefined();
    expect(out).toMatchObject({ tables: [{ sequence: 0, lastRunAt: null, pendingSince: null, lag: { source: 'unknown', total: null } }] });
  });

  it('fails with a usage error (exit 2) naming the stack when it does not exist, printing nothing', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id streamlake-prod does not exist'), { name: 'ValidationError' }));
    const { out, error } = await run({ stack: 'streamlake-prod' });
    expect(out).toBeUndefined();
    expect(error).toBeInstanceOf(StackNotFoundError);
    expect(error).toBeInstanceOf(UsageError);
    expect(error!.message).toMatch(/^stack streamlake-prod does not exist in this account and region .*: pass --stack/);
    expect(kafka.commandCalls(DescribeClusterV2Command)).toHaveLength(0);
  });
});
