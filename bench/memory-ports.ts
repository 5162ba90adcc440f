import { createHash } from 'node:crypto';
import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../lambdas/ports/object-store.ts';
import type { PartitionOffsets, TopicReader, TopicRecord } from '../lambdas/ports/topic.ts';

/** A topic held in memory, read in batches the size Kafka fetches usually hand out, so the bench times the compactor alone. */
export class MemoryTopic implements TopicReader {
  private readonly partitions: TopicRecord[][];
  private readonly batchSize: number;

  constructor(partitions: TopicRecord[][], batchSize = 1_000) {
    this.partitions = partitions;
    this.batchSize = batchSize;
  }

  async offsets(): Promise<PartitionOffsets[]> {
    return this.partitions.map((records, partition) => ({ partition, earliest: 0, highWatermark: records.length }));
  }

  async *read(partition: number, from: number, to: number): AsyncIterable<readonly TopicRecord[]> {
    const records = this.partitions[partition] ?? [];
    for (let start = from; start < to; start += this.batchSize) yield records.slice(start, Math.min(to, start + this.batchSize));
  }

  async commitOffsets(): Promise<void> {}
  async close(): Promise<void> {}
}

/** An object store in memory, with the conditional writes of the port. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();

  async putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, { body, etag: etagOf(body) });
    return 'created';
  }

  async compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult> {
    if ((this.objects.get(key)?.etag ?? null) !== expectedEtag) return { ok: false };
    const etag = etagOf(body);
    this.objects.set(key, { body, etag });
    return { ok: true, etag };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.objects.get(key);
  }

  async list(prefix: string): Promise<ObjectEntry[]> {
    return [...this.objects].filter(([key]) => key.startsWith(prefix)).map(([key, object]) => ({ key, size: object.body.byteLength })).sort((a, b) => a.key.localeCompare(b.key));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

function etagOf(body: Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}
