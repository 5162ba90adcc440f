import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { parseCheckpoint, runIdOf, type CheckpointState } from '../../../lambdas/core/checkpoint.ts';
import { compact, type CompactionReport } from '../../../lambdas/core/compactor.ts';
import { checkpointKey } from '../../../lambdas/core/lake-layout.ts';
import { ownsPartition, shardGroup, shardOf, shardOfGroup, ShardError, ShardLayoutChangedError, shardTopic, type Shard } from '../../../lambdas/core/shards.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../../lambdas/ports/object-store.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { FaultyStore, InjectedCrash } from '../../helpers/faulty-store.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const START = Date.UTC(2026, 0, 15, 9, 30);
const MINUTE = 60_000;
const GROUP = DEFAULTS.consumerGroup;

describe('shards', () => {
  it('name shard i of N by the group alone for one shard, else <group>.shard-i-of-N, and read back the same shard', () => {
    expect(shardGroup(GROUP, shardOf(0, 1))).toBe(GROUP);
    expect(shardGroup(GROUP, shardOf(2, 3))).toBe(`${GROUP}.shard-2-of-3`);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }).chain((count) => fc.tuple(fc.integer({ min: 0, max: count - 1 }), fc.constant(count))), ([index, count]) => {
        expect(shardOfGroup(GROUP, shardGroup(GROUP, { index, count }))).toEqual({ index, count });
      }),
    );
    expect(shardOfGroup(GROUP, `${GROUP}-other`)).toBeUndefined();
    expect(shardOfGroup(GROUP, 'redrive/ledger')).toBeUndefined();
  });

  it('give each partition to exactly one shard, and a partition added later to one shard without moving the others', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 50 }), (count, partitions, added) => {
        const owners = (n: number) => Array.from({ length: n }, (_, p) => Array.from({ length: count }, (_, i) => i).filter((i) => ownsPartition({ index: i, count }, p)));
        const before = owners(partitions);
        const after = owners(partitions + added);
        expect(after.every((o) => o.length === 1)).toBe(true);
        expect(after.slice(0, partitions)).toEqual(before);
      }),
    );
  });

  it('refuses a shard outside 0 … N-1, saying the range', () => {
    expect(() => shardOf(3, 3)).toThrow(ShardError);
    expect(() => shardOf(3, 3)).toThrow(/from 0 to 2/);
    expect(() => shardOf(-1, 2)).toThrow(ShardError);
    expect(() => shardOf(0.5, 2)).toThrow(ShardError);
  });

  it('name runs of different shards differently even at the same sequence: the run id hashes the disjoint ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 40 }), fc.array(fc.nat(1000), { minLength: 40, maxLength: 40 }), (count, partitions, starts) => {
        const ids = Array.from({ length: count }, (_, index) => {
          const ranges = Array.from({ length: partitions }, (_, p) => p).filter((p) => ownsPartition({ index, count }, p)).map((p) => ({ partition: p, from: starts[p]!, to: starts[p]! + 10 }));
          return ranges.length === 0 ? undefined : runIdOf(ranges);
        }).filter((id) => id !== undefined);
        expect(new Set(ids).size).toBe(ids.length);
      }),
    );
  });
});

