import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { compactToBudget, compactToBudgetSettled, type CompactionBudget } from '../../../lambdas/core/compaction-loop.ts';
import { compact } from '../../../lambdas/core/compactor.ts';
import { shardOf } from '../../../lambdas/core/shards.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { TopicReader } from '../../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';
import { BROKERS_GONE, failingFromRead, pausingAfterBatches } from '../../helpers/compactor.ts';

const START = Date.UTC(2026, 0, 15, 9, 30);
const MINUTE = 60_000;

/** A Lambda's remaining time that each run spends `perRunMs` of (counted at every read of the topic's offsets: once per run, and once at the start). */
function simulatedBudget(totalMs: number, perRunMs: number, topic: TopicReader): { budget: CompactionBudget; topic: TopicReader } {
  let left = totalMs;
  return {
    budget: { remainingMs: () => left, floorMs: 1_000 },
    topic: { offsets: async () => ((left -= perRunMs), topic.offsets()), read: (p, f, t) => topic.read(p, f, t), commitOffsets: (g, o) => topic.commitOffsets(g, o), close: () => topic.close() },
  };
}

/** A Lambda's remaining time that each record read spends `perRecordMs` of: a run's time grows with its records. */
function perRecordBudget(totalMs: number, perRecordMs: number, topic: TopicReader): { budget: CompactionBudget; topic: TopicReader } {
  let left = totalMs;
  return { budget: { remainingMs: () => left, floorMs: 1_000 }, topic: pausingAfterBatches(topic, async (records) => void (left -= records.length * perRecordMs)) };
}

