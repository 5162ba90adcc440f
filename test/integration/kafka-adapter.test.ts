import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, instancesChannel, type Connection } from '@platformatic/kafka';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { partitionForKey } from '../../lambdas/adapters/kafka-partitioner.ts';
import { ensureKafkaTopic, KafkaTopicError } from '../../lambdas/adapters/kafka.ts';
import { unsecuredJwt } from '../../lambdas/adapters/kafka-auth.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import type { OutgoingRecord, TopicReader, TopicRecord } from '../../lambdas/ports/topic.ts';
import { freshKafkaTopic, kafkaConnection } from '../helpers/kafka.ts';

const encoder = new TextEncoder();
const admin = new Admin({ clientId: 'streamlake-test-admin', bootstrapBrokers: [inject('kafka').bootstrap] });

afterAll(() => admin.close());

function records(key: string, count: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => ({ key, value: encoder.encode(`${key}:${i}`), timestamp: Date.now() }));
}

async function readRange(reader: TopicReader, partition: number, from: number, to: number): Promise<TopicRecord[]> {
  const read: TopicRecord[] = [];
  for await (const batch of reader.read(partition, from, to)) read.push(...batch.records);
  return read;
}

describe('Kafka topic reader', () => {
  it('publishes the compactor group offsets where Kafka tooling reads lag', async () => {
    const connection = await freshKafkaTopic(3);
    const reader = await openKafkaReader(connection);
    try {
      await reader.commitOffsets('streamlake-compactor-test', new Map([[0, 7], [2, 3]]));
      const [group] = await admin.listConsumerGroupOffsets({ groups: ['streamlake-compactor-test'] });
      const committed = group!.topics.find((t) => t.name === connection.topic)!.partitions.map((p) => [p.partitionIndex, p.committedOffset]);
      expect(committed.sort()).toEqual([[0, 7n], [2, 3n]]);
    } finally {
      await reader.close();
    }
  });

  it('ends a read at once where retention deleted the next records, for the caller to prove the gap', async () => {
    const connection = await freshKafkaTopic(3);
    const [writer, reader] = [await openKafkaWriter(connection), await openKafkaReader(connection)];
    try {
      await writer.produce(records('retained', 20));
      const partition = partitionForKey('retained', 3);
      await admin.deleteRecords({ topics: [{ name: connection.topic, partitions: [{ partition, offset: 12n }] }] });
      expect((await reader.offsets())[partition]).toEqual({ partition, earliest: 12, highWatermark: 20 });
      expect(await readRange(reader, partition, 5, 20)).toEqual([]);
      expect((await readRange(reader, partition, 12, 20)).map((r) => r.offset)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('keeps asking for records a fetch did not bring for stallTimeoutMs, then ends the read early', async () => {
    const connection = await freshKafkaTopic(3);
    const [writer, reader] = [await openKafkaWriter(connection), await openKafkaReader(connection, { stallTimeoutMs: 3_000 })];
    try {
      await writer.produce(records('late', 5));
      const partition = partitionForKey('late', 3);
      // The read asks for offsets the leader does not have yet, as a lagging new leader would answer; they arrive while it waits.
      const reading = readRange(reader, partition, 0, 10);
      await sleep(500);
      await writer.produce(records('late', 5));
      expect((await reading).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const started = Date.now();
      expect((await readRange(reader, partition, 10, 12)).map((r) => r.offset)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('refuses to open on a missing topic, saying how to create it', async () => {
    const missing = kafkaConnection('no-such-topic');
    await expect(openKafkaWriter(missing)).rejects.toThrow(KafkaTopicError);
    await expect(openKafkaReader(missing)).rejects.toThrow(/topic no-such-topic.*streamlake local --kafka/);
  });
});

describe('ensureKafkaTopic', () => {
  it('creates a missing topic, grows it on request, and refuses to shrink it', async () => {
    const connection = kafkaConnection(`shape-${Date.now()}`);
    expect(await ensureKafkaTopic(connection, { defaultPartitions: 2 })).toMatchObject({ partitions: 2, clusterId: expect.any(String) });
    expect((await ensureKafkaTopic(connection, { defaultPartitions: 6 })).partitions).toBe(2);
    expect((await ensureKafkaTopic(connection, { partitions: 4, defaultPartitions: 6 })).partitions).toBe(4);
    await expect(ensureKafkaTopic(connection, { partitions: 3, defaultPartitions: 6 })).rejects.toThrow('topic ' + connection.topic + ' has 4 partitions and partitions can grow but never shrink; pass --partitions 4 or more');
  });
});

describe('Kafka adapter over SASL/OAUTHBEARER', () => {
  it('reauthenticates its sessions before they expire and keeps producing and reading', async () => {
    let reauthentications = 0;
    const onInstance = (event: unknown) => {
      const { type, instance } = event as { type: string; instance: Connection };
      if (type === 'connection') instance.on('sasl:authentication:extended', () => reauthentications++);
    };
    instancesChannel.subscribe(onInstance);
    const connection = await freshKafkaTopic(1, 'sasl');
    const [writer, reader] = [await openKafkaWriter(connection), await openKafkaReader(connection)];
    try {
      await writer.produce(records('before', 1));
      await sleep(inject('kafka').saslSessionMs * 1.5);
      await writer.produce(records('after', 1));
      expect((await readRange(reader, 0, 0, 2)).map((r) => new TextDecoder().decode(r.value))).toEqual(['before:0', 'after:0']);
      expect(reauthentications).toBeGreaterThan(0);
    } finally {
      instancesChannel.unsubscribe(onInstance);
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('is refused by the broker with an expired token, so refreshing tokens is what keeps it in', async () => {
    const expired = unsecuredJwt('streamlake-test', Date.now() - 20 * 60_000).token;
    const client = new Admin({
      clientId: 'streamlake-test-expired',
      bootstrapBrokers: [inject('kafka').saslBootstrap],
      retries: 0,
      sasl: { mechanism: 'OAUTHBEARER', token: expired },
    });
    try {
      await expect(client.metadata({ topics: [] })).rejects.toThrow();
    } finally {
      await client.close();
    }
  });
});
