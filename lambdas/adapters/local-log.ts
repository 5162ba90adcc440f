import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutgoingRecord, PartitionOffsets, TopicBatch, TopicReader, TopicRecord, TopicWriter } from '../ports/topic.ts';
import { partitionForKey } from './kafka-partitioner.ts';
import { acquireWriterLock, releaseWriterLock } from './local-writer-lock.ts';

/**
 * The embedded partitioned log: a Kafka topic in a directory, for running without a broker.
 *
 * Per partition, `<p>.log` holds framed records and `<p>.index` one 8-byte position per offset, so
 * offsets start at 0 and the high watermark is the index length. Records are appended to the log
 * before their index entry and both are fsynced before `produce` resolves; on open, a writer trims
 * whatever a crash left half written. Keyed records go where Kafka's default partitioner puts them.
 */

// Frame: key length (u32, NULL_KEY for none), value length (u32), timestamp (f64 ms), key, value.
const HEADER_BYTES = 16;
const NULL_KEY = 0xffffffff;
const INDEX_ENTRY_BYTES = 8;
const READ_BATCH_RECORDS = 5_000;
const META_FILE = 'topic.json';
const WRITER_LOCK = 'writer-lock';

export class LocalLogError extends Error {
  override name = 'LocalLogError';
}

interface TopicMeta {
  readonly topic: string;
  readonly partitions: number;
}

interface PartitionFiles {
  log: FileHandle;
  index: FileHandle;
  logSize: number;
  count: number;
}

export interface LocalLogOptions {
  /** Directory holding the topic's files. */
  readonly dir: string;
  readonly topic: string;
  /** Partitions when the topic is created; an existing topic may grow to this, never shrink. */
  readonly partitions?: number;
}

export class LocalLog implements TopicWriter, TopicReader {
  readonly dir: string;
  readonly topic: string;
  readonly partitions: number;
  private writers: PartitionFiles[] | undefined;
  private roundRobin = 0;
  // Appends run one after another: each one starts at the end the previous one left.
  private appending: Promise<void> = Promise.resolve();

  private constructor(dir: string, meta: TopicMeta) {
    this.dir = dir;
    this.topic = meta.topic;
    this.partitions = meta.partitions;
  }

  /** Opens the topic in `dir`, creating it (or adding partitions) as `partitions` asks. */
  static async open(options: LocalLogOptions): Promise<LocalLog> {
    const metaPath = join(options.dir, META_FILE);
    let meta: TopicMeta | undefined = existsSync(metaPath) ? (JSON.parse(await readFile(metaPath, 'utf8')) as TopicMeta) : undefined;
    if (meta && meta.topic !== options.topic) {
      throw new LocalLogError(`${options.dir} holds topic ${meta.topic}, not ${options.topic}`);
    }
    const wanted = options.partitions ?? meta?.partitions;
    if (wanted === undefined) throw new LocalLogError(`no topic in ${options.dir}; produce to it first or pass a partition count`);
    if (!Number.isInteger(wanted) || wanted < 1) throw new LocalLogError(`partitions must be a positive integer, got ${wanted}`);
    if (meta && wanted < meta.partitions) {
      throw new LocalLogError(`topic ${meta.topic} has ${meta.partitions} partitions and partitions can grow but never shrink; pass --partitions ${meta.partitions} or more`);
    }
    if (!meta || wanted > meta.partitions) {
      meta = { topic: options.topic, partitions: wanted };
      await mkdir(options.dir, { recursive: true });
      await writeFile(metaPath, `${JSON.stringify(meta)}\n`);
    }
    return new LocalLog(options.dir, meta);
  }

  private path(partition: number, kind: 'log' | 'index'): string {
    return join(this.dir, `${partition}.${kind}`);
  }

  async offsets(): Promise<PartitionOffsets[]> {
    return Promise.all(
      Array.from({ length: this.partitions }, async (_, partition) => ({
        partition,
        earliest: 0,
        highWatermark: this.writers ? this.writers[partition]!.count : await this.indexedCount(partition),
      })),
    );
  }