describe('compaction to a time budget', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  let lake: LocalDirectoryStore;
  let minute: number;
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: 30, seed: 3 });

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: 'device-logs', partitions: 4 });
    lake = new LocalDirectoryStore(join(dir.path, 'lake'));
    minute = 0;
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  const produceMinutes = async (count: number) => {
    for (let i = 0; i < count; i++) await produceMinute(fleet, log, START + ++minute * MINUTE);
  };
  const loop = (topic: TopicReader, budget: CompactionBudget, maxRecordsPerRun: number, shard = shardOf(0, 1)) =>
    compactToBudget({ topic, store: lake, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } }, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun, shard }, budget);

  it('runs until it reaches the high watermarks it saw at its start, each run within maxRecordsPerRun', async () => {
    await produceMinutes(20); // 600 records
    // 100 records a run over 4 partitions: 25 of each partition a run, so the fullest partition sets the number of runs.
    const needed = Math.max(...(await log.offsets()).map((p) => Math.ceil(p.highWatermark / 25)));
    const { budget, topic } = simulatedBudget(600_000, 1_000, log);
    const report = await loop(topic, budget, 100);
    expect(report).toMatchObject({ runs: needed, caughtUp: true, stoppedBy: 'caught-up', recordsRead: 600, sequence: needed });
    expect(Object.values(report.lag).every((lag) => lag === 0)).toBe(true);
    expect(report.longestRunMs).toBe(1_000);
    const audit = await auditLake(lake.root, await log.offsets());
    expect(audit.duplicates).toBe(0);
    expect(audit.lakeRows + audit.quarantined).toBe(600);
  });

  it('starts no run once the time left is below 1.5 × a full run\'s expected time plus the floor, and says it did not catch up', async () => {
    await produceMinutes(20);
    // 12 s left after the start, full runs of 2 s: after the fourth, 4 s are left, not more than 1.5 × 2 s + 1 s.
    const { budget, topic } = simulatedBudget(14_000, 2_000, log);
    const report = await loop(topic, budget, 100);
    expect(report).toMatchObject({ runs: 4, caughtUp: false, stoppedBy: 'budget' });
    expect(report.recordsRead).toBeLessThanOrEqual(400);
    expect(Object.values(report.lag).reduce((a, b) => a + b, 0)).toBe(600 - report.recordsRead);
  });

  it('always performs the first run, even with no time to spare', async () => {
    await produceMinutes(5);
    const report = await loop(log, { remainingMs: () => 0 }, 100);
    expect(report).toMatchObject({ runs: 1, recordsRead: 100, caughtUp: false, stoppedBy: 'budget' });
  });

  it('does not chase records produced after its start: it stops at the watermarks it first saw', async () => {
    await produceMinutes(4); // 120 records
    let produced = false;
    const report = await compactToBudget(
      { topic: log, store: lake, encoder: parquetEncoder(), clock: { now: () => START }, onProgress: () => void (produced ||= (void produceMinutes(10), true)) },
      { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 40 },
      { remainingMs: () => 600_000 },
    );
    expect(report.caughtUp).toBe(true);
    expect(report.recordsRead).toBeLessThan(120 + 300);
    expect(report.recordsRead).toBeGreaterThanOrEqual(120);
  });

  it('ends quietly, its runs committed, when a deployment with another shard count takes the partitions over between its runs', async () => {
    await produceMinutes(20);
    const deps = { topic: log, store: lake, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } };
    const inner: TopicReader = log;
    let looks = 0;
    // The third look at the offsets is the old compactor's second run starting: the new deployment's first shard takes over then.
    const topic: TopicReader = {
      offsets: async () => {
        if (++looks === 3) await compact(deps, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 100, shard: shardOf(0, 3) });
        return log.offsets();
      },
      read: (p, f, t) => inner.read(p, f, t), commitOffsets: (g, o) => inner.commitOffsets(g, o), close: () => inner.close(),
    };
    const old = await compactToBudget({ ...deps, topic }, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 100 }, { remainingMs: () => 600_000 });
    expect(old).toMatchObject({ runs: 1, stoppedBy: 'handed-over', caughtUp: false });
    for (const index of [0, 1, 2]) await loop(log, { remainingMs: () => 600_000 }, 100, shardOf(index, 3));
    const audit = await auditLake(lake.root, await log.offsets());
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
    expect(audit.lakeRows + audit.quarantined).toBe(600);
  });

  it('expects the next run to take as long as a full one: after a short resumed claim, starts no full run that would outlast the time left', async () => {
    await produceMinutes(1);
    // A run that failed after its claim of 2 records a partition: the next invocation's first run resumes that claim.
    const deps = { store: lake, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } };
    await expect(compact({ ...deps, topic: failingFromRead(log, 1) }, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 8 })).rejects.toThrow(BROKERS_GONE);
    await produceMinutes(19);
    // 100 ms a record: the resumed run takes 0.8 s, a full run of 100 records 10 s, and 9 s are left.
    const { budget, topic } = perRecordBudget(9_000, 100, log);
    const report = await loop(topic, budget, 100);
    expect(report).toMatchObject({ runs: 1, resumed: true, recordsRead: 8, stoppedBy: 'budget' });
    expect(budget.remainingMs()).toBeGreaterThanOrEqual(1_000);
  });

  it('tells what the runs before a failed run committed, besides its error; nothing when the first run fails', async () => {
    await produceMinutes(20);
    const settle = (topic: TopicReader) =>
      compactToBudgetSettled({ topic, store: lake, encoder: parquetEncoder(), clock: { now: () => START } }, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 100 }, { remainingMs: () => 600_000 });
    // A run reads each of the 4 partitions once: the ninth read is the third run's.
    const failed = await settle(failingFromRead(log, 9));
    expect(failed).toMatchObject({ ok: false, error: { message: BROKERS_GONE }, committed: { runs: 2, sequence: 2, recordsRead: 200, caughtUp: false, stoppedBy: 'failed' } });
    // The next invocation resumes the third run's claim, and fails at its first read.
    expect(await settle(failingFromRead(log, 1))).toEqual({ ok: false, error: new Error(BROKERS_GONE) });
    await expect(loop(failingFromRead(log, 1), { remainingMs: () => 600_000 }, 100)).rejects.toThrow(BROKERS_GONE);
  });

  it('reports nothing to do as caught up without a run', async () => {
    const report = await loop(log, { remainingMs: () => 600_000 }, 100);
    expect(report).toMatchObject({ runs: 0, caughtUp: true, runId: null, recordsRead: 0 });
  });
});
