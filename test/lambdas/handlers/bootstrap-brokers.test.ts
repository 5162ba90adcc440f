import { DescribeClusterV2Command, GetBootstrapBrokersCommand, KafkaClient, type Cluster } from '@aws-sdk/client-kafka';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClusterFailedError, ClusterNotActiveError, createBootstrapBrokersHandler, MissingIamBrokersError } from '../../../lambdas/handlers/bootstrap-brokers.ts';

const kafka = mockClient(KafkaClient);
const base = { ServiceToken: 'arn:token', ResponseURL: 'https://example.invalid', StackId: 'stack', RequestId: 'req', LogicalResourceId: 'BrokerLookup', ResourceType: 'Custom::KafkaBootstrapBrokers' };
const IAM_BROKERS = 'b-1.demo.kafka.eu-west-1.amazonaws.com:9098,b-2.demo.kafka.eu-west-1.amazonaws.com:9098';
const SERVERLESS_BROKERS = 'boot-abcd.c2.kafka-serverless.eu-west-1.amazonaws.com:9098';

const clusters = {
  provisioned: {
    arn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/streamlake-kafka/1111-2222',
    info: (State: Cluster['State'], StateInfo?: Cluster['StateInfo']): Cluster => ({ ClusterType: 'PROVISIONED', State, StateInfo, Provisioned: { BrokerNodeGroupInfo: { ClientSubnets: ['subnet-1'], InstanceType: 'kafka.t3.small' }, NumberOfBrokerNodes: 2, CurrentBrokerSoftwareInfo: { KafkaVersion: '3.6.0' } } }),
    brokers: { BootstrapBrokerStringSaslIam: IAM_BROKERS },
  },
  serverless: {
    arn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/streamlake-kafka/3333-4444-s2',
    info: (State: Cluster['State'], StateInfo?: Cluster['StateInfo']): Cluster => ({ ClusterType: 'SERVERLESS', State, StateInfo, Serverless: { VpcConfigs: [{ SubnetIds: ['subnet-1'] }] } }),
    brokers: { BootstrapBrokerStringSaslIam: SERVERLESS_BROKERS },
  },
} as const;

function event(RequestType: 'Create' | 'Update' | 'Delete', ClusterArn: string): CloudFormationCustomResourceEvent {
  const ResourceProperties = { ServiceToken: 'arn:token', ClusterArn };
  return { ...base, RequestType, PhysicalResourceId: ClusterArn, ResourceProperties, OldResourceProperties: ResourceProperties } as CloudFormationCustomResourceEvent;
}

/** A handler on a fake clock: each sleep moves the clock; the function has `remainingMs` left. */
function handlerWithClock(remainingMs = 600_000) {
  let clock = 0;
  const sleeps: number[] = [];
  const handler = createBootstrapBrokersHandler({
    sleep: async (ms) => void (sleeps.push(ms), (clock += ms)),
    now: () => clock,
    pollIntervalMs: 15_000,
    marginMs: 20_000,
  });
  return { sleeps, invoke: (e: CloudFormationCustomResourceEvent) => handler(e, { getRemainingTimeInMillis: () => remainingMs }) };
}

/** The commands the handler sent, in order, with their inputs. */
function sentCommands() {
  return kafka.calls().map((call) => [call.args[0].constructor.name, call.args[0].input]);
}

