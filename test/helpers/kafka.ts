import { randomUUID } from 'node:crypto';
import { instancesChannel } from '@platformatic/kafka';
import { inject } from 'vitest';
import { ensureKafkaTopic, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';

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

/**
 * The connection a handler built for MSK (IAM over TLS), pointed at a test broker's SASL listener
 * instead: same topic and client id, OAUTHBEARER with the broker's unsecured validator, so the
 * handler's clients run the same SASL code path as on MSK. `tokenLifetimeMs` shortens the tokens.
 */
export function onTestBroker(connection: KafkaConnection, saslBootstrap: string, tokenLifetimeMs?: number): KafkaConnection {
  const auth = { mechanism: 'oauthbearer-unsecured', principal: connection.clientId, ...(tokenLifetimeMs === undefined ? {} : { tokenLifetimeMs }) } as const;
  return { ...connection, brokers: [saslBootstrap], auth, tls: false };
}

/** The topic's offsets now, read with a reader of its own. */
export async function topicOffsets(connection: KafkaConnection): Promise<PartitionOffsets[]> {
  const reader = await openKafkaReader(connection);
  try {
    return await reader.offsets();
  } finally {
    await reader.close();
  }
}

/** What happened to the SASL sessions of some clients' connections. */
export interface SaslSessions {
  /** Sessions extended with a fresh token before the broker would close them (KIP-368). */
  readonly reauthentications: number;
  /** Connections that failed, e.g. a reauthentication the broker refused: the session was dropped, not extended. */
  readonly failures: number;
  stop(): void;
}

/** Watches the SASL sessions of every connection of the clients named `clientId` created from now on. */
export function watchSaslSessions(clientId: string): SaslSessions {
  const owners = new Set<number>();
  const sessions = { reauthentications: 0, failures: 0, stop: () => instancesChannel.unsubscribe(onInstance) };
  function onInstance(message: unknown): void {
    const { type, instance } = message as { type: string; instance: { clientId?: string; instanceId: number; ownerId?: number; on(event: string, listener: () => void): void } };
    if (type !== 'connection' && instance.clientId === clientId) owners.add(instance.instanceId);
    if (type === 'connection' && instance.ownerId !== undefined && owners.has(instance.ownerId)) {
      instance.on('sasl:authentication:extended', () => sessions.reauthentications++);
      instance.on('error', () => sessions.failures++);
    }
  }
  instancesChannel.subscribe(onInstance);
  return sessions;
}
