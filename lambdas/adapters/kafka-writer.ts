import { findErrorBy, ProduceAcks, Producer, type MessageToProduce } from '@platformatic/kafka';
import type { OutgoingRecord, TopicWriter } from '../ports/topic.ts';
import { clientOptions, closeOnFailure, KafkaBrokerError, OPEN_RETRIES, reasonsOf, topicMetadata, type KafkaConnection } from './kafka.ts';
import { partitionForKey } from './kafka-partitioner.ts';

// Records per produce request stay under this, well below the broker's default message.max.bytes
// (1 MiB), which bounds each partition's batch.
const MAX_SEND_BYTES = 512 * 1024;
const RECORD_OVERHEAD_BYTES = 64;

/** Opens a producer on the connection's topic: idempotent, acks=all, keyed records partitioned as Java clients do. */
export async function openKafkaWriter(connection: KafkaConnection): Promise<TopicWriter> {
  const producer = new Producer({ ...clientOptions(connection), idempotent: true, acks: ProduceAcks.ALL });
  await closeOnFailure(producer, () => topicMetadata(producer, connection, OPEN_RETRIES));
  return new KafkaTopicWriter(producer, connection);
}

class KafkaTopicWriter implements TopicWriter {
  private readonly producer: Producer;
  private readonly connection: KafkaConnection;
  private roundRobin = 0;

  constructor(producer: Producer, connection: KafkaConnection) {
    this.producer = producer;
    this.connection = connection;
  }

  async produce(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const partitions = (await topicMetadata(this.producer, this.connection)).partitionsCount;
    const byPartition = new Map<number, OutgoingRecord[]>();
    for (const record of records) {
      const partition = record.key === null ? this.roundRobin++ % partitions : partitionForKey(record.key, partitions);
      const own = byPartition.get(partition) ?? [];
      own.push(record);
      byPartition.set(partition, own);
    }
    // One partition per request: @platformatic/kafka sends the partitions of a request that share a
    // leader as one group and retries the group at the leader of its first partition, so once their
    // leaders part (a broker restarts and takes its leaderships back) the group fails after every
    // retry. Each partition's requests go one at a time, in order, so per-key order holds; the
    // partitions go at once.
    await Promise.all([...byPartition].map(([partition, own]) => this.produceToPartition(partition, own)));
  }

  private async produceToPartition(partition: number, records: readonly OutgoingRecord[]): Promise<void> {
    for (const chunk of sendChunks(records)) {
      await this.producer.send({ messages: chunk.map((record) => this.message(record, partition)) }).catch((error: Error) => {
        const hint = findErrorBy(error, 'apiId', 'INVALID_TIMESTAMP')
          ? ' Brokers refuse record timestamps further ahead of their clock than message.timestamp.after.max.ms (1 hour by default): produce with a timestamp that is not in the future.'
          : '';
        throw new KafkaBrokerError(`producing ${chunk.length} records to ${this.connection.topic} failed: ${reasonsOf(error)}.${hint}`, { cause: error });
      });
    }
  }

  private message(record: OutgoingRecord, partition: number): MessageToProduce {
    return {
      topic: this.connection.topic,
      // Chosen by the caller, not by the client's default partitioner, so keys land where Java clients and the embedded log put them.
      partition,
      key: record.key === null ? undefined : Buffer.from(record.key),
      value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
      timestamp: BigInt(Math.trunc(record.timestamp)),
    };
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

function* sendChunks(records: readonly OutgoingRecord[]): Iterable<readonly OutgoingRecord[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const size = record.value.byteLength + (record.key?.length ?? 0) + RECORD_OVERHEAD_BYTES;
    if (i > start && bytes + size > MAX_SEND_BYTES) {
      yield records.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  yield records.slice(start);
}