describe('bootstrap brokers custom resource', () => {
  beforeEach(() => kafka.reset());
  afterEach(() => kafka.reset());

  describe.each(['provisioned', 'serverless'] as const)('on a %s cluster', (kind) => {
    const cluster = clusters[kind];

    it('waits while the cluster is CREATING, then returns its SASL/IAM brokers once ACTIVE', async () => {
      kafka
        .on(DescribeClusterV2Command)
        .resolvesOnce({ ClusterInfo: cluster.info('CREATING') })
        .resolvesOnce({ ClusterInfo: cluster.info('CREATING') })
        .resolves({ ClusterInfo: cluster.info('ACTIVE') });
      kafka.on(GetBootstrapBrokersCommand).resolves({ ...cluster.brokers, BootstrapBrokerStringTls: 'b-1:9094' });
      const { invoke, sleeps } = handlerWithClock();

      const response = await invoke(event('Create', cluster.arn));
      expect(response).toEqual({ PhysicalResourceId: cluster.arn, Data: { BootstrapBrokerStringSaslIam: cluster.brokers.BootstrapBrokerStringSaslIam } });
      expect(sentCommands()).toEqual([
        ['DescribeClusterV2Command', { ClusterArn: cluster.arn }],
        ['DescribeClusterV2Command', { ClusterArn: cluster.arn }],
        ['DescribeClusterV2Command', { ClusterArn: cluster.arn }],
        ['GetBootstrapBrokersCommand', { ClusterArn: cluster.arn }],
      ]);
      expect(sleeps).toEqual([15_000, 15_000]);
    });

    it('looks once and answers at once on an update of an ACTIVE cluster', async () => {
      kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster.info('ACTIVE') });
      kafka.on(GetBootstrapBrokersCommand).resolves(cluster.brokers);
      const { invoke, sleeps } = handlerWithClock();

      expect(await invoke(event('Update', cluster.arn))).toEqual({ PhysicalResourceId: cluster.arn, Data: { BootstrapBrokerStringSaslIam: cluster.brokers.BootstrapBrokerStringSaslIam } });
      expect(sentCommands()).toEqual([
        ['DescribeClusterV2Command', { ClusterArn: cluster.arn }],
        ['GetBootstrapBrokersCommand', { ClusterArn: cluster.arn }],
      ]);
      expect(sleeps).toEqual([]);
    });

    it('fails at once, naming the cluster and its state reason, when the cluster FAILED', async () => {
      kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster.info('FAILED', { Code: 'InsufficientCapacity', Message: 'no capacity in eu-west-1a' }) });
      const { invoke, sleeps } = handlerWithClock();

      const failure = invoke(event('Create', cluster.arn));
      await expect(failure).rejects.toThrow(ClusterFailedError);
      await expect(failure).rejects.toThrow(`MSK cluster ${cluster.arn} is FAILED: InsufficientCapacity no capacity in eu-west-1a`);
      expect(sentCommands()).toEqual([['DescribeClusterV2Command', { ClusterArn: cluster.arn }]]);
      expect(sleeps).toEqual([]);
    });

    it('fails with the way out when the cluster has no SASL/IAM brokers', async () => {
      kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster.info('ACTIVE') });
      kafka.on(GetBootstrapBrokersCommand).resolves({ BootstrapBrokerStringTls: 'b-1:9094' });
      const { invoke } = handlerWithClock();

      const failure = invoke(event('Create', cluster.arn));
      await expect(failure).rejects.toThrow(MissingIamBrokersError);
      await expect(failure).rejects.toThrow(/has no SASL\/IAM bootstrap brokers; turn on IAM client authentication/);
      expect(sentCommands()).toEqual([
        ['DescribeClusterV2Command', { ClusterArn: cluster.arn }],
        ['GetBootstrapBrokersCommand', { ClusterArn: cluster.arn }],
      ]);
    });
  });

  it('gives up before the function times out when the cluster never becomes ACTIVE', async () => {
    const cluster = clusters.provisioned;
    kafka.on(DescribeClusterV2Command).resolves({ ClusterInfo: cluster.info('UPDATING') });
    // 80 s left, 20 s kept back to answer: polls at 0, 15, 30, 45 and 60 s; one more wait would pass the 60 s deadline.
    const { invoke, sleeps } = handlerWithClock(80_000);

    await expect(invoke(event('Create', cluster.arn))).rejects.toThrow(new ClusterNotActiveError(`MSK cluster ${cluster.arn} is still UPDATING, not ACTIVE; deploy again once the MSK console shows it Active.`));
    expect(sleeps).toEqual([15_000, 15_000, 15_000, 15_000]);
    expect(kafka.commandCalls(DescribeClusterV2Command)).toHaveLength(5);
    expect(kafka.commandCalls(GetBootstrapBrokersCommand)).toHaveLength(0);
  });

  it('touches nothing when the resource is deleted', async () => {
    const { invoke } = handlerWithClock();
    expect(await invoke(event('Delete', clusters.serverless.arn))).toEqual({ PhysicalResourceId: clusters.serverless.arn });
    expect(kafka.calls()).toHaveLength(0);
  });
});
