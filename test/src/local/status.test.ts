import { describe, expect, it } from 'vitest';
import { parseCheckpoint, type CheckpointState } from '../../../lambdas/core/checkpoint.ts';
import { shardOf } from '../../../lambdas/core/shards.ts';
import { describeStatus } from '../../../src/cli/status-command.ts';
import type { TableCheckpoints } from '../../../src/local/shard-status.ts';
import { attentionReasons, formatAge, statusFromCheckpoint, statusFromShards, type TableStatus } from '../../../src/local/status.ts';
import { STATUS_DEFAULTS } from '../../../src/local/status-thresholds.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const MINUTE_MS = 60_000;

function table(overrides: Partial<TableStatus> = {}): TableStatus {
  return {
    table: 't', sequence: 1, lastRunAt: null, lastRun: null, pendingSince: null, pendingSequence: null,
    lag: { source: 'live', partitions: {}, total: 0 }, lagAfterLastRun: null, newestEventTime: null, quarantined24h: {}, unknownFields: [], ...overrides,
  };
}

describe('statusFromCheckpoint', () => {
  it('reads a checkpoint written before commits recorded their run: no last-run figures, lag unknown without the topic', () => {
    const old = parseCheckpoint(new TextEncoder().encode('{"format":1,"sequence":7,"offsets":{"0":10},"pending":null}'), 'k');
    expect(statusFromCheckpoint('t', old, undefined)).toEqual({
      table: 't', sequence: 7, lastRunAt: null, lastRun: null, pendingSince: null, pendingSequence: null, lag: { source: 'unknown', partitions: {}, total: null }, lagAfterLastRun: null, unknownFields: [],
    });
  });

  it('takes live lag from the high watermarks against the checkpoint offsets, a partition never read from its earliest offset', () => {
    const state: CheckpointState = { format: 1, sequence: 2, offsets: { 0: 10, 1: 4 }, pending: null };
    const live = [
      { partition: 0, earliest: 0, highWatermark: 15 },
      { partition: 1, earliest: 0, highWatermark: 4 },
      { partition: 2, earliest: 3, highWatermark: 9 },
    ];
    expect(statusFromCheckpoint('t', state, live).lag).toEqual({ source: 'live', partitions: { 0: 5, 1: 0, 2: 6 }, total: 11 });
  });

  it('falls back to the last run\'s lag, and reports its run and a pending claim', () => {
    const state: CheckpointState = {
      format: 1, sequence: 3, offsets: { 0: 10 }, pending: { sequence: 4, runId: 'r', ranges: [], startedAt: NOW - MINUTE_MS },
      lastRun: { sequence: 3, committedAt: NOW - 5 * MINUTE_MS, records: 9, rows: 8, quarantined: 1, lag: { 0: 2, 1: 3 }, unknownFields: ['x'] },
    };
    expect(statusFromCheckpoint('t', state, undefined)).toEqual({
      table: 't', sequence: 3, lastRunAt: '2026-11-27T11:55:00.000Z', lastRun: { records: 9, rows: 8, quarantined: 1 }, pendingSince: '2026-11-27T11:59:00.000Z', pendingSequence: 4,
      lag: { source: 'last-run', partitions: { 0: 2, 1: 3 }, total: 5 }, lagAfterLastRun: 5, unknownFields: ['x'],
    });
  });
});

describe('statusFromShards', () => {
  const live = [0, 1, 2, 3, 4].map((partition) => ({ partition, earliest: 0, highWatermark: 100 }));
  const shard = (offsets: Record<number, number>, pending?: number): CheckpointState => ({
    format: 1, sequence: 4, offsets, pending: pending === undefined ? null : { sequence: 5, runId: 'r', ranges: [], startedAt: pending }, generation: 1,
  });

  it('is the checkpoint\'s status for one shard, unchanged', () => {
    const state = shard({ 0: 10 });
    expect(statusFromShards('t', { layout: { count: 1, generation: 1 }, checkpoints: [{ shard: shardOf(0, 1), state }] }, live)).toEqual(statusFromCheckpoint('t', state, live));
  });

  it('sums the live lag of each shard over its own partitions, takes the oldest claim of any shard, and lists each shard', () => {
    const status = statusFromShards('t', { layout: { count: 2, generation: 1 }, checkpoints: [
      { shard: shardOf(0, 2), state: shard({ 0: 90, 2: 100, 4: 100 }) },
      { shard: shardOf(1, 2), state: shard({ 1: 50, 3: 100 }, NOW - 30 * MINUTE_MS) },
    ] }, live);
    expect(status.lag).toEqual({ source: 'live', partitions: { 0: 10, 1: 50, 2: 0, 3: 0, 4: 0 }, total: 60 });
    expect(status).toMatchObject({ pendingSequence: 5, pendingSince: new Date(NOW - 30 * MINUTE_MS).toISOString() });
    expect(status.shards!.map((s) => [s.shard, s.of, s.lag.total, s.pendingSequence])).toEqual([[0, 2, 10, null], [1, 2, 50, 5]]);
    const full = { ...status, newestEventTime: null, quarantined24h: {} };
    expect(attentionReasons([full], STATUS_DEFAULTS, NOW)).toEqual([expect.stringMatching(/^t: run 5 of shard 1 was claimed 30m 0s ago/)]);
    const text = describeStatus([full], NOW);
    expect(text).toMatch(/^table\s+shard\s+run\s+committed\s+pending since\s+lag$/m);
    expect(text).toMatch(/^t\s+0 of 2\s+4\s+NULL\s+-\s+10 \(live\)$/m);
    expect(text).toMatch(/^t\s+1 of 2\s+4\s+NULL\s+2026-11-27 11:30:00 \(run 5\)\s+50 \(live\)$/m);
  });
});