describe('sharded compactor', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  let lake: LocalDirectoryStore;
  let fleet: DeviceFleet;
  let minute: number;

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: 'device-logs', partitions: 7 });
    lake = new LocalDirectoryStore(join(dir.path, 'lake'));
    fleet = new DeviceFleet({ ...DEFAULTS, devices: 40, seed: 11, lateShare: 0.1, corruptShare: 0.03 });
    minute = 0;
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  const produceMinutes = async (count: number) => {
    for (let i = 0; i < count; i++) await produceMinute(fleet, log, START + ++minute * MINUTE);
  };

  function run(shard: Shard, options: { store?: ObjectStore; maxRecordsPerRun?: number; takeOver?: boolean } = {}): Promise<CompactionReport> {
    return compact(
      { topic: log, store: options.store ?? lake, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } },
      { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: options.maxRecordsPerRun ?? 50, shard, ...(options.takeOver === undefined ? {} : { takeOver: options.takeOver }) },
    );
  }

  async function drain(shards: readonly Shard[], maxRecordsPerRun = 50): Promise<void> {
    for (let busy = [...shards]; busy.length > 0; ) {
      const reports = await Promise.all(busy.map((s) => run(s, { maxRecordsPerRun })));
      busy = busy.filter((_, i) => reports[i]!.runId !== null);
    }
  }

  async function checkpoint(shard: Shard): Promise<CheckpointState | undefined> {
    const key = checkpointKey(DEVICE_LOGS.name, shardGroup(GROUP, shard));
    const object = await lake.get(key);
    return object && parseCheckpoint(object.body, key);
  }

  async function expectExactlyOnce(): Promise<void> {
    const offsets = await log.offsets();
    const audit = await auditLake(lake.root, offsets);
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
    expect(audit.lakeRows + audit.quarantined).toBe(offsets.reduce((sum, o) => sum + o.highWatermark, 0));
  }

  const three = [0, 1, 2].map((i) => shardOf(i, 3));

  it('compacts three shards at once, each its own partitions under its own checkpoint, every record once', async () => {
    await produceMinutes(20);
    const reports = await Promise.all(three.map((s) => run(s, { maxRecordsPerRun: 10_000 })));
    for (const [i, report] of reports.entries()) {
      expect(Object.keys(report.lag).map(Number).every((p) => p % 3 === i)).toBe(true);
      expect(report.files.every((key) => key.includes('run-00000001-'))).toBe(true);
      const state = (await checkpoint(three[i]!))!;
      expect(Object.keys(state.offsets).map(Number).sort()).toEqual([0, 1, 2, 3, 4, 5, 6].filter((p) => p % 3 === i));
    }
    // Same sequence in every shard, never the same file.
    const files = reports.flatMap((r) => r.files);
    expect(new Set(files).size).toBe(files.length);
    expect(await lake.get(checkpointKey(DEVICE_LOGS.name, GROUP))).toBeUndefined();
    await expectExactlyOnce();
  });

  it('stays exactly once when shards crash at every step and a second copy of each races it', async () => {
    await produceMinutes(30);
    let n = 0;
    const crashing = new FaultyStore(lake, (op) => (op !== 'get' && op !== 'list' && ++n % 7 === 0 ? (n % 2 === 0 ? 'before' : 'after') : undefined));
    let crashes = 0;
    for (let round = 0; round < 200; round++) {
      const results = await Promise.allSettled(three.flatMap((s) => [run(s, { store: crashing }), run(s)]));
      for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof InjectedCrash)) throw r.reason;
      crashes += results.filter((r) => r.status === 'rejected').length;
      if (results.every((r) => r.status === 'fulfilled' && r.value.runId === null)) break;
    }
    expect(crashes).toBeGreaterThan(5);
    await drain(three);
    await expectExactlyOnce();
  });

  it('hands the partitions over from one compactor to three shards, then to two and back to one, with claims left pending', async () => {
    const one = shardOf(0, 1);
    const two = [0, 1].map((i) => shardOf(i, 2));
    await produceMinutes(10);
    await run(one);
    await run(one);
    // A crash after the claim: the old compactor's run stays pending for the takeover to finish.
    await expect(run(one, { store: new FaultyStore(lake, (op, key) => (op === 'putIfAbsent' && !key.startsWith('checkpoints/') ? 'before' : undefined)) })).rejects.toThrow(InjectedCrash);
    expect((await checkpoint(one))!.pending).not.toBeNull();
    await produceMinutes(5);
    await Promise.all(three.map((s) => run(s)));
    expect((await checkpoint(one))!.retired).toBeDefined();
    expect((await checkpoint(one))!.pending).toBeNull();
    // The old deployment, still running, stops instead of claiming.
    await expect(run(one, { takeOver: false })).rejects.toThrow(ShardLayoutChangedError);

    await produceMinutes(5);
    await run(three[1]!);
    await expect(run(three[2]!, { store: new FaultyStore(lake, (op, key) => (op === 'putIfAbsent' && !key.startsWith('checkpoints/') ? 'after' : undefined)) })).rejects.toThrow(InjectedCrash);
    await Promise.all(two.map((s) => run(s)));
    await expect(run(three[0]!, { takeOver: false })).rejects.toThrow(ShardLayoutChangedError);
    await produceMinutes(5);
    await drain(two);
    await produceMinutes(3);
    // Back to one: its own retired checkpoint comes back to life with the offsets the shards reached.
    await drain([one]);
    expect((await checkpoint(one))!.retired).toBeUndefined();
    await expectExactlyOnce();
  });

  it('never reads a record twice when deployments with two shard counts take over from each other at once', async () => {
    await produceMinutes(30);
    const counts = [2, 3, 1];
    for (let round = 0; round < 40; round++) {
      const shards = counts.flatMap((count) => Array.from({ length: count }, (_, i) => shardOf(i, count)));
      const results = await Promise.allSettled(shards.map((s) => run(s)));
      for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof ShardLayoutChangedError)) throw r.reason;
      if (round % 10 === 0) await produceMinutes(2);
    }
    await drain(three);
    await expectExactlyOnce();
  });

  it('shows a shard only its partitions', async () => {
    await produceMinutes(2);
    const view = shardTopic(log, shardOf(1, 3));
    expect((await view.offsets()).map((p) => p.partition)).toEqual([1, 4]);
    expect(() => view.read(0, 0, 1)).toThrow(ShardError);
  });
});
