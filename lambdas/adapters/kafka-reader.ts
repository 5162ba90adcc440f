import { Admin, Consumer, FetchIsolationLevels, findErrorBy, ListOffsetTimestamps, type RecordsBatch } from '@platformatic/kafka';
import type { PartitionOffsets, TopicBatch, TopicReader, TopicRecord } from '../ports/topic.ts';
import { clientOptions, closeOnFailure, KafkaTopicError, OPEN_RETRIES, RETRIES, retryDelay, topicMetadata, type KafkaConnection } from './kafka.ts';

const FETCH_MAX_BYTES = 4 * 1024 * 1024;
// Record batch attribute bits (Kafka protocol).
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL_BATCH = 0x10;
const CONTROL_BATCH = 0x20;
// Control record type (the int16 after the version in its key): 0 aborts a transaction, 1 commits it.
const ABORT_MARKER = 0;
type FetchedPartition = Awaited<ReturnType<Consumer['fetch']>>['responses'][number]['partitions'][number];

/** How a reader waits for records. */
export interface KafkaReaderOptions {
  /**
   * How long a read keeps asking for records that a fetch did not bring (a new leader catching up)
   * before it ends early. @default READ_STALL_TIMEOUT_MS (20 s, as long as the client rides out a broker restart)
   */
  readonly stallTimeoutMs?: number;
}

/** As long as the retries below take to ride out a broker restart. */
export const READ_STALL_TIMEOUT_MS = 20_000;

/** Opens a reader of the connection's topic that joins no consumer group. */
export async function openKafkaReader(connection: KafkaConnection, options: KafkaReaderOptions = {}): Promise<TopicReader> {
  const client = clientOptions(connection);
  const consumer = new Consumer({ ...client, groupId: `${connection.clientId}-reader`, isolationLevel: FetchIsolationLevels.READ_COMMITTED, maxWaitTime: 0, maxBytes: FETCH_MAX_BYTES });
  // Tracked so that the metadata refreshes behind fetches (after a leader change) include the topic.
  consumer.topics.track(connection.topic);
  const admin = new Admin(client);
  // ListOffsets on a client of its own with one retry: @platformatic/kafka retries a ListOffsets at
  // the leaders it looked up first, all its retries long (about 20 s after a leader moved), before
  // it looks again; the reader retries itself, looking the leaders up before each attempt.
  const offsetsClient = new Consumer({ ...client, retries: 1, groupId: `${connection.clientId}-offsets`, isolationLevel: FetchIsolationLevels.READ_COMMITTED });
  await closeOnFailure(offsetsClient, () => closeOnFailure(consumer, () => closeOnFailure(admin, () => topicMetadata(consumer, connection, OPEN_RETRIES))));
  return new KafkaTopicReader(consumer, admin, offsetsClient, connection, options.stallTimeoutMs ?? READ_STALL_TIMEOUT_MS);
}

class KafkaTopicReader implements TopicReader {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly offsetsClient: Consumer;
  private readonly connection: KafkaConnection;
  private readonly stallTimeoutMs: number;
  // Fetches share one fetch session per broker, which concurrent requests would corrupt.
  private fetching: Promise<unknown> = Promise.resolve();

  constructor(consumer: Consumer, admin: Admin, offsetsClient: Consumer, connection: KafkaConnection, stallTimeoutMs: number) {
    this.consumer = consumer;
    this.admin = admin;
    this.offsetsClient = offsetsClient;
    this.connection = connection;
    this.stallTimeoutMs = stallTimeoutMs;
  }

  async offsets(): Promise<PartitionOffsets[]> {
    const [earliest, latest] = await Promise.all([this.listOffsets(ListOffsetTimestamps.EARLIEST), this.listOffsets(ListOffsetTimestamps.LATEST)]);
    return latest.map((highWatermark, partition) => ({ partition, earliest: earliest[partition]!, highWatermark }));
  }