describe('statusFromShards during a handover', () => {
  const live = [0, 1, 2, 3, 4].map((partition) => ({ partition, earliest: 0, highWatermark: 100 }));
  const run = (committedAt: number, lag: Record<number, number>): CheckpointState['lastRun'] => ({ sequence: 1, committedAt, records: 1, rows: 1, quarantined: 0, lag, unknownFields: [] });
  // 3 shards, then 2, then 3 again: shard 0 of 3 took over, shard 1 of 3 still has its checkpoint of the first generation, shard 2 of 3 none.
  const threeTwoThree: TableCheckpoints = {
    layout: { count: 3, generation: 2 },
    checkpoints: [
      { shard: shardOf(0, 3), state: { format: 1, sequence: 9, offsets: { 0: 100, 3: 100 }, pending: null, generation: 2, lastRun: run(NOW - MINUTE_MS, { 0: 0, 3: 0 }) } },
      { shard: shardOf(1, 3), state: { format: 1, sequence: 7, offsets: { 1: 10, 4: 10 }, pending: null, generation: 0, retired: { at: NOW - 60 * MINUTE_MS, generation: 1 }, lastRun: run(NOW - 61 * MINUTE_MS, { 1: 90, 4: 90 }) } },
      { shard: shardOf(0, 2), state: { format: 1, sequence: 5, offsets: { 0: 95, 2: 95, 4: 95 }, pending: null, generation: 1, retired: { at: NOW - 2 * MINUTE_MS, generation: 2 }, lastRun: run(NOW - 3 * MINUTE_MS, { 0: 5, 2: 5, 4: 5 }) } },
      { shard: shardOf(1, 2), state: { format: 1, sequence: 5, offsets: { 1: 95, 3: 95 }, pending: null, generation: 1, retired: { at: NOW - 2 * MINUTE_MS, generation: 2 }, lastRun: run(NOW - 3 * MINUTE_MS, { 1: 5, 3: 5 }) } },
    ],
  };

  it('lags each partition from the furthest offset any generation committed, where the takeover starts it', () => {
    const status = statusFromShards('t', threeTwoThree, live);
    expect(status.handover).toEqual({ from: 2, to: 3, waiting: [1, 2], claims: [] });
    expect(status.lag).toEqual({ source: 'live', partitions: { 0: 0, 1: 5, 2: 5, 3: 0, 4: 5 }, total: 15 });
    // A shard that has not taken over shows as its takeover leaves it: its sequence, no run of an earlier generation.
    expect(status.shards!.map((s) => [s.shard, s.sequence, s.lastRunAt, s.lag.total])).toEqual([[0, 9, new Date(NOW - MINUTE_MS).toISOString(), 0], [1, 7, null, 10], [2, 0, null, 5]]);
  });

  it('takes each partition\'s last-run lag from the latest run of any generation that read it', () => {
    const status = statusFromShards('t', threeTwoThree, undefined);
    expect(status.lag).toEqual({ source: 'last-run', partitions: { 0: 0, 1: 5, 2: 5, 3: 0, 4: 5 }, total: 15 });
    expect(status.lagAfterLastRun).toBe(15);
  });

  it('is over once every shard took over and no earlier checkpoint awaits retirement', () => {
    const done: TableCheckpoints = {
      ...threeTwoThree,
      checkpoints: [...threeTwoThree.checkpoints.slice(0, 1), ...threeTwoThree.checkpoints.slice(2), ...[1, 2].map((i) => ({ shard: shardOf(i, 3), state: { format: 1 as const, sequence: 1, offsets: {}, pending: null, generation: 2 } }))],
    };
    expect(statusFromShards('t', done, live).handover).toBeUndefined();
  });

  it('names an earlier generation\'s claim the handover waits for, as stuck by the same rule as any claim, in the reasons and the human output', () => {
    const claimed = (minutesAgo: number): TableCheckpoints => ({
      layout: { count: 3, generation: 1 },
      checkpoints: [{ shard: shardOf(0, 1), state: { format: 1, sequence: 4, offsets: { 0: 90, 1: 80, 2: 70 }, pending: { sequence: 5, runId: 'r', ranges: [], startedAt: NOW - minutesAgo * MINUTE_MS }, generation: 0 } }],
    });
    const stuck = { ...statusFromShards('t', claimed(30), live.slice(0, 3)), newestEventTime: null, quarantined24h: {} };
    expect(stuck.handover).toEqual({ from: 1, to: 3, waiting: [0, 1, 2], claims: [{ shard: 0, of: 1, pendingSince: '2026-11-27T11:30:00.000Z', pendingSequence: 5 }] });
    expect(stuck.lag).toEqual({ source: 'live', partitions: { 0: 10, 1: 20, 2: 30 }, total: 60 });
    expect(attentionReasons([stuck], STATUS_DEFAULTS, NOW)).toEqual([
      't: run 5 of shard 0 of 1 was claimed 30m 0s ago and has not committed (more than 10 min): the handover to 3 shards waits for it, and each invocation of the new compactors tries to finish it first; ' +
        'look at their logs (a claim made under a declaration that changed since cannot finish: deploy the declaration it was claimed under until it commits)',
    ]);
    expect(describeStatus([stuck], NOW)).toMatch(/^t\s+1 → 3 shards\s+shard 0, 1, 2\s+shard 0 of 1: 2026-11-27 11:30:00 \(run 5\) stuck$/m);
    const running = { ...statusFromShards('t', claimed(5), live.slice(0, 3)), newestEventTime: null, quarantined24h: {} };
    expect(attentionReasons([running], STATUS_DEFAULTS, NOW)).toEqual([]);
    expect(describeStatus([running], NOW)).toMatch(/^t\s+1 → 3 shards\s+shard 0, 1, 2\s+shard 0 of 1: 2026-11-27 11:55:00 \(run 5\)$/m);
  });
});

