import { createHash } from 'node:crypto';
import type { ObjectStore } from '../ports/object-store.ts';
import type { PartitionOffsets } from '../ports/topic.ts';
import type { ValidationLimits } from './decode.ts';
import type { Shard } from './shards.ts';

/** Offsets `[from, to)` of one partition that a run reads. */
export interface OffsetRange {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** A run that has claimed its ranges but not committed yet: whoever finds it finishes it. */
export interface PendingRun {
  /** Run number: one more than the last committed run. */
  readonly sequence: number;
  /** Derived from the ranges; names the run's files. */
  readonly runId: string;
  readonly ranges: readonly OffsetRange[];
  /** Epoch ms when the run was claimed. */
  readonly startedAt: number;
  /** Gaps the plan found before the ranges (kept with the claim, so a resumed run still reports them). */
  readonly gaps?: readonly OffsetGap[];
  /**
   * What the verdicts depend on, as the claiming run had it: a run resumed after a deploy changed
   * the limits still judges every record as its first attempt did, so no record lands both in
   * Parquet and in quarantine, or in neither. (Absent in claims written before they were recorded.)
   */
  readonly limits?: ValidationLimits;
  /** The {@link SCHEMA_FINGERPRINT} the run was claimed under. */
  readonly schema?: string;
  /** The shard that claimed it, when the table's compactor runs in several (absent for one). */
  readonly shard?: Shard;
}

/** Offsets that retention deleted before they were compacted. */
export interface OffsetGap {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The compactor's durable state, one object per consumer group. `offsets` holds, per partition,
 * the next offset to read: everything before it is in the lake (or in quarantine).
 */
export interface CheckpointState {
  readonly format: 1;
  /** Sequence of the last committed run (0 before the first). */
  readonly sequence: number;
  readonly offsets: Readonly<Record<string, number>>;
  readonly pending: PendingRun | null;
  /** What the last committed run did, for `streamlake status` (absent in checkpoints written before it was recorded). */
  readonly lastRun?: LastRun;
  /** The shard layout generation it was written in (see `ShardLayout`); absent means 0, one shard. */
  readonly generation?: number;
  /**
   * Set when a compactor of another shard count took its partitions over: it is never claimed from
   * again, and its offsets stay as they were for the takeover to read.
   */
  readonly retired?: { readonly at: number; readonly generation: number };
}

/** The figures of the last committed run, kept in the checkpoint it committed. */
export interface LastRun {
  readonly sequence: number;
  /** Epoch ms of the commit, by the compactor's clock. */
  readonly committedAt: number;
  /** Records the run read, rows it wrote and records it quarantined. */
  readonly records: number;
  readonly rows: number;
  readonly quarantined: number;
  /** Records left in each partition after the run, by the high watermarks seen at its start. */
  readonly lag: Readonly<Record<string, number>>;
  /** Fields the declaration does not name that the run's records carried. */
  readonly unknownFields: readonly string[];
}

export const EMPTY_CHECKPOINT: CheckpointState = { format: 1, sequence: 0, offsets: {}, pending: null };

export class CheckpointFormatError extends Error {
  override name = 'CheckpointFormatError';
}

export function parseCheckpoint(body: Uint8Array, key: string): CheckpointState {
  let state: Partial<CheckpointState> | null;
  try {
    state = JSON.parse(new TextDecoder().decode(body)) as Partial<CheckpointState> | null;
  } catch (error) {
    throw new CheckpointFormatError(`checkpoint ${key} is not JSON (${(error as Error).message}); restore it from a bucket version or delete it to recompact from the earliest offsets`);
  }
  if (
    typeof state !== 'object' || state === null || state.format !== 1 || typeof state.sequence !== 'number' ||
    typeof state.offsets !== 'object' || state.offsets === null || state.pending === undefined
  ) {
    throw new CheckpointFormatError(`checkpoint ${key} has an unknown format; restore it from a bucket version or delete it to recompact from the earliest offsets`);
  }
  return state as CheckpointState;
}

/** The checkpoint at `key` and its tag, for the compare-and-swap that replaces it; the empty one (tag null) when there is none. */
export async function loadCheckpoint(store: ObjectStore, key: string): Promise<{ state: CheckpointState; etag: string | null }> {
  const object = await store.get(key);
  return object ? { state: parseCheckpoint(object.body, key), etag: object.etag } : { state: EMPTY_CHECKPOINT, etag: null };
}

export function serializeCheckpoint(state: CheckpointState): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(state, null, 2)}\n`);
}

/** The id of a run: a hash of exactly what it reads, so a retry of the same ranges names the same files. */
export function runIdOf(ranges: readonly OffsetRange[]): string {
  const canonical = ranges.map((r) => `${r.partition}:${r.from}-${r.to}`).join(',');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** What the next run reads, and the gaps retention left since the last commit. */
export interface RunPlan {
  readonly ranges: OffsetRange[];
  readonly gaps: OffsetGap[];
}

export class CheckpointAheadError extends Error {
  override name = 'CheckpointAheadError';
}

/**
 * Plans a run: each partition from its checkpoint (or offset 0) up to the high watermark
 * seen now, `maxRecordsPerRun` shared evenly so no partition starves (at least one record each, so
 * every partition progresses even when the cap is below the partition count).
 */
export function planRun(state: CheckpointState, partitions: readonly PartitionOffsets[], maxRecordsPerRun: number): RunPlan {
  const perPartition = Math.max(1, Math.floor(maxRecordsPerRun / Math.max(1, partitions.length)));
  const ranges: OffsetRange[] = [];
  const gaps: OffsetGap[] = [];
  for (const { partition, earliest, highWatermark } of partitions) {
    const committed = state.offsets[partition];
    if (committed !== undefined && committed > highWatermark) {
      // Reading on would silently skip the new records until the topic caught up with the checkpoint.
      throw new CheckpointAheadError(
        `the checkpoint of partition ${partition} is at offset ${committed} but the topic ends at ${highWatermark}: the topic was recreated or truncated. ` +
          'Delete the checkpoint object to compact the topic again from its earliest offsets.',
      );
    }
    // Offsets start at 0: with no commit yet, a log that starts later lost records before any run read them.
    let from = committed ?? 0;
    const gapped = from < earliest;
    if (gapped) {
      gaps.push({ partition, from, to: earliest });
      from = earliest;
    }
    const to = Math.min(highWatermark, from + perPartition);
    // A gap alone is still a range to commit, so the checkpoint moves past what retention deleted.
    if (to > from || gapped) ranges.push({ partition, from, to });
  }
  return { ranges, gaps };
}

/** The state after a run committed: its ranges' ends become the partitions' next offsets. */
export function commitRun(state: CheckpointState, run: PendingRun, lastRun?: LastRun): CheckpointState {
  const offsets: Record<string, number> = { ...state.offsets };
  for (const range of run.ranges) offsets[range.partition] = range.to;
  return {
    format: 1, sequence: run.sequence, offsets, pending: null, ...(lastRun === undefined ? {} : { lastRun }),
    ...(state.generation === undefined ? {} : { generation: state.generation }),
  };
}
