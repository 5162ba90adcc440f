import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { ensureKafkaTopic } from '../adapters/kafka.ts';
import { requireString } from './environment.ts';

/** What the topic custom resource declares. */
interface TopicProperties {
  readonly BootstrapBrokers: string;
  readonly TopicName: string;
  readonly Partitions: string;
}

/** What CloudFormation gets back from the Provider framework. */
export interface TopicResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly Partitions: number };
}

/**
 * The custom resource that declares the topic where `AWS::MSK::Topic` does not apply (MSK
 * Serverless): creates it, or grows it to the declared partitions, through the Kafka admin API
 * with MSK IAM auth. Deleting the resource keeps the topic: its records may not be compacted yet.
 */
export function createTopicManagerHandler(ensureTopic: typeof ensureKafkaTopic = ensureKafkaTopic) {
  return async (event: CloudFormationCustomResourceEvent): Promise<TopicResponse> => {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const properties = event.ResourceProperties as unknown as TopicProperties;
    const partitions = Number(properties.Partitions);
    const result = await ensureTopic(
      { brokers: properties.BootstrapBrokers.split(','), topic: properties.TopicName, clientId: 'streamlake-topic-manager', auth: { mechanism: 'msk-iam', region: requireString(process.env, 'AWS_REGION') }, tls: true },
      { partitions, defaultPartitions: partitions },
    );
    return { PhysicalResourceId: properties.TopicName, Data: { Partitions: result.partitions } };
  };
}

export const handler = createTopicManagerHandler();
