import { EMPTY_CHECKPOINT, type CheckpointState } from '../../lambdas/core/checkpoint.ts';
import { awaitsRetirement, claimable, furthestOffsets, groupCheckpoints, loadShardLayout, ownsPartition, shardOf, type Shard, type ShardLayout } from '../../lambdas/core/shards.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';

/** A table's compactor checkpoints of every generation (each shard count it ran with), and its shard layout. */
export interface TableCheckpoints {
  readonly layout: ShardLayout;
  readonly checkpoints: readonly { readonly shard: Shard; readonly state: CheckpointState }[];
}

export async function readTableCheckpoints(store: Pick<ObjectStore, 'get' | 'list'>, table: string): Promise<TableCheckpoints> {
  const group = DEFAULTS.consumerGroup;
  const [{ layout }, found] = await Promise.all([loadShardLayout(store, table, group), groupCheckpoints(store, table, group)]);
  return { layout, checkpoints: found.map(({ shard, state }) => ({ shard, state })) };
}

/** A claim of an earlier generation's checkpoint that has not committed: the takeover finishes it before it retires the checkpoint. */
export interface HandoverClaim {
  readonly shard: number;
  readonly of: number;
  readonly pendingSince: string;
  readonly pendingSequence: number;
}

/** A change of the shard count still under way: the compactors of `to` shards take the partitions over from those of `from`. */
export interface HandoverStatus {
  readonly from: number;
  readonly to: number;
  /** Shards of `to` that have not taken their partitions over yet. */
  readonly waiting: readonly number[];
  readonly claims: readonly HandoverClaim[];
}

/**
 * Each shard of the layout with the checkpoint it claims from. One that has not taken its
 * partitions over yet shows as its takeover leaves it: its sequence, no run, no claim (a claim of
 * the checkpoint it replaces belongs to the earlier generation, see {@link handoverOf}).
 */
export function layoutShards({ layout, checkpoints }: TableCheckpoints): LayoutShard[] {
  return Array.from({ length: layout.count }, (_, index) => {
    const shard = shardOf(index, layout.count);
    const state = checkpoints.find((c) => c.shard.index === index && c.shard.count === layout.count)?.state;
    const takenOver = state !== undefined && claimable(state, layout, shard);
    return { shard, takenOver, state: takenOver ? state : { ...EMPTY_CHECKPOINT, sequence: state?.sequence ?? 0 } };
  });
}

export interface LayoutShard {
  readonly shard: Shard;
  readonly state: CheckpointState;
  /** False until the shard's first invocation took its partitions over from the earlier generation. */
  readonly takenOver: boolean;
}

/** The handover under way: a checkpoint of an earlier generation not retired yet, or a shard of the layout that has not taken over from one. */
export function handoverOf(found: TableCheckpoints): HandoverStatus | undefined {
  const { layout } = found;
  const earlier = found.checkpoints.filter(({ shard, state }) => !claimable(state, layout, shard));
  const waiting = layoutShards(found).filter((s) => !s.takenOver).map((s) => s.shard.index);
  const unretired = earlier.filter(({ state }) => awaitsRetirement(state, layout));
  if (earlier.length === 0 || (waiting.length === 0 && unretired.length === 0)) return undefined;
  const newest = (unretired.length > 0 ? unretired : earlier).reduce((a, b) => ((b.state.generation ?? 0) > (a.state.generation ?? 0) ? b : a));
  const claims = unretired.flatMap(({ shard, state }) =>
    state.pending === null ? [] : [{ shard: shard.index, of: shard.count, pendingSince: new Date(state.pending.startedAt).toISOString(), pendingSequence: state.pending.sequence }],
  );
  return { from: newest.shard.count, to: layout.count, waiting, claims };
}

/** One shard's records left to compact, and what its last run left behind (null: no run has read its partitions). */
export interface ShardLag {
  readonly lag: { readonly source: 'live' | 'last-run' | 'unknown'; readonly partitions: Record<string, number>; readonly total: number | null };
  readonly lagAfterLastRun: number | null;
}

/**
 * A shard's lag across generations. Live, from the furthest offset any checkpoint committed for each
 * partition (where a takeover starts it, so a shard that has not taken over is not behind); as of
 * the last run, from the latest run of any generation that read each partition.
 */
export function shardLag(found: TableCheckpoints, { shard, state }: LayoutShard, live: readonly PartitionOffsets[] | undefined): ShardLag {
  const states = found.checkpoints.map((c) => c.state);
  const afterLastRun = ownedBy(shard, latestRunLag(states));
  const ran = state.lastRun !== undefined || Object.keys(afterLastRun).length > 0;
  const lagAfterLastRun = ran ? sum(Object.values(afterLastRun)) : null;
  if (live !== undefined) {
    const furthest = furthestOffsets(states);
    const partitions = Object.fromEntries(live.filter((p) => ownsPartition(shard, p.partition)).map((p) => [String(p.partition), Math.max(0, p.highWatermark - (furthest[p.partition] ?? p.earliest))]));
    return { lag: { source: 'live', partitions, total: sum(Object.values(partitions)) }, lagAfterLastRun };
  }
  return { lag: ran ? { source: 'last-run', partitions: afterLastRun, total: lagAfterLastRun } : { source: 'unknown', partitions: {}, total: null }, lagAfterLastRun };
}

// Each partition's lag as the newest run that read it saw it: a run's lag covers its shard's partitions.
function latestRunLag(states: readonly CheckpointState[]): Record<string, number> {
  const runs = states.flatMap((s) => (s.lastRun === undefined ? [] : [s.lastRun])).sort((a, b) => a.committedAt - b.committedAt);
  return Object.assign({}, ...runs.map((run) => run.lag)) as Record<string, number>;
}

function ownedBy(shard: Shard, byPartition: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(byPartition).filter(([partition]) => ownsPartition(shard, Number(partition))));
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
