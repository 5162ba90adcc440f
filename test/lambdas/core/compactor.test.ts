import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { CheckpointConflictError, compact, IncompleteReadError, type CompactionReport } from '../../../lambdas/core/compactor.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import { parseCheckpoint, serializeCheckpoint } from '../../../lambdas/core/checkpoint.ts';
import { checkpointKey, curatedPrefix, quarantinePrefix } from '../../../lambdas/core/lake-layout.ts';
import type { ObjectStore } from '../../../lambdas/ports/object-store.ts';
import type { TopicReader } from '../../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { FaultyStore, InjectedCrash, type FaultPlan, type StoreOp } from '../../helpers/faulty-store.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const CURATED_PREFIX = curatedPrefix(DEVICE_LOGS.name);
const QUARANTINE_PREFIX = quarantinePrefix(DEVICE_LOGS.name);

const START = Date.UTC(2026, 0, 15, 9, 30);
const MINUTE = 60_000;

describe('compactor', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  let lake: LocalDirectoryStore;
  let fleet: DeviceFleet;
  let minute: number;

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: 'device-logs', partitions: 4 });
    lake = new LocalDirectoryStore(join(dir.path, 'lake'));
    // Late and corrupt records, so runs span several hours and write quarantine files too.
    fleet = new DeviceFleet({ ...DEFAULTS, devices: 30, seed: 7, lateShare: 0.2, corruptShare: 0.03 });
    minute = 0;
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  async function produceMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await produceMinute(fleet, log, START + ++minute * MINUTE);
  }

  function run(store: ObjectStore = lake, maxRecordsPerRun = DEFAULTS.maxRecordsPerRun): Promise<CompactionReport> {
    return compact(
      { topic: log, store, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } },
      { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun },
    );
  }

  async function drain(): Promise<void> {
    while ((await run()).runId !== null);
  }

  async function expectExactlyOnce(): Promise<void> {
    const offsets = await log.offsets();
    const audit = await auditLake(lake.root, offsets);
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
    expect(audit.lakeRows + audit.quarantined).toBe(offsets.reduce((sum, o) => sum + o.highWatermark, 0));
    expect(audit.quarantined).toBeGreaterThan(0);
  }

  it('writes every record once, valid rows to Parquet and bad ones to quarantine', async () => {
    await produceMinutes(30);
    const report = await run();
    expect(report.recordsRead).toBe(900);
    expect(report.rowsWritten + report.quarantined).toBe(900);
    expect(report.files.length).toBeGreaterThan(1);
    expect(report.lag).toEqual({ 0: 0, 1: 0, 2: 0, 3: 0 });
    await expectExactlyOnce();
  });

  it('writes at most one file per hour and run, named from what the run read', async () => {
    await produceMinutes(90);
    const report = await run();
    const hours = report.files.map((key) => key.split('/').slice(2, 4).join('/'));
    expect(new Set(hours).size).toBe(report.files.length);
    expect(report.files.every((key) => key.includes(`run-00000001-${report.runId}`))).toBe(true);
  });

  it('reads nothing and writes nothing when the lake is up to date', async () => {
    await produceMinutes(5);
    await run();
    const report = await run();
    expect(report.runId).toBeNull();
    expect((await lake.list(CURATED_PREFIX)).length).toBeGreaterThan(0);
    expect(report.files).toEqual([]);
  });

  it('bounds a run by maxRecordsPerRun and catches up over several runs', async () => {
    await produceMinutes(20);
    const first = await run(lake, 100);
    expect(first.recordsRead).toBeLessThanOrEqual(100);
    expect(Object.values(first.lag).reduce((a, b) => a + b, 0)).toBe(600 - first.recordsRead);
    while ((await run(lake, 100)).runId !== null);
    await expectExactlyOnce();
  });

  const crashes: { step: string; plan: FaultPlan }[] = [
    { step: 'while claiming the run', plan: (op, _key, nth) => (op === 'compareAndSwap' && nth === 1 ? 'before' : undefined) },
    { step: 'right after the claim', plan: (op, _key, nth) => (op === 'compareAndSwap' && nth === 1 ? 'after' : undefined) },
    { step: 'after the first file', plan: (op, _key, nth) => (op === 'putIfAbsent' && nth === 1 ? 'after' : undefined) },
    { step: 'after some files', plan: (op, _key, nth) => (op === 'putIfAbsent' && nth === 3 ? 'before' : undefined) },
    { step: 'after the Parquet files, before quarantine', plan: (op, key) => (op === 'putIfAbsent' && key.startsWith(QUARANTINE_PREFIX) ? 'before' : undefined) },
    { step: 'after all files, before the checkpoint', plan: (op, _key, nth) => (op === 'compareAndSwap' && nth === 2 ? 'before' : undefined) },
    { step: 'after the checkpoint', plan: (op, _key, nth) => (op === 'compareAndSwap' && nth === 2 ? 'after' : undefined) },
  ];

  it.each(crashes)('leaves the lake exactly once when a run crashes $step and a later run follows', async ({ plan }) => {
    await produceMinutes(90);
    await expect(run(new FaultyStore(lake, plan))).rejects.toThrow(InjectedCrash);
    await produceMinutes(10); // the topic moves on before the retry
    await drain();
    await expectExactlyOnce();
  });

  it('finishes the crashed run under the same names instead of adding files', async () => {
    await produceMinutes(90);
    await expect(run(new FaultyStore(lake, (op, _key, nth) => (op === 'putIfAbsent' && nth === 2 ? 'after' : undefined)))).rejects.toThrow(InjectedCrash);
    const written = (await lake.list(CURATED_PREFIX)).map((e) => e.key);
    await produceMinutes(10);
    const retry = await run();
    expect(retry.resumed).toBe(true);
    expect(retry.sequence).toBe(1);
    expect(retry.files).toEqual(expect.arrayContaining(written));
    expect((await lake.list(CURATED_PREFIX)).map((e) => e.key).sort()).toEqual([...retry.files].sort());
  });

  it('never duplicates when two runs go at the same time', async () => {
    for (let round = 0; round < 5; round++) {
      await produceMinutes(15);
      const reports = await Promise.all([run(), run()]);
      expect(reports.some((r) => r.runId !== null)).toBe(true);
    }
    await drain();
    await expectExactlyOnce();
  });

  it('reports a run that lost the claim race as joined, and one that found an interrupted claim as resumed', async () => {
    await produceMinutes(10);
    // Both runs read the empty checkpoint before either claims: one claim wins, the other joins it.
    let arrived = 0;
    let bothArrived!: () => void;
    const barrier = new Promise<void>((resolve) => (bothArrived = resolve));
    const racing = () => {
      let first = true;
      return new FaultyStore(lake, undefined, async (op: StoreOp) => {
        if (op !== 'compareAndSwap' || !first) return;
        first = false;
        if (++arrived === 2) bothArrived();
        await barrier;
      });
    };
    const reports = await Promise.all([run(racing()), run(racing())]);
    expect(reports.map((r) => [r.resumed, r.joined]).sort()).toEqual([[false, false], [true, true]]);
    expect(new Set(reports.map((r) => r.runId)).size).toBe(1);

    await produceMinutes(5);
    await expect(run(new FaultyStore(lake, (op, _key, nth) => (op === 'putIfAbsent' && nth === 1 ? 'before' : undefined)))).rejects.toThrow(InjectedCrash);
    expect(await run()).toMatchObject({ resumed: true, joined: false });
    await expectExactlyOnce();
  });

  it('lets a stalled run finish harmlessly after another run completed its claim and moved on', async () => {
    await produceMinutes(30);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let stalled = false;
    // The first run stalls before its first file, as a paused Lambda would.
    const slow = new FaultyStore(lake, undefined, async (op: StoreOp) => {
      if (op === 'putIfAbsent' && !stalled) {
        stalled = true;
        await released;
      }
    });
    const stalledRun = run(slow);
    while (!stalled) await new Promise((resolve) => setTimeout(resolve, 5));
    const helper = await run();
    expect(helper.resumed).toBe(true);
    await produceMinutes(10);
    const next = await run();
    expect(next.sequence).toBe(2);
    release();
    const late = await stalledRun;
    expect(late.sequence).toBe(1);
    await drain();
    await expectExactlyOnce();
  });

  it('still reports a retention gap when the run that found it crashed and a later run finishes it', async () => {
    await produceMinutes(5);
    // Retention deleted partition 0's first five records before any run read them.
    const trimmed: TopicReader = {
      offsets: async () => (await log.offsets()).map((o) => (o.partition === 0 ? { ...o, earliest: 5 } : o)),
      read: (partition, from, to) => log.read(partition, partition === 0 ? Math.max(from, 5) : from, to),
      commitOffsets: async () => {},
      close: async () => {},
    };
    const runOn = (store: ObjectStore) => compact({ topic: trimmed, store, encoder: parquetEncoder(), clock: { now: () => START } }, compactorOptions(DEFAULTS, DEVICE_LOGS));
    await expect(runOn(new FaultyStore(lake, (op, _key, nth) => (op === 'putIfAbsent' && nth === 1 ? 'before' : undefined)))).rejects.toThrow(InjectedCrash);
    const resumed = await runOn(lake);
    expect(resumed.resumed).toBe(true);
    expect(resumed.gaps).toEqual([{ partition: 0, from: 0, to: 5 }]);
  });

  it('never commits past records a read stopped short of while they are still in the log', async () => {
    await produceMinutes(10);
    // As fetches from a new leader whose high watermark lags the one the run planned with: partition 0 ends at offset 3.
    const short: TopicReader = {
      offsets: () => log.offsets(),
      read: (partition, from, to) => log.read(partition, from, partition === 0 ? Math.min(to, 3) : to),
      commitOffsets: async () => {},
      close: async () => {},
    };
    const runOn = (topic: TopicReader) => compact({ topic, store: lake, encoder: parquetEncoder(), clock: { now: () => START } }, compactorOptions(DEFAULTS, DEVICE_LOGS));
    await expect(runOn(short)).rejects.toThrow(IncompleteReadError);
    const finished = await runOn(log);
    expect(finished.resumed).toBe(true);
    expect(finished.gaps).toEqual([]);
    await drain();
    await expectExactlyOnce();
  });

  it('finishes a crashed run with the limits it was claimed with when a deploy changed them', async () => {
    await produceMinutes(90);
    await expect(run(new FaultyStore(lake, (op, _key, nth) => (op === 'putIfAbsent' && nth === 1 ? 'after' : undefined)))).rejects.toThrow(InjectedCrash);
    // The new limits would quarantine every record as too large, including those the first file already holds.
    const tighter = compactorOptions({ ...DEFAULTS, maxRecordBytes: 10 }, DEVICE_LOGS);
    const resumed = await compact({ topic: log, store: lake, encoder: parquetEncoder(), clock: { now: () => START } }, tighter);
    expect(resumed.resumed).toBe(true);
    expect(resumed.quarantineReasons.too_large).toBeUndefined();
    await expectExactlyOnce();
    // The next run, claimed under the new limits, applies them.
    await produceMinutes(1);
    const next = await compact({ topic: log, store: lake, encoder: parquetEncoder(), clock: { now: () => START } }, tighter);
    expect(next.quarantineReasons.too_large).toBe(next.recordsRead);
  });

  it('refuses to finish a run claimed under another schema, saying how to proceed', async () => {
    await produceMinutes(5);
    await expect(run(new FaultyStore(lake, (op, _key, nth) => (op === 'putIfAbsent' && nth === 1 ? 'before' : undefined)))).rejects.toThrow(InjectedCrash);
    const key = checkpointKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup);
    const claimed = (await lake.get(key))!;
    const state = parseCheckpoint(claimed.body, key);
    await lake.compareAndSwap(key, serializeCheckpoint({ ...state, pending: { ...state.pending!, schema: '0123456789abcdef' } }), claimed.etag);
    await expect(run()).rejects.toThrow(/claimed under schema 0123456789abcdef.*Deploy the version that claimed it/);
    expect((await lake.list(CURATED_PREFIX)).length).toBe(0);
  });

  it('refuses to commit over a checkpoint that moved backwards under it', async () => {
    await produceMinutes(5);
    const sabotage = new FaultyStore(lake, undefined, async (op, key) => {
      // Someone resets the checkpoint between this run's claim and its commit.
      if (op === 'putIfAbsent' && key.startsWith(CURATED_PREFIX)) await lake.delete(checkpointKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup));
    });
    await expect(run(sabotage)).rejects.toThrow(CheckpointConflictError);
  });
});
