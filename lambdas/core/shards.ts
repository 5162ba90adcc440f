import type { ObjectStore } from '../ports/object-store.ts';
import type { PartitionOffsets, TopicBatch, TopicReader } from '../ports/topic.ts';
import { parseCheckpoint, serializeCheckpoint, type CheckpointState } from './checkpoint.ts';
import { checkpointKey, checkpointPrefix } from './lake-layout.ts';

/**
 * Compactor shards: shard `index` of `count` owns the partitions `p` with `p mod count = index`,
 * so a partition added to the topic goes to a shard by the same rule and no existing one moves.
 * Each shard has its own consumer group (its checkpoint and its Kafka committed offsets); one
 * shard (`count` 1) is the compactor as it always was, under the group itself.
 */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export const SINGLE_SHARD: Shard = { index: 0, count: 1 };

export class ShardError extends Error {
  override name = 'ShardError';
}

/** The shard `index` of `count`, refused unless `0 ≤ index < count`. */
export function shardOf(index: number, count: number): Shard {
  if (!Number.isSafeInteger(count) || count < 1) throw new ShardError(`the shard count must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new ShardError(`shard ${index} does not exist: with ${count} shard${count === 1 ? '' : 's'} the shard must be an integer from 0 to ${count - 1}`);
  }
  return { index, count };
}

/** `shard-<i>-of-<N>`, what names a shard's group and its keys in an Iceberg snapshot's summary; undefined for the single shard. */
export function shardTag(shard: Shard): string | undefined {
  return shard.count === 1 ? undefined : `shard-${shard.index}-of-${shard.count}`;
}

/** The consumer group of a shard: `group` itself for one shard (today's checkpoint and Kafka group), else `<group>.shard-<i>-of-<N>`. */
export function shardGroup(group: string, shard: Shard): string {
  const tag = shardTag(shard);
  return tag === undefined ? group : `${group}.${tag}`;
}

/** The shard a consumer group names, when it is `group` or one of its shard groups. */
export function shardOfGroup(group: string, name: string): Shard | undefined {
  if (name === group) return SINGLE_SHARD;
  const match = /^\.shard-(\d+)-of-(\d+)$/.exec(name.startsWith(group) ? name.slice(group.length) : '');
  if (!match) return undefined;
  const [index, count] = [Number(match[1]), Number(match[2])];
  return count > 1 && index < count ? { index, count } : undefined;
}

export function ownsPartition(shard: Shard, partition: number): boolean {
  return partition % shard.count === shard.index;
}

/** The topic as one shard sees it: only its partitions. */
export function shardTopic(topic: TopicReader, shard: Shard): TopicReader {
  if (shard.count === 1) return topic;
  return {
    offsets: async (): Promise<PartitionOffsets[]> => (await topic.offsets()).filter((p) => ownsPartition(shard, p.partition)),
    read: (partition: number, from: number, to: number): AsyncIterable<TopicBatch> => {
      if (!ownsPartition(shard, partition)) throw new ShardError(`shard ${shard.index} of ${shard.count} does not own partition ${partition}`);
      return topic.read(partition, from, to);
    },
    commitOffsets: (group, offsets) => topic.commitOffsets(group, offsets),
    close: () => topic.close(),
  };
}

/**
 * The shard count a table's compactors run with, and its generation: a change of the count is a
 * new generation, and every checkpoint records the generation it was written in. Stored next to
 * the checkpoints; absent means one shard, generation 0 (every deployment before shards).
 */
export interface ShardLayout {
  readonly count: number;
  readonly generation: number;
  /** Epoch ms of the change. */
  readonly since?: number;
}

const NO_LAYOUT: ShardLayout = { count: 1, generation: 0 };

/** Not `.json`: tools that read every `*.json` under a table's checkpoints as a checkpoint skip it. */
export function shardLayoutKey(table: string, group: string): string {
  return `${checkpointPrefix(table)}${group}.shard-layout`;
}

export async function loadShardLayout(store: Pick<ObjectStore, 'get'>, table: string, group: string): Promise<{ layout: ShardLayout; etag: string | null }> {
  const key = shardLayoutKey(table, group);
  const object = await store.get(key);
  return object ? { layout: parseShardLayout(object.body, key), etag: object.etag } : { layout: NO_LAYOUT, etag: null };
}

export function parseShardLayout(body: Uint8Array, key: string): ShardLayout {
  let layout: Partial<ShardLayout> | null = null;
  try {
    layout = JSON.parse(new TextDecoder().decode(body)) as Partial<ShardLayout> | null;
  } catch {
    // reported below
  }
  if (!layout || !Number.isSafeInteger(layout.count) || layout.count! < 1 || !Number.isSafeInteger(layout.generation) || layout.generation! < 0) {
    throw new ShardError(`${key} is not a shard layout ({"count": N, "generation": G}); restore it from a bucket version (deleting it hands the partitions back to one shard only when nothing else claims them)`);
  }
  return layout as ShardLayout;
}

/** This compactor's shard count is not the table's: another deployment took the partitions over. */
export class ShardLayoutChangedError extends Error {
  override name = 'ShardLayoutChangedError';
}

/** A checkpoint of another generation that a takeover has not retired yet (its pending claim is finished first). */
export function awaitsRetirement(state: CheckpointState, layout: ShardLayout): boolean {
  return state.retired === undefined && (state.generation ?? 0) !== layout.generation;
}

/** Per partition (those `owns` accepts), the furthest offset any of the checkpoints committed: where a takeover starts it. */
export function furthestOffsets(states: Iterable<CheckpointState>, owns: (partition: number) => boolean = () => true): Record<string, number> {
  const offsets: Record<string, number> = {};
  for (const state of states) {
    for (const [partition, offset] of Object.entries(state.offsets)) {
      if (owns(Number(partition)) && offset > (offsets[partition] ?? -1)) offsets[partition] = offset;
    }
  }
  return offsets;
}

/** Whether a checkpoint may be claimed from: live, and written in the layout's generation by a compactor of its count. */
export function claimable(state: CheckpointState, layout: ShardLayout, shard: Shard): boolean {
  return state.retired === undefined && (state.generation ?? 0) === layout.generation && layout.count === shard.count;
}

export function layoutRefusal(key: string, state: CheckpointState | null, layout: ShardLayout, shard: Shard): ShardLayoutChangedError {
  const why = state?.retired
    ? `its checkpoint ${key} was handed over to ${layout.count} shard${layout.count === 1 ? '' : 's'}`
    : `the table's compactors run with ${layout.count} shard${layout.count === 1 ? '' : 's'} (generation ${layout.generation})`;
  return new ShardLayoutChangedError(
    `this compactor runs shard ${shard.index} of ${shard.count}, but ${why}: a deployment with another shard count took the partitions over while this invocation ran. ` +
      'Nothing was claimed; the next invocation of the current deployment goes on from where the table is.',
  );
}

/** What a takeover needs: the table's store and how to finish a run another shard claimed and did not commit. */
export interface TakeoverDeps {
  readonly store: ObjectStore;
  readonly now: () => number;
  /** Finishes the pending run of the checkpoint of `shard` (a complete compactor run without claiming a new one). */
  readonly finish: (shard: Shard) => Promise<void>;
}

const MAX_TAKEOVER_ATTEMPTS = 10;

/**
 * Hands the partitions over to `shard` of a new shard count (or to a shard starting in the
 * current one): makes its count the table's layout (a new generation), finishes and retires every
 * checkpoint of another generation, then writes the shard's checkpoint with each of its
 * partitions' offsets from those (the furthest any of them reached), so no record is skipped or
 * read twice. Every step is a compare-and-swap and the whole is repeatable: a takeover that
 * crashes is completed by the next one. A claim is only made from a checkpoint of the layout's
 * generation read after the checkpoint (see {@link claimable}), and a takeover that finds the
 * layout changed after it wrote its checkpoint retires it again, so two deployments with different
 * counts that take over at once never both claim a partition.
 */
export async function takeOver(deps: TakeoverDeps, table: string, group: string, shard: Shard): Promise<void> {
  const key = checkpointKey(table, shardGroup(group, shard));
  for (let attempt = 0; attempt < MAX_TAKEOVER_ATTEMPTS; attempt++) {
    const found = await loadShardLayout(deps.store, table, group);
    let layout = found.layout;
    if (layout.count !== shard.count) {
      const next: ShardLayout = { count: shard.count, generation: layout.generation + 1, since: deps.now() };
      if (!(await deps.store.compareAndSwap(shardLayoutKey(table, group), new TextEncoder().encode(`${JSON.stringify(next)}\n`), found.etag)).ok) continue;
      layout = next;
    }
    const siblings = await groupCheckpoints(deps.store, table, group);
    if (siblings.some((c) => (c.state.generation ?? 0) > layout.generation)) continue; // the layout moved on under us
    const own = siblings.find((c) => c.key === key);
    if (own && claimable(own.state, layout, shard)) return; // a copy of this shard took over already (and may be running a claim)
    if (!(await retireOthers(deps, siblings, layout))) continue;
    const offsets = furthestOffsets(siblings.map((c) => c.state), (partition) => ownsPartition(shard, partition));
    const state: CheckpointState = { format: 1, sequence: own?.state.sequence ?? 0, offsets, pending: null, generation: layout.generation };
    const written = await deps.store.compareAndSwap(key, serializeCheckpoint(state), own?.etag ?? null);
    if (!written.ok) continue;
    const after = await loadShardLayout(deps.store, table, group);
    if (after.layout.generation !== layout.generation) {
      // Another takeover listed the checkpoints before this one was written: it must not be claimed from.
      await deps.store.compareAndSwap(key, serializeCheckpoint({ ...state, retired: { at: deps.now(), generation: after.layout.generation } }), written.etag);
      throw layoutRefusal(key, null, after.layout, shard);
    }
    return;
  }
  throw new ShardLayoutChangedError(`the checkpoints of ${table} kept changing during ${MAX_TAKEOVER_ATTEMPTS} attempts to hand them over to ${shard.count} shards; deployments with different shard counts are running at once: keep one`);
}

export interface GroupCheckpoint {
  readonly key: string;
  readonly shard: Shard;
  readonly state: CheckpointState;
  readonly etag: string;
}

/** The checkpoints of `group` and of its shard groups (not the redrive ledger, not other groups). */
export async function groupCheckpoints(store: Pick<ObjectStore, 'get' | 'list'>, table: string, group: string): Promise<GroupCheckpoint[]> {
  const prefix = checkpointPrefix(table);
  const found: GroupCheckpoint[] = [];
  for (const { key } of await store.list(prefix)) {
    const name = key.slice(prefix.length);
    if (name.includes('/') || !name.endsWith('.json')) continue;
    const shard = shardOfGroup(group, name.slice(0, -'.json'.length));
    if (!shard) continue;
    const object = await store.get(key);
    if (object) found.push({ key, shard, state: parseCheckpoint(object.body, key), etag: object.etag });
  }
  return found;
}

// Finishes what another generation's checkpoints claimed, then retires them; false when one changed meanwhile.
async function retireOthers(deps: TakeoverDeps, siblings: readonly GroupCheckpoint[], layout: ShardLayout): Promise<boolean> {
  for (const sibling of siblings) {
    if (!awaitsRetirement(sibling.state, layout)) continue;
    if (sibling.state.pending !== null) {
      await deps.finish(sibling.shard);
      return false;
    }
    const retired: CheckpointState = { ...sibling.state, retired: { at: deps.now(), generation: layout.generation } };
    if (!(await deps.store.compareAndSwap(sibling.key, serializeCheckpoint(retired), sibling.etag)).ok) return false;
  }
  return true;
}
