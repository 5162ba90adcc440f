import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaConnection, KafkaTopicShape } from '../../../lambdas/adapters/kafka.ts';
import { createTopicManagerHandler } from '../../../lambdas/handlers/topic-manager.ts';

const base = { ServiceToken: 'arn:token', ResponseURL: 'https://example.invalid', StackId: 'stack', RequestId: 'req', LogicalResourceId: 'Topic', ResourceType: 'Custom::KafkaTopic' };
const properties = { ServiceToken: 'arn:token', BootstrapBrokers: 'b-1:9098,b-2:9098', TopicName: 'device-logs', Partitions: '12' };

describe('topic manager custom resource', () => {
  const saved = process.env;
  afterEach(() => (process.env = saved));

  it('creates or grows the topic to the declared partitions through MSK IAM', async () => {
    process.env = { ...saved, AWS_REGION: 'eu-west-1' };
    const calls: [KafkaConnection, KafkaTopicShape][] = [];
    const handler = createTopicManagerHandler(async (connection, shape) => (calls.push([connection, shape]), { clusterId: 'c', partitions: 12 }));
    for (const RequestType of ['Create', 'Update'] as const) {
      const event = { ...base, RequestType, PhysicalResourceId: 'device-logs', ResourceProperties: properties, OldResourceProperties: properties } as CloudFormationCustomResourceEvent;
      expect(await handler(event)).toEqual({ PhysicalResourceId: 'device-logs', Data: { Partitions: 12 } });
    }
    expect(calls[0]).toEqual([
      { brokers: ['b-1:9098', 'b-2:9098'], topic: 'device-logs', clientId: 'streamlake-topic-manager', auth: { mechanism: 'msk-iam', region: 'eu-west-1' }, tls: true },
      { partitions: 12, defaultPartitions: 12 },
    ]);
    expect(calls).toHaveLength(2);
  });

  it('keeps the topic when the resource is deleted: its records may not be compacted yet', async () => {
    const handler = createTopicManagerHandler(async () => {
      throw new Error('must not touch the cluster');
    });
    const event = { ...base, RequestType: 'Delete', PhysicalResourceId: 'device-logs', ResourceProperties: properties } as CloudFormationCustomResourceEvent;
    expect(await handler(event)).toEqual({ PhysicalResourceId: 'device-logs' });
  });
});
