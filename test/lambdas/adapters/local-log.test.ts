import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../lambdas/adapters/kafka-partitioner.ts';
import { LocalLog, LocalLogError, type LocalLogOptions } from '../../../lambdas/adapters/local-log.ts';
import { WriterLockError } from '../../../lambdas/adapters/local-writer-lock.ts';
import type { OutgoingRecord, TopicRecord } from '../../../lambdas/ports/topic.ts';
import { plain, type Plain } from '../../helpers/topic-contract.ts';
import { RACE_TOPIC, type RaceOutcome } from '../../helpers/lock-racer.ts';

const TOPIC = 'device-logs';
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let dir: string;
let opened: LocalLog[];

beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'streamlake-'));
  opened = [];
});

afterEach(async () => {
  for (const log of opened) await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openLog(options: Partial<LocalLogOptions> = {}): Promise<LocalLog> {
  const log = await LocalLog.open({ dir, topic: TOPIC, ...options });
  opened.push(log);
  return log;
}

function record(key: string | null, value: string, timestamp = T0): OutgoingRecord {
  return { key, value: encoder.encode(value), timestamp };
}

async function readBatches(log: LocalLog, partition: number, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<Plain[][]> {
  const batches: Plain[][] = [];
  for await (const batch of log.read(partition, from, to)) batches.push(batch.records.map(plain));
  return batches;
}

async function readAll(log: LocalLog, partition: number, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<Plain[]> {
  return (await readBatches(log, partition, from, to)).flat();
}

async function highWatermarks(log: LocalLog): Promise<number[]> {
  const offsets = await log.offsets();
  expect(offsets.map((o) => o.partition)).toEqual(Array.from({ length: log.partitions }, (_, p) => p));
  expect(offsets.every((o) => o.earliest === 0)).toBe(true);
  return offsets.map((o) => o.highWatermark);
}

/** Bytes one record takes in `<p>.log`: 16-byte header, key, value. */
function frameBytes(r: OutgoingRecord): number {
  return 16 + (r.key === null ? 0 : Buffer.byteLength(r.key)) + r.value.byteLength;
}

describe('LocalLog', () => {
  describe('offsets', () => {
    it('starts every partition at offset 0 with a high watermark equal to the records produced', async () => {
      const log = await openLog({ partitions: 4 });
      expect(await highWatermarks(log)).toEqual([0, 0, 0, 0]);

      const records = Array.from({ length: 40 }, (_, i) => record(`device-${i % 10}`, `v${i}`, T0 + i));
      await log.produce(records);

      const expected = [0, 0, 0, 0];
      for (const r of records) expected[partitionForKey(r.key!, 4)]!++;
      expect(await highWatermarks(log)).toEqual(expected);
      for (let p = 0; p < 4; p++) {
        expect((await readAll(log, p)).map((r) => r.offset)).toEqual(Array.from({ length: expected[p]! }, (_, i) => i));
      }
    });
  });

  describe('partitioning', () => {
    it("puts keyed records in Kafka's partition for the key and keeps their order per key", async () => {
      const log = await openLog({ partitions: 4 });
      const keys = Array.from({ length: 20 }, (_, i) => `device-${i}`);
      // Several produce calls, each interleaving every key, so order must hold within and across calls.
      for (let round = 0; round < 5; round++) {
        await log.produce(keys.flatMap((key) => [record(key, `${key}#${2 * round}`), record(key, `${key}#${2 * round + 1}`)]));
      }

      const all = (await Promise.all([0, 1, 2, 3].map((p) => readAll(log, p)))).flat();
      expect(all).toHaveLength(200);
      for (const r of all) expect(r.partition).toBe(partitionForKey(r.key!, 4));
      for (const key of keys) {
        const sequence = all.filter((r) => r.key === key).map((r) => Number(r.value.split('#')[1]));
        expect(sequence).toEqual(Array.from({ length: 10 }, (_, i) => i));
      }
      // With 20 keys over 4 partitions the keys do not all collapse into one partition.
      expect(new Set(all.map((r) => r.partition)).size).toBeGreaterThan(1);
    });

    it('spreads records without a key round-robin over the partitions, across produce calls', async () => {
      const log = await openLog({ partitions: 4 });
      await log.produce(Array.from({ length: 6 }, (_, i) => record(null, `n${i}`)));
      await log.produce(Array.from({ length: 6 }, (_, i) => record(null, `n${i + 6}`)));

      expect(await highWatermarks(log)).toEqual([3, 3, 3, 3]);
      for (let p = 0; p < 4; p++) {
        const records = await readAll(log, p);
        expect(records.map((r) => r.key)).toEqual([null, null, null]);
        expect(records.map((r) => r.value)).toEqual([`n${p}`, `n${p + 4}`, `n${p + 8}`]);
      }
    });
  });

  describe('read', () => {
    const COUNT = 12_345;
    // Keys of varying length (and some null) so frame sizes differ and batch boundaries fall mid-file.
    const records = Array.from({ length: COUNT }, (_, i) =>
      record(i % 7 === 0 ? null : `k${'x'.repeat(i % 13)}${i}`, `value-${i}-${'v'.repeat(i % 31)}`, T0 + i * 17 + (i % 3) * 0.5),
    );
    const expected = (from: number, to: number): Plain[] =>
      records.slice(from, to).map((r, i) => ({ partition: 0, offset: from + i, timestamp: r.timestamp, key: r.key, value: decoder.decode(r.value) }));

    it('returns exactly [from, min(to, highWatermark)) with offsets, timestamps, keys and values intact, across batch boundaries', async () => {
      const log = await openLog({ partitions: 1 });
      await log.produce(records);
      expect(await highWatermarks(log)).toEqual([COUNT]);

      const everything = await readBatches(log, 0, 0, COUNT);
      expect(everything.length).toBeGreaterThan(2);
      expect(everything.every((batch) => batch.length > 0 && batch.length <= 5_000)).toBe(true);
      expect(everything.flat()).toEqual(expected(0, COUNT));

      // Ranges that start and end inside batches, straddle the 5000-record boundaries, and overrun the end.
      expect(await readAll(log, 0, 4_990, 10_010)).toEqual(expected(4_990, 10_010));
      expect(await readAll(log, 0, 1, 2)).toEqual(expected(1, 2));
      expect(await readAll(log, 0, 5_000, 5_001)).toEqual(expected(5_000, 5_001));
      expect(await readAll(log, 0, 12_000, 1_000_000)).toEqual(expected(12_000, COUNT));
      expect(await readAll(log, 0, COUNT - 1, COUNT + 1)).toEqual(expected(COUNT - 1, COUNT));
    });

    it('yields nothing for an empty range, a range at or past the high watermark, or an empty partition', async () => {
      const log = await openLog({ partitions: 3 });
      expect(await readBatches(log, 1)).toEqual([]);

      const key = 'only-key';
      await log.produce([record(key, 'one'), record(key, 'two')]);
      const target = partitionForKey(key, 3);
      expect(await readBatches(log, target, 1, 1)).toEqual([]);
      expect(await readBatches(log, target, 2, 10)).toEqual([]);
      expect(await readBatches(log, target, 5, 10)).toEqual([]);
      for (let p = 0; p < 3; p++) {
        if (p !== target) expect(await readBatches(log, p)).toEqual([]);
      }
    });
  });

  describe('durability', () => {
    it('keeps records across close and reopen, and continues offsets where they stopped', async () => {
      const first = await openLog({ partitions: 2 });
      const before = Array.from({ length: 10 }, (_, i) => record(null, `before-${i}`, T0 + i));
      await first.produce(before);
      await first.close();

      const second = await openLog();
      expect(second.partitions).toBe(2);
      expect(await highWatermarks(second)).toEqual([5, 5]);
      await second.produce([record(null, 'after-0', T0 + 100), record(null, 'after-1', T0 + 101)]);
      expect(await highWatermarks(second)).toEqual([6, 6]);

      const p0 = await readAll(second, 0);
      expect(p0.map((r) => r.value)).toEqual(['before-0', 'before-2', 'before-4', 'before-6', 'before-8', 'after-0']);
      expect(p0.at(-1)).toEqual({ partition: 0, offset: 5, timestamp: T0 + 100, key: null, value: 'after-0' });
      expect((await readAll(second, 1)).at(-1)).toEqual({ partition: 1, offset: 5, timestamp: T0 + 101, key: null, value: 'after-1' });
    });

    it('grows to more partitions on reopen, keeping the existing records', async () => {
      const first = await openLog({ partitions: 2 });
      await first.produce([record('a', 'a0'), record('b', 'b0')]);
      await first.close();

      const grown = await openLog({ partitions: 5 });
      expect(grown.partitions).toBe(5);
      const hw = await highWatermarks(grown);
      expect(hw).toHaveLength(5);
      expect(hw.slice(2)).toEqual([0, 0, 0]);
      expect(hw.reduce((a, b) => a + b)).toBe(2);
      expect((await readAll(grown, partitionForKey('a', 2))).map((r) => r.value)).toContain('a0');

      await grown.produce([record('a', 'a1')]);
      const p = partitionForKey('a', 5);
      expect((await readAll(grown, p)).map((r) => r.value)).toContain('a1');
      await grown.close();

      // The grown count is persisted: reopening without a count keeps 5.
      expect((await openLog()).partitions).toBe(5);
    });

    it('refuses to shrink the partition count', async () => {
      const first = await openLog({ partitions: 4 });
      await first.produce([record('a', 'a0')]);
      await first.close();

      const attempt = LocalLog.open({ dir, topic: TOPIC, partitions: 2 });
      await expect(attempt).rejects.toBeInstanceOf(LocalLogError);
      await expect(LocalLog.open({ dir, topic: TOPIC, partitions: 2 })).rejects.toThrow(/never shrink/);
      expect((await openLog()).partitions).toBe(4);
    });

    it('refuses to open a directory without a topic when no partition count is given, or one holding another topic', async () => {
      await expect(LocalLog.open({ dir: join(dir, 'nothing'), topic: TOPIC })).rejects.toBeInstanceOf(LocalLogError);
      await openLog({ partitions: 1 });
      await expect(LocalLog.open({ dir, topic: 'other-topic' })).rejects.toBeInstanceOf(LocalLogError);
    });
  });

  describe('crash recovery', () => {
    const originals = Array.from({ length: 25 }, (_, i) => record(i % 2 ? `key-${i}` : null, `original-${i}`, T0 + i));
    const additions = Array.from({ length: 4 }, (_, i) => record(`new-${i}`, `added-${i}`, T0 + 1_000 + i));
    const expectedValues = [...originals, ...additions].map((r) => decoder.decode(r.value));

    async function produceAndClose(): Promise<number> {
      const log = await openLog({ partitions: 1 });
      await log.produce(originals);
      await log.close();
      const logSize = fs.statSync(join(dir, '0.log')).size;
      expect(logSize).toBe(originals.reduce((sum, r) => sum + frameBytes(r), 0));
      expect(fs.statSync(join(dir, '0.index')).size).toBe(originals.length * 8);
      return logSize;
    }

    async function reopenProduceAndCheck(logSize: number): Promise<void> {
      const log = await openLog();
      await log.produce(additions);
      expect(await highWatermarks(log)).toEqual([originals.length + additions.length]);
      const records = await readAll(log, 0);
      expect(records.map((r) => r.value)).toEqual(expectedValues);
      expect(records.map((r) => r.offset)).toEqual(expectedValues.map((_, i) => i));
      expect(records.slice(originals.length)).toEqual(
        additions.map((r, i) => ({ partition: 0, offset: originals.length + i, timestamp: r.timestamp, key: r.key, value: decoder.decode(r.value) })),
      );
      // The torn bytes were trimmed rather than left between the old and the new records.
      expect(fs.statSync(join(dir, '0.log')).size).toBe(logSize + additions.reduce((sum, r) => sum + frameBytes(r), 0));
      expect(fs.statSync(join(dir, '0.index')).size).toBe((originals.length + additions.length) * 8);
    }

    it('trims log bytes without an index entry and a half-written index entry', async () => {
      const logSize = await produceAndClose();
      fs.appendFileSync(join(dir, '0.log'), Buffer.from('garbage left by a crash mid-write'));
      fs.appendFileSync(join(dir, '0.index'), Buffer.from([1, 2, 3]));
      await reopenProduceAndCheck(logSize);
    });

    it('drops an index entry that points past the end of the log', async () => {
      const logSize = await produceAndClose();
      const entry = Buffer.alloc(8);
      entry.writeDoubleLE(logSize + 4_096);
      fs.appendFileSync(join(dir, '0.index'), entry);
      await reopenProduceAndCheck(logSize);
    });

    it('drops an index entry whose record was only partly written', async () => {
      const logSize = await produceAndClose();
      const header = Buffer.alloc(16);
      header.writeUInt32LE(3, 0);
      header.writeUInt32LE(1_000, 4);
      header.writeDoubleLE(T0, 8);
      fs.appendFileSync(join(dir, '0.log'), Buffer.concat([header, Buffer.from('keyonly-part-of-the-value')]));
      const entry = Buffer.alloc(8);
      entry.writeDoubleLE(logSize);
      fs.appendFileSync(join(dir, '0.index'), entry);
      await reopenProduceAndCheck(logSize);
    });
  });

  describe('concurrent access', () => {
    it('refuses a second writer on the same directory in the same process until the first closes', async () => {
      const first = await openLog({ partitions: 2 });
      const second = await openLog();
      await first.produce([record(null, 'from-first')]);

      const refused = second.produce([record(null, 'from-second')]);
      await expect(refused).rejects.toBeInstanceOf(WriterLockError);
      await expect(refused).rejects.toThrow('already has a writer in this process');

      await first.close();
      await second.produce([record('k', 'from-second')]);
      const all = [...(await readAll(second, 0)), ...(await readAll(second, 1))];
      expect(all.map((r) => r.value).sort()).toEqual(['from-first', 'from-second']);
    });

    it('gives the lock to one of two writers in the same process that start at once', async () => {
      const writers = [await openLog({ partitions: 1 }), await openLog()];
      const results = await Promise.allSettled(writers.map((log, i) => log.produce([record(null, `writer-${i}`)])));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(await highWatermarks(writers[0]!)).toEqual([1]);
    });

    it('keeps one lock file however many writers came and went', async () => {
      for (let i = 0; i < 5; i++) {
        const log = await openLog({ partitions: 1 });
        await log.produce([record(null, `writer-${i}`)]);
        await log.close();
      }
      expect(fs.readdirSync(join(dir, 'writer-lock'))).toHaveLength(1);
    });

    // Overlapping calls must not write at the same positions, nor open the writer files twice.
    it('keeps every record whose produce call resolved when calls on one writer overlap', async () => {
      const log = await openLog({ partitions: 1 });
      const rounds = [0, 1].map((round) =>
        Array.from({ length: 4 }, (_, b) => Array.from({ length: 3 }, (_, i) => record(null, `round${round}-batch${b}-record${i}-${'x'.repeat(b * 7)}`))),
      );
      const acknowledged: string[][] = [];
      for (const batches of rounds) {
        const results = await Promise.allSettled(batches.map((batch) => log.produce(batch)));
        batches.forEach((batch, b) => {
          if (results[b]!.status === 'fulfilled') acknowledged.push(batch.map((r) => decoder.decode(r.value)));
        });
      }
      expect(acknowledged).toHaveLength(8);

      const values = (await readAll(log, 0)).map((r) => r.value);
      expect([...values].sort()).toEqual(acknowledged.flat().sort());
      expect(await highWatermarks(log)).toEqual([values.length]);
      // Each call's records stay together and in order.
      for (const batch of acknowledged) {
        const at = values.indexOf(batch[0]!);
        expect(values.slice(at, at + batch.length)).toEqual(batch);
      }
    });

    it('lets a reader see records another instance produced, including ones produced after it opened', async () => {
      const writer = await openLog({ partitions: 2 });
      await writer.produce([record('k', 'first', T0)]);

      const reader = await openLog();
      const p = partitionForKey('k', 2);
      expect((await highWatermarks(reader))[p]).toBe(1);
      expect(await readAll(reader, p)).toEqual([{ partition: p, offset: 0, timestamp: T0, key: 'k', value: 'first' }]);

      await writer.produce([record('k', 'second', T0 + 1)]);
      expect((await highWatermarks(reader))[p]).toBe(2);
      expect(await readAll(reader, p, 1)).toEqual([{ partition: p, offset: 1, timestamp: T0 + 1, key: 'k', value: 'second' }]);
    });
  });

  describe('writer lock across processes', () => {
    const RACER = join(import.meta.dirname, '../../helpers/lock-racer.ts');
    const RACERS = 4;
    const ROUNDS = 12;

    /** A child process that races for the lock when told to (see test/helpers/lock-racer.ts). */
    interface Racer {
      race(dir: string, at: number): Promise<RaceOutcome>;
      kill(): Promise<void>;
    }

    async function startRacer(): Promise<Racer> {
      const child = spawn(process.execPath, [RACER], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      return {
        async race(raceDir, at) {
          child.stdin.write(`${JSON.stringify({ dir: raceDir, at })}\n`);
          const line = await lines.next();
          if (line.done) throw new Error(`racer ${child.pid} exited before answering`);
          return JSON.parse(line.value) as RaceOutcome;
        },
        async kill() {
          child.kill('SIGKILL');
          await exited;
        },
      };
    }

    // Every round races for a copy of one stale lock, left by a writer killed while holding it. Several
    // processes and many rounds make the moment between "its owner is dead" and "it is mine" hard to
    // miss: with a check-then-write takeover, some round lets two racers through or shows one a torn lock.
    it('lets exactly one of several processes take over a lock whose owner died, round after round', { timeout: 60_000 }, async () => {
      const started = await Promise.all(Array.from({ length: RACERS + 1 }, startRacer));
      const [crashed, ...racers] = started;
      try {
        const stale = join(dir, 'stale');
        expect(await crashed!.race(stale, Date.now())).toMatchObject({ won: true });
        await crashed!.kill();

        const rounds: { winners: number; refusedNamingWinner: number }[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const raceDir = join(dir, `round-${round}`);
          fs.cpSync(stale, raceDir, { recursive: true });
          // Far enough ahead for every racer to have opened the topic before the start.
          const outcomes = await Promise.all(racers.map((racer) => racer.race(raceDir, Date.now() + 60)));
          const winners = outcomes.filter((o) => o.won);
          const refused = outcomes.filter(
            (o) => !o.won && o.error === 'WriterLockError' && winners.length === 1 && o.message!.includes(`another streamlake process (pid ${winners[0]!.pid}) is producing to ${raceDir}; wait`),
          );
          rounds.push({ winners: winners.length, refusedNamingWinner: refused.length });
          if (winners.length === 1) {
            // The lock really is the winner's: a writer in this process is refused too, naming it.
            const log = await openLog({ dir: raceDir, topic: RACE_TOPIC });
            await expect(log.produce([record(null, 'late')])).rejects.toThrow(`pid ${winners[0]!.pid}`);
            // The crashed writer's record and the winner's: nothing else got in.
            expect(await highWatermarks(log)).toEqual([2]);
          }
        }
        expect(rounds).toEqual(Array.from({ length: ROUNDS }, () => ({ winners: 1, refusedNamingWinner: RACERS - 1 })));
      } finally {
        await Promise.all(started.map((racer) => racer.kill()));
      }
    });
  });
});
