import { createHash } from 'node:crypto';
import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../lambdas/ports/object-store.ts';
import { partitionForKey } from '../lambdas/adapters/kafka-partitioner.ts';
import type { OutgoingRecord, PartitionOffsets, TopicBatch, TopicReader, TopicRecord, TopicWriter } from '../lambdas/ports/topic.ts';

/**
 * A topic held in memory the way a broker holds it: per partition, one log buffer with each
 * record's key and value back to back. Reads hand out fresh records in batches the size Kafka
 * fetches usually return, views into the log as a Kafka client's are into its fetch response. So
 * the bench times the compactor, not a heap of a million long-lived record objects.
 */
export class MemoryTopic implements TopicReader, TopicWriter {
  private readonly logs: PartitionLog[];
  private readonly batchSize: number;

  constructor(partitions: number, batchSize = 1_000) {
    this.logs = Array.from({ length: partitions }, () => new PartitionLog());
    this.batchSize = batchSize;
  }

  /** Appends records to the partition of their key, as the Kafka producer's default partitioner picks it. */
  async produce(records: readonly OutgoingRecord[]): Promise<void> {
    for (const record of records) this.logs[record.key === null ? 0 : partitionForKey(record.key, this.logs.length)]!.append(record);
  }

  async offsets(): Promise<PartitionOffsets[]> {
    return this.logs.map((log, partition) => ({ partition, earliest: 0, highWatermark: log.length }));
  }

  async *read(partition: number, from: number, to: number): AsyncIterable<TopicBatch> {
    const log = this.logs[partition]!;
    for (let start = from; start < Math.min(to, log.length); start += this.batchSize) {
      const batch: TopicRecord[] = [];
      const next = Math.min(to, log.length, start + this.batchSize);
      for (let offset = start; offset < next; offset++) batch.push(log.record(partition, offset));
      yield { records: batch, next };
    }
  }

  /** Every record, partition by partition. */
  *records(): Iterable<TopicRecord> {
    for (const [partition, log] of this.logs.entries()) for (let offset = 0; offset < log.length; offset++) yield log.record(partition, offset);
  }

  async commitOffsets(): Promise<void> {}
  async close(): Promise<void> {}
}

class PartitionLog {
  private bytes = Buffer.alloc(1 << 20);
  private used = 0;
  // Record i is bytes [starts[i], starts[i + 1]): its key (keyLengths[i] bytes, -1 for none), then its value.
  private readonly starts: number[] = [0];
  private readonly keyLengths: number[] = [];
  private readonly timestamps: number[] = [];

  get length(): number {
    return this.timestamps.length;
  }

  append(record: OutgoingRecord): void {
    const key = record.key === null ? undefined : Buffer.from(record.key);
    const size = (key?.length ?? 0) + record.value.length;
    if (this.used + size > this.bytes.length) {
      const larger = Buffer.alloc(Math.max(2 * this.bytes.length, this.used + size));
      this.bytes.copy(larger, 0, 0, this.used);
      this.bytes = larger;
    }
    if (key) key.copy(this.bytes, this.used);
    this.bytes.set(record.value, this.used + (key?.length ?? 0));
    this.used += size;
    this.starts.push(this.used);
    this.keyLengths.push(key?.length ?? -1);
    this.timestamps.push(record.timestamp);
  }

  record(partition: number, offset: number): TopicRecord {
    const start = this.starts[offset]!;
    const keyLength = this.keyLengths[offset]!;
    const valueStart = start + Math.max(0, keyLength);
    return {
      partition,
      offset,
      timestamp: this.timestamps[offset]!,
      key: keyLength < 0 ? null : this.bytes.subarray(start, valueStart),
      value: this.bytes.subarray(valueStart, this.starts[offset + 1]!),
    };
  }
}

/** An object store in memory, with the conditional writes of the port. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject & { readonly lastModified: number }>();

  async putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, { body, etag: etagOf(body), lastModified: Date.now() });
    return 'created';
  }

  async compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult> {
    if ((this.objects.get(key)?.etag ?? null) !== expectedEtag) return { ok: false };
    const etag = etagOf(body);
    this.objects.set(key, { body, etag, lastModified: Date.now() });
    return { ok: true, etag };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.objects.get(key);
  }

  async list(prefix: string): Promise<ObjectEntry[]> {
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, object]) => ({ key, size: object.body.byteLength, lastModified: object.lastModified }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

function etagOf(body: Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}
