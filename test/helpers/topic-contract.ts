import { afterEach, expect, it } from 'vitest';
import { partitionForKey } from '../../lambdas/adapters/kafka-partitioner.ts';
import type { OutgoingRecord, TopicReader, TopicRecord, TopicWriter } from '../../lambdas/ports/topic.ts';

/** A new, empty topic as one adapter implements it. */
export interface TopicUnderTest {
  readonly writer: TopicWriter;
  readonly reader: TopicReader;
}

/** Opens a new, empty topic with `partitions` partitions. */
export type OpenTopic = (partitions: number) => Promise<TopicUnderTest>;

// In the past: Kafka refuses timestamps more than an hour ahead of its clock.
const T0 = Date.UTC(2025, 0, 15, 9, 0, 0, 123);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A record as plain data, so `toEqual` compares content rather than buffer types. */
export interface Plain {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string;
}

/** `r` as plain data: key and value decoded as UTF-8. */
export function plain(r: TopicRecord): Plain {
  return { partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key === null ? null : decoder.decode(r.key), value: decoder.decode(r.value) };
}

function record(key: string | null, value: string, timestamp = T0): OutgoingRecord {
  return { key, value: encoder.encode(value), timestamp };
}

async function read(reader: TopicReader, partition: number, from: number, to: number): Promise<TopicRecord[]> {
  const records: TopicRecord[] = [];
  for await (const batch of reader.read(partition, from, to)) records.push(...batch.records);
  return records;
}

async function readAll(reader: TopicReader): Promise<TopicRecord[]> {
  const records: TopicRecord[] = [];
  for (const { partition, earliest, highWatermark } of await reader.offsets()) records.push(...(await read(reader, partition, earliest, highWatermark)));
  return records;
}

