import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointAheadError,
  CheckpointFormatError,
  commitRun,
  EMPTY_CHECKPOINT,
  parseCheckpoint,
  planRun,
  runIdOf,
  serializeCheckpoint,
  type CheckpointState,
  type OffsetRange,
  type PendingRun,
} from '../../../lambdas/core/checkpoint.ts';
import type { PartitionOffsets } from '../../../lambdas/ports/topic.ts';

const KEY = 'checkpoints/device_logs/streamlake-compactor.json';

function stateWith(offsets: Record<string, number>, sequence = 1): CheckpointState {
  return { format: 1, sequence, offsets, pending: null };
}

function pendingRun(sequence: number, ranges: OffsetRange[]): PendingRun {
  return { sequence, runId: runIdOf(ranges), ranges, startedAt: Date.UTC(2026, 0, 31, 12) };
}

function total(ranges: readonly OffsetRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.to - r.from), 0);
}

/** Partitions 0..n-1, each with a log `[earliest, highWatermark)`, and a checkpoint that may lag, lead or skip retention. */
const topicAndState = fc
  .array(
    fc.record({
      earliest: fc.nat({ max: 10_000 }),
      length: fc.nat({ max: 10_000 }),
      // undefined: never committed; otherwise the committed offset relative to earliest (negative: retention passed it).
      committed: fc.option(fc.integer({ min: -5_000, max: 10_000 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((specs) => {
    const partitions: PartitionOffsets[] = specs.map((s, partition) => ({ partition, earliest: s.earliest, highWatermark: s.earliest + s.length }));
    const offsets: Record<string, number> = {};
    specs.forEach((s, partition) => {
      if (s.committed !== undefined) offsets[partition] = Math.max(0, Math.min(s.earliest + s.committed, s.earliest + s.length));
    });
    return { partitions, state: stateWith(offsets) };
  });

describe('planRun', () => {
  it('starts every partition at offset 0 when there is no checkpoint, reporting what retention deleted before the first run as a gap', () => {
    const partitions = [
      { partition: 0, earliest: 5, highWatermark: 20 },
      { partition: 1, earliest: 0, highWatermark: 3 },
    ];
    expect(planRun(EMPTY_CHECKPOINT, partitions, 1_000)).toEqual({
      ranges: [
        { partition: 0, from: 5, to: 20 },
        { partition: 1, from: 0, to: 3 },
      ],
      gaps: [{ partition: 0, from: 0, to: 5 }],
    });
  });

  it('continues each partition from its committed offset and skips partitions with nothing new', () => {
    const partitions = [
      { partition: 0, earliest: 0, highWatermark: 20 },
      { partition: 1, earliest: 0, highWatermark: 3 },
      { partition: 2, earliest: 0, highWatermark: 0 },
    ];
    expect(planRun(stateWith({ 0: 12, 1: 3 }), partitions, 1_000)).toEqual({ ranges: [{ partition: 0, from: 12, to: 20 }], gaps: [] });
  });

  it('shares maxRecordsPerRun evenly between partitions', () => {
    const partitions = [0, 1, 2].map((partition) => ({ partition, earliest: 0, highWatermark: 1_000 }));
    expect(planRun(EMPTY_CHECKPOINT, partitions, 300).ranges).toEqual([
      { partition: 0, from: 0, to: 100 },
      { partition: 1, from: 0, to: 100 },
      { partition: 2, from: 0, to: 100 },
    ]);
  });

  it('never reads more than maxRecordsPerRun in all, nor more than an even share per partition', () => {
    fc.assert(
      fc.property(topicAndState, fc.integer({ min: 1, max: 50_000 }), ({ partitions, state }, extra) => {
        const maxRecordsPerRun = partitions.length + extra;
        const share = Math.floor(maxRecordsPerRun / partitions.length);
        const { ranges } = planRun(state, partitions, maxRecordsPerRun);
        expect(total(ranges)).toBeLessThanOrEqual(maxRecordsPerRun);
        for (const range of ranges) {
          const log = partitions[range.partition]!;
          const start = Math.max(state.offsets[range.partition] ?? log.earliest, log.earliest);
          expect(range.from).toBe(start);
          expect(range.to).toBe(Math.min(log.highWatermark, start + share));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never returns an empty range for a partition without a gap', () => {
    fc.assert(
      fc.property(topicAndState, fc.integer({ min: 1, max: 20_000 }), ({ partitions, state }, maxRecordsPerRun) => {
        const { ranges, gaps } = planRun(state, partitions, maxRecordsPerRun);
        for (const range of ranges) {
          expect(range.to).toBeGreaterThanOrEqual(range.from);
          if (range.to === range.from) expect(gaps.map((gap) => gap.partition)).toContain(range.partition);
        }
        // Every partition with unread records gets a range.
        for (const log of partitions) {
          const next = Math.max(state.offsets[log.partition] ?? log.earliest, log.earliest);
          if (next < log.highWatermark) expect(ranges.map((r) => r.partition)).toContain(log.partition);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports a gap when retention deleted offsets past the checkpoint, with a range that moves the commit past it', () => {
    const plan = planRun(stateWith({ 0: 10 }), [{ partition: 0, earliest: 50, highWatermark: 60 }], 1_000);
    expect(plan).toEqual({ gaps: [{ partition: 0, from: 10, to: 50 }], ranges: [{ partition: 0, from: 50, to: 60 }] });
  });

  it('plans an empty range over a gap with no records after it, so the commit still skips the gap', () => {
    const state = stateWith({ 0: 10 });
    const partitions = [{ partition: 0, earliest: 50, highWatermark: 50 }];
    const plan = planRun(state, partitions, 1_000);
    expect(plan).toEqual({ gaps: [{ partition: 0, from: 10, to: 50 }], ranges: [{ partition: 0, from: 50, to: 50 }] });
    const committed = commitRun(state, pendingRun(2, plan.ranges));
    expect(committed.offsets[0]).toBe(50);
    expect(planRun(committed, partitions, 1_000)).toEqual({ ranges: [], gaps: [] });
  });

  it('has nothing left to read after committing a run that was not capped', () => {
    fc.assert(
      fc.property(topicAndState, ({ partitions, state }) => {
        const plan = planRun(state, partitions, 1_000_000);
        const next = commitRun(state, pendingRun(state.sequence + 1, plan.ranges));
        expect(planRun(next, partitions, 1_000_000)).toEqual({ ranges: [], gaps: [] });
      }),
    );
  });
});

describe('planRun on a topic behind its checkpoint', () => {
  it('refuses to plan, saying the topic was recreated and how to start over', () => {
    const partitions: PartitionOffsets[] = [{ partition: 0, earliest: 0, highWatermark: 10 }];
    expect(() => planRun(stateWith({ 0: 500 }), partitions, 100)).toThrow(CheckpointAheadError);
    expect(() => planRun(stateWith({ 0: 500 }), partitions, 100)).toThrow(/recreated.*Delete the checkpoint/s);
  });
});

describe('commitRun', () => {
  it('moves each read partition to its range end, keeps the others and clears pending', () => {
    const run = pendingRun(4, [
      { partition: 0, from: 10, to: 15 },
      { partition: 2, from: 30, to: 31 },
    ]);
    const state: CheckpointState = { format: 1, sequence: 3, offsets: { 0: 10, 1: 20, 2: 30 }, pending: run };
    expect(commitRun(state, run)).toEqual({ format: 1, sequence: 4, offsets: { 0: 15, 1: 20, 2: 31 }, pending: null });
    // The state it was given is left as it was.
    expect(state.offsets).toEqual({ 0: 10, 1: 20, 2: 30 });
    expect(state.pending).toBe(run);
  });

  it('adds partitions the checkpoint did not know yet', () => {
    expect(commitRun(EMPTY_CHECKPOINT, pendingRun(1, [{ partition: 3, from: 0, to: 7 }]))).toEqual({ format: 1, sequence: 1, offsets: { 3: 7 }, pending: null });
  });
});

describe('runIdOf', () => {
  const range = fc.record({ partition: fc.nat({ max: 63 }), from: fc.nat({ max: 1e12 }), to: fc.nat({ max: 1e12 }) });
  const ranges = fc.array(range, { minLength: 1, maxLength: 8 });

  it('is deterministic: the same ranges always name the same run', () => {
    fc.assert(
      fc.property(ranges, (rs) => {
        const id = runIdOf(rs);
        expect(id).toMatch(/^[0-9a-f]{16}$/);
        expect(runIdOf(rs.map((r) => ({ ...r })))).toBe(id);
      }),
    );
  });

  it('changes when any range changes', () => {
    fc.assert(
      fc.property(
        ranges,
        fc.nat(),
        fc.constantFrom('partition', 'from', 'to'),
        fc.integer({ min: 1, max: 1_000 }),
        (rs, pick, field, delta) => {
          const index = pick % rs.length;
          const changed = rs.map((r, i) => (i === index ? { ...r, [field]: r[field] + delta } : r));
          expect(runIdOf(changed)).not.toBe(runIdOf(rs));
        },
      ),
    );
  });

  it('changes when a range is added or dropped', () => {
    const base = [{ partition: 0, from: 0, to: 10 }];
    expect(runIdOf([...base, { partition: 1, from: 0, to: 0 }])).not.toBe(runIdOf(base));
    expect(runIdOf([])).not.toBe(runIdOf(base));
  });
});

describe('parseCheckpoint', () => {
  const encoder = new TextEncoder();

  function parseError(text: string): Error {
    try {
      parseCheckpoint(encoder.encode(text), KEY);
    } catch (error) {
      return error as Error;
    }
    throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
  }

  function expectFormatError(text: string): void {
    const error = parseError(text);
    expect(error, text).toBeInstanceOf(CheckpointFormatError);
    expect(error.name).toBe('CheckpointFormatError');
    // The message names the object and says how to recover.
    expect(error.message).toContain(KEY);
    expect(error.message).toMatch(/restore it from a bucket version or delete it/);
  }

  it('rejects a body that is not JSON, saying what to do', () => {
    expectFormatError('{"format": 1, "sequence": ');
    expectFormatError('');
    expect(parseError('not json').message).toMatch(/not JSON/);
  });

  it('rejects JSON of an unknown format, saying what to do', () => {
    expectFormatError(JSON.stringify({ ...EMPTY_CHECKPOINT, format: 2 }));
    expectFormatError(JSON.stringify({ sequence: 0, offsets: {}, pending: null }));
    expectFormatError(JSON.stringify({ format: 1, sequence: '3', offsets: {}, pending: null }));
    expectFormatError(JSON.stringify({ format: 1, sequence: 3, offsets: {} }));
    expectFormatError('{}');
    expectFormatError('[]');
    expectFormatError('42');
    expect(parseError('{}').message).toMatch(/unknown format/);
  });

  it('rejects a JSON null body with CheckpointFormatError', () => {
    expectFormatError('null');
  });

  it('rejects a checkpoint whose offsets are null', () => {
    // planRun would otherwise fail later with a TypeError that says nothing about the checkpoint.
    expectFormatError(JSON.stringify({ format: 1, sequence: 3, offsets: null, pending: null }));
  });

  it('round-trips what serializeCheckpoint wrote', () => {
    const offsetRange = fc.record({ partition: fc.nat({ max: 63 }), from: fc.nat({ max: 1e12 }), to: fc.nat({ max: 1e12 }) });
    const pending = fc.record({
      sequence: fc.integer({ min: 1, max: 1e9 }),
      runId: fc.stringMatching(/^[0-9a-f]{16}$/),
      ranges: fc.array(offsetRange, { maxLength: 8 }),
      startedAt: fc.nat({ max: Date.parse('2100-01-01T00:00:00Z') }),
    });
    const state: fc.Arbitrary<CheckpointState> = fc.record({
      format: fc.constant(1 as const),
      sequence: fc.nat({ max: 1e9 }),
      offsets: fc.dictionary(fc.nat({ max: 63 }).map(String), fc.nat({ max: 1e12 })),
      pending: fc.option(pending, { nil: null }),
    });
    fc.assert(
      fc.property(state, (s) => {
        expect(parseCheckpoint(serializeCheckpoint(s), KEY)).toEqual(s);
      }),
    );
  });
});
