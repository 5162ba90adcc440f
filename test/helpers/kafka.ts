import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { ensureKafkaTopic, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';

/** A connection to the integration run's broker, over PLAINTEXT or over SASL/OAUTHBEARER. */
export function kafkaConnection(topic: string, listener: 'plaintext' | 'sasl' = 'plaintext'): KafkaConnection {
  const kafka = inject('kafka');
  return listener === 'plaintext'
    ? { brokers: [kafka.bootstrap], topic, clientId: 'streamlake-test', auth: { mechanism: 'none' }, tls: false }
    : { brokers: [kafka.saslBootstrap], topic, clientId: 'streamlake-test', auth: { mechanism: 'oauthbearer-unsecured', principal: 'streamlake-test' }, tls: false };
}

/** Creates a topic no other test uses and returns a connection to it. */
export async function freshKafkaTopic(partitions: number, listener: 'plaintext' | 'sasl' = 'plaintext'): Promise<KafkaConnection> {
  const connection = kafkaConnection(`test-${randomUUID().slice(0, 8)}`, listener);
  await ensureKafkaTopic(connection, { partitions, defaultPartitions: partitions });
  return connection;
}