function offsetsOf(records: readonly TopicRecord[]): number[] {
  return records.map((r) => r.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * What every implementation of the topic ports must do, as `it` cases for the caller's
 * `describe`: the embedded log and Kafka run the same assertions.
 */
export function topicContract(open: OpenTopic): void {
  let opened: TopicUnderTest[] = [];

  afterEach(async () => {
    for (const { writer, reader } of opened) await Promise.all([writer.close(), reader.close()]);
    opened = [];
  });

  async function topic(partitions: number): Promise<TopicUnderTest> {
    const opening = await open(partitions);
    opened.push(opening);
    return opening;
  }

  /** Sends `count` records keyed `key` to a topic of `partitions` partitions; returns the partition they went to. */
  async function fillOnePartition(writer: TopicWriter, key: string, count: number, partitions = 3): Promise<number> {
    await writer.produce(Array.from({ length: count }, (_, i) => record(key, `${key}:${i}`, T0 + i)));
    return partitionForKey(key, partitions);
  }

  it('starts every partition empty at offset 0, listed in partition order', async () => {
    const { reader } = await topic(3);
    expect(await reader.offsets()).toEqual([0, 1, 2].map((partition) => ({ partition, earliest: 0, highWatermark: 0 })));
  });

  it('puts each key in the partition partitionForKey names and keeps its records in send order', async () => {
    const { writer, reader } = await topic(4);
    const keys = Array.from({ length: 12 }, (_, i) => `device-${i}`);
    const sent = Array.from({ length: 5 }, (_, seq) => keys.map((key) => record(key, JSON.stringify({ key, seq }), T0 + seq * 1000))).flat();
    await writer.produce(sent.slice(0, 25));
    await writer.produce(sent.slice(25));

    const offsets = await reader.offsets();
    const records = await readAll(reader);
    expect(records).toHaveLength(sent.length);
    for (const r of records) expect(r.partition).toBe(partitionForKey(decoder.decode(r.key!), 4));
    for (const { partition, highWatermark } of offsets) expect(offsetsOf(records.filter((r) => r.partition === partition))).toEqual(range(0, highWatermark));
    for (const key of keys) {
      const seqs = records.filter((r) => decoder.decode(r.key!) === key).map((r) => (JSON.parse(decoder.decode(r.value)) as { seq: number }).seq);
      expect(seqs).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('reads exactly the records in [from, to), and stops at the high watermark when to is past it', async () => {
    const { writer, reader } = await topic(3);
    const partition = await fillOnePartition(writer, 'bounded', 50);
    expect(offsetsOf(await read(reader, partition, 10, 35))).toEqual(range(10, 35));
    expect(offsetsOf(await read(reader, partition, 0, 1))).toEqual([0]);
    expect(offsetsOf(await read(reader, partition, 49, 50))).toEqual([49]);
    expect(offsetsOf(await read(reader, partition, 45, 1_000))).toEqual(range(45, 50));
    expect((await read(reader, partition, 20, 20)).map(plain)).toEqual([]);
    expect((await read(reader, partition, 50, 60)).map(plain)).toEqual([]);
  });

  it('reads nothing from an empty partition', async () => {
    const { writer, reader } = await topic(3);
    const filled = await fillOnePartition(writer, 'only-key', 5);
    const offsets = await reader.offsets();
    for (const { partition, highWatermark } of offsets) {
      expect(highWatermark).toBe(partition === filled ? 5 : 0);
      if (partition !== filled) expect(await read(reader, partition, 0, 10)).toEqual([]);
    }
  });

  it('resumes from a checkpoint: ranges split at any offset, and records written later, are each read once', async () => {
    const { writer, reader } = await topic(3);
    const partition = await fillOnePartition(writer, 'resumed', 40);
    const whole = (await read(reader, partition, 0, 40)).map(plain);
    for (const checkpoint of [1, 17, 39]) {
      const resumed = [...(await read(reader, partition, 0, checkpoint)), ...(await read(reader, partition, checkpoint, 40))].map(plain);
      expect(resumed).toEqual(whole);
    }
    await writer.produce(Array.from({ length: 20 }, (_, i) => record('resumed', `later:${i}`)));
    const highWatermark = (await reader.offsets())[partition]!.highWatermark;
    expect(highWatermark).toBe(60);
    const later = await read(reader, partition, 40, highWatermark);
    expect(later.map((r) => [r.offset, decoder.decode(r.value)])).toEqual(range(40, 60).map((offset, i) => [offset, `later:${i}`]));
  });

  it('keeps keys, values and timestamps byte for byte, and spreads records without a key over every partition', async () => {
    const { writer, reader } = await topic(3);
    const binary = new Uint8Array([0, 255, 128, 10, 13, 0]);
    await writer.produce([
      { key: 'bytes', value: binary, timestamp: T0 + 7 },
      { key: 'bytes', value: new Uint8Array(0), timestamp: T0 - 86_400_000 },
      { key: 'ünïcödé-🔑', value: encoder.encode('{"a":1}'), timestamp: T0 },
    ]);
    await writer.produce(Array.from({ length: 6 }, (_, i) => record(null, `unkeyed:${i}`, T0 + i)));

    const records = await readAll(reader);
    const bytes = records.filter((r) => r.key !== null && decoder.decode(r.key) === 'bytes');
    expect(bytes.map((r) => [Array.from(r.value), r.timestamp])).toEqual([
      [Array.from(binary), T0 + 7],
      [[], T0 - 86_400_000],
    ]);
    expect(records.filter((r) => r.key !== null && decoder.decode(r.key) === 'ünïcödé-🔑').map(plain)).toEqual([
      { partition: partitionForKey('ünïcödé-🔑', 3), offset: expect.any(Number), timestamp: T0, key: 'ünïcödé-🔑', value: '{"a":1}' },
    ]);
    const unkeyed = records.filter((r) => r.key === null);
    expect(unkeyed.map((r) => decoder.decode(r.value)).sort()).toEqual(range(0, 6).map((i) => `unkeyed:${i}`));
    expect(new Set(unkeyed.map((r) => r.partition))).toEqual(new Set([0, 1, 2]));
  });

  it('reads a large range in several batches, every offset once and in order', async () => {
    const { writer, reader } = await topic(3);
    const padding = 'x'.repeat(400);
    const count = 12_000;
    await writer.produce(Array.from({ length: count }, (_, i) => record('bulk', `${i}:${padding}`, T0 + i)));
    const partition = partitionForKey('bulk', 3);
    let batches = 0;
    let next = 0;
    for await (const batch of reader.read(partition, 0, count)) {
      batches++;
      for (const r of batch.records) expect([r.offset, r.timestamp, decoder.decode(r.value).split(':')[0]]).toEqual([next, T0 + next, String(next++)]);
      expect(batch.next).toBe(next); // each batch says how far it read
    }
    expect(next).toBe(count);
    expect(batches).toBeGreaterThan(1);
  });

  it('accepts the group offsets a compactor commits', async () => {
    const { writer, reader } = await topic(3);
    const partition = await fillOnePartition(writer, 'committed', 3);
    await expect(reader.commitOffsets('streamlake-contract', new Map([[partition, 3]]))).resolves.toBeUndefined();
  });
}