  private async indexedCount(partition: number): Promise<number> {
    try {
      const handle = await open(this.path(partition, 'index'), 'r');
      try {
        return Math.floor((await handle.stat()).size / INDEX_ENTRY_BYTES);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  async *read(partition: number, from: number, to: number): AsyncIterable<TopicBatch> {
    const end = Math.min(to, await this.indexedCount(partition));
    if (from >= end) return;
    const index = await open(this.path(partition, 'index'), 'r');
    const log = await open(this.path(partition, 'log'), 'r');
    try {
      for (let start = from; start < end; start += READ_BATCH_RECORDS) {
        const stop = Math.min(end, start + READ_BATCH_RECORDS);
        const positions = await readPositions(index, start, stop + 1, await this.indexedCount(partition));
        const first = positions[0]!;
        const last = positions.length > stop - start ? positions[stop - start]! : (await log.stat()).size;
        const bytes = Buffer.alloc(last - first);
        await log.read(bytes, 0, bytes.length, first);
        yield { records: decodeFrames(bytes, partition, start, stop - start), next: stop };
      }
    } finally {
      await Promise.all([index.close(), log.close()]);
    }
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    const appended = this.appending.then(() => this.append(records));
    this.appending = appended.catch(() => undefined);
    return appended;
  }

  private async append(records: readonly OutgoingRecord[]): Promise<void> {
    const writers = this.writers ?? (this.writers = await this.openWriters());
    const byPartition = new Map<number, Buffer[]>();
    for (const record of records) {
      const partition = record.key === null ? this.roundRobin++ % this.partitions : partitionForKey(record.key, this.partitions);
      const frames = byPartition.get(partition) ?? [];
      frames.push(encodeFrame(record));
      byPartition.set(partition, frames);
    }
    await Promise.all(
      [...byPartition].map(async ([partition, frames]) => {
        const files = writers[partition]!;
        const index = Buffer.alloc(frames.length * INDEX_ENTRY_BYTES);
        let position = files.logSize;
        frames.forEach((frame, i) => {
          index.writeDoubleLE(position, i * INDEX_ENTRY_BYTES);
          position += frame.length;
        });
        await files.log.write(Buffer.concat(frames), 0, position - files.logSize, files.logSize);
        await files.log.datasync();
        await files.index.write(index, 0, index.length, files.count * INDEX_ENTRY_BYTES);
        await files.index.datasync();
        files.logSize = position;
        files.count += frames.length;
      }),
    );
  }

  private async openWriters(): Promise<PartitionFiles[]> {
    await acquireWriterLock(join(this.dir, WRITER_LOCK));
    return Promise.all(Array.from({ length: this.partitions }, (_, p) => this.recover(p)));
  }

  // Trims a record whose write a crash interrupted: log bytes without an index entry, or an index
  // entry whose record is incomplete.
  private async recover(partition: number): Promise<PartitionFiles> {
    const log = await open(this.path(partition, 'log'), 'a+');
    const index = await open(this.path(partition, 'index'), 'a+');
    const logBytes = (await log.stat()).size;
    let count = Math.floor((await index.stat()).size / INDEX_ENTRY_BYTES);
    let logSize = 0;
    while (count > 0) {
      const [position] = await readPositions(index, count - 1, count, count);
      const header = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await log.read(header, 0, HEADER_BYTES, position);
      const keyLength = header.readUInt32LE(0);
      const end = position! + HEADER_BYTES + (keyLength === NULL_KEY ? 0 : keyLength) + header.readUInt32LE(4);
      if (bytesRead === HEADER_BYTES && end <= logBytes) {
        logSize = end;
        break;
      }
      count--;
    }
    await index.truncate(count * INDEX_ENTRY_BYTES);
    await log.truncate(logSize);
    // Reopen for positioned writes: append mode would ignore the positions.
    await Promise.all([log.close(), index.close()]);
    return { log: await open(this.path(partition, 'log'), 'r+'), index: await open(this.path(partition, 'index'), 'r+'), logSize, count };
  }

  async commitOffsets(): Promise<void> {
    // The embedded log has no consumer groups: the checkpoint in the lake is the only record of progress.
  }

  async close(): Promise<void> {
    // Taken before the first await, so a second close() at the same time (the same log as writer and reader) does nothing.
    const writers = this.writers;
    if (!writers) return;
    this.writers = undefined;
    await Promise.all(writers.flatMap((files) => [files.log.close(), files.index.close()]));
    await releaseWriterLock(join(this.dir, WRITER_LOCK));
  }
}

async function readPositions(index: FileHandle, from: number, to: number, count: number): Promise<number[]> {
  const stop = Math.min(to, count);
  const bytes = Buffer.alloc((stop - from) * INDEX_ENTRY_BYTES);
  await index.read(bytes, 0, bytes.length, from * INDEX_ENTRY_BYTES);
  return Array.from({ length: stop - from }, (_, i) => bytes.readDoubleLE(i * INDEX_ENTRY_BYTES));
}

function encodeFrame(record: OutgoingRecord): Buffer {
  const key = record.key === null ? null : Buffer.from(record.key);
  const frame = Buffer.alloc(HEADER_BYTES + (key?.length ?? 0) + record.value.byteLength);
  frame.writeUInt32LE(key === null ? NULL_KEY : key.length, 0);
  frame.writeUInt32LE(record.value.byteLength, 4);
  frame.writeDoubleLE(record.timestamp, 8);
  key?.copy(frame, HEADER_BYTES);
  frame.set(record.value, HEADER_BYTES + (key?.length ?? 0));
  return frame;
}

function decodeFrames(bytes: Buffer, partition: number, firstOffset: number, count: number): TopicRecord[] {
  const records: TopicRecord[] = [];
  let position = 0;
  for (let i = 0; i < count; i++) {
    const keyLength = bytes.readUInt32LE(position);
    const valueLength = bytes.readUInt32LE(position + 4);
    const timestamp = bytes.readDoubleLE(position + 8);
    position += HEADER_BYTES;
    const key = keyLength === NULL_KEY ? null : bytes.subarray(position, (position += keyLength));
    const value = bytes.subarray(position, (position += valueLength));
    records.push({ partition, offset: firstOffset + i, timestamp, key, value });
  }
  return records;
}