  private async listOffsets(timestamp: bigint): Promise<number[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const offsets = await this.offsetsClient.listOffsets({ topics: [this.connection.topic], timestamp });
        return [...offsets.get(this.connection.topic)!].map(Number);
      } catch (error) {
        if (attempt >= RETRIES || findErrorBy(error as Error, 'canRetry', false)) throw error;
        this.offsetsClient.clearMetadata();
        await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt)));
      }
    }
  }

  /**
   * Fetches `[from, to)` batch by batch. A fetch that brings nothing new (a new leader whose high
   * watermark still lags the one the run planned with, an incremental fetch session leaving the
   * partition out) is retried with backoff for `stallTimeoutMs`, asking for fresh metadata each
   * time, before the read ends early; it also ends when retention deleted the next offset. The
   * caller tells the two apart with `offsets()`.
   */
  async *read(partition: number, from: number, to: number): AsyncIterable<TopicBatch> {
    let next = from;
    let stalledMs = 0;
    for (let retry = 0; next < to; ) {
      const fetched = await this.fetchFrom(partition, next, retry > 0);
      if (fetched === 'deleted') return;
      const end = fetched === 'nothing' ? next : Math.min(to, Number(fetched.lastStableOffset));
      const records: TopicRecord[] = [];
      let after = next;
      for (const batch of fetched === 'nothing' ? [] : committedBatches(fetched)) {
        after = Math.max(after, Number(batch.firstOffset) + batch.lastOffsetDelta + 1);
        records.push(...recordsOf(batch, partition, next, end));
      }
      // Markers and aborted records past `end` are read again by the run that reads on from there.
      after = Math.min(after, end);
      if (after > next) {
        yield { records, next: after };
        next = after;
        retry = 0;
        stalledMs = 0;
        continue;
      }
      if (stalledMs >= this.stallTimeoutMs) return;
      const delay = retryDelay(retry++);
      await new Promise((resolve) => setTimeout(resolve, delay));
      stalledMs += delay;
    }
  }

  /**
   * One fetch of `partition` from `offset`: its data; 'nothing' when the leader has nothing at
   * `offset` yet (an incremental fetch session leaves such a partition out, and a leader whose log
   * is shorter answers OFFSET_OUT_OF_RANGE); 'deleted' when retention deleted `offset`.
   */
  private fetchFrom(partition: number, offset: number, refreshMetadata: boolean): Promise<FetchedPartition | 'nothing' | 'deleted'> {
    const fetched = this.fetching.then(async () => {
      const topic = await topicMetadata(this.consumer, this.connection, undefined, refreshMetadata);
      const leader = topic.partitions[partition]?.leader;
      if (leader === undefined) throw new KafkaTopicError(`topic ${this.connection.topic} has no partition ${partition}; it has ${topic.partitionsCount}`);
      try {
        const response = await this.consumer.fetch({
          node: leader,
          topics: [{ topicId: topic.id, partitions: [{ partition, fetchOffset: BigInt(offset), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: FETCH_MAX_BYTES }] }],
        });
        return response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition) ?? 'nothing';
      } catch (error) {
        if (!findErrorBy(error as Error, 'apiId', 'OFFSET_OUT_OF_RANGE')) throw error;
        return offset < (await this.offsets())[partition]!.earliest ? 'deleted' : 'nothing';
      }
    });
    this.fetching = fetched.catch(() => undefined);
    return fetched;
  }

  async commitOffsets(group: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    if (offsets.size === 0) return;
    // A commit outside any generation (-1), as for a consumer that assigns itself partitions.
    await this.admin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [{ name: this.connection.topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset: BigInt(offset) })) }],
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.consumer.close(), this.admin.close(), this.offsetsClient.close()]);
  }
}

/**
 * The data batches of a fetched partition, without those of aborted transactions. The broker lists
 * the aborted transactions the fetch overlaps (producer, first offset); as Kafka's Java consumer
 * does, a producer is aborting from its transaction's first offset until its abort marker, and its
 * transactional batches in between are dropped. `@platformatic/kafka` filters too, but keeps one
 * aborted transaction per producer and fetch, and any whose abort marker lies beyond the fetch.
 * Control batches (markers) hold no data; the caller still counts their offsets as read.
 */
function* committedBatches(fetched: FetchedPartition): Iterable<RecordsBatch> {
  const aborted = [...(fetched.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborting = new Set<bigint>();
  let nextAborted = 0;
  for (const batch of fetched.records ?? []) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (nextAborted < aborted.length && aborted[nextAborted]!.firstOffset <= lastOffset) aborting.add(aborted[nextAborted++]!.producerId);
    if (batch.attributes & CONTROL_BATCH) {
      if (batch.records[0]?.key?.readInt16BE(2) === ABORT_MARKER) aborting.delete(batch.producerId);
      yield { ...batch, records: [] };
      continue;
    }
    if (batch.attributes & TRANSACTIONAL_BATCH && aborting.has(batch.producerId)) yield { ...batch, records: [] };
    else yield batch;
  }
}

/** The records of `batch` in `[from, end)`: a batch may start before `from` and end after `end`. */
function recordsOf(batch: RecordsBatch, partition: number, from: number, end: number): TopicRecord[] {
  const first = Number(batch.firstOffset);
  const records: TopicRecord[] = [];
  for (const record of batch.records) {
    const offset = first + record.offsetDelta;
    if (offset < from) continue;
    if (offset >= end) break;
    const timestamp = batch.attributes & LOG_APPEND_TIME ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta;
    records.push({ partition, offset, timestamp: Number(timestamp), key: record.key, value: record.value ?? new Uint8Array(0) });
  }
  return records;
}