describe('attentionReasons', () => {
  const at = (minutesAgo: number) => new Date(NOW - minutesAgo * MINUTE_MS).toISOString();

  it('finds nothing in a table that is fresh, caught up and has no old claim', () => {
    expect(attentionReasons([table({ pendingSince: at(9), pendingSequence: 2, newestEventTime: at(14), lag: { source: 'live', partitions: {}, total: STATUS_DEFAULTS.maxLag } })], STATUS_DEFAULTS, NOW)).toEqual([]);
  });

  it('flags a claim older than stuckAfterMinutes, a lag above maxLag and data older than staleAfterMinutes', () => {
    const reasons = attentionReasons([table({ pendingSince: at(11), pendingSequence: 2, newestEventTime: at(16), lag: { source: 'last-run', partitions: {}, total: 11 } })], { stuckAfterMinutes: 10, staleAfterMinutes: 15, maxLag: 10 }, NOW);
    expect(reasons).toEqual([
      't: run 2 was claimed 11m 0s ago and has not committed (more than 10 min): the compactor crashed or is stuck; its next run finishes the claim, so look at its logs',
      't: 11 records not compacted (last-run lag), more than 10: the compactor falls behind',
      't: the newest event in the lake is 16m 0s old (more than 15 min): no fresh data is arriving or being compacted',
    ]);
  });

  it('flags a live lag that grew past what the last run left behind, and not one the last run caught up with', () => {
    const behind = table({ lagAfterLastRun: 500, lag: { source: 'live', partitions: {}, total: 900 } });
    expect(attentionReasons([behind], STATUS_DEFAULTS, NOW)).toEqual([
      't: lag is growing: the last run left 500 records behind and 900 are not compacted now: the topic gets more records per period than one run may read (maxRecordsPerRun), or runs fail',
    ]);
    expect(attentionReasons([{ ...behind, lag: { source: 'live', partitions: {}, total: 400 } }], STATUS_DEFAULTS, NOW)).toEqual([]);
    expect(attentionReasons([{ ...behind, lagAfterLastRun: 0 }], STATUS_DEFAULTS, NOW)).toEqual([]);
  });

  it('does not call an empty table stale, nor an unknown lag too high', () => {
    expect(attentionReasons([table({ newestEventTime: null, lag: { source: 'unknown', partitions: {}, total: null } })], { ...STATUS_DEFAULTS, maxLag: 0 }, NOW)).toEqual([]);
  });
});

describe('formatAge', () => {
  it('prints the two largest units', () => {
    expect([0, 59_000, 90_000, 7_200_000, 2 * 86_400_000 + 3_600_000].map(formatAge)).toEqual(['0s', '59s', '1m 30s', '2h 0m', '2d 1h']);
  });
});
