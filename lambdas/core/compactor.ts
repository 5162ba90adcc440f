import type { Clock } from '../ports/clock.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Codec, ParquetEncoder } from '../ports/parquet.ts';
import type { TableFormat, WrittenFile } from '../ports/table-format.ts';
import type { PartitionOffsets, TopicReader, TopicRecord } from '../ports/topic.ts';
import {
  commitRun,
  loadCheckpoint,
  planRun,
  runIdOf,
  serializeCheckpoint,
  type CheckpointState,
  type OffsetGap,
  type OffsetRange,
  type PendingRun,
} from './checkpoint.ts';
import type { QuarantineReason, ValidationLimits } from './decode.ts';
import { hiveParquetFormat } from './hive-table.ts';
import { checkpointKey, dateOf, quarantineKey, runFileStem } from './lake-layout.ts';
import { LakeRows } from './lake-rows.ts';
import { claimable, layoutRefusal, loadShardLayout, shardGroup, shardTopic, SINGLE_SHARD, takeOver, type Shard } from './shards.ts';
import type { TableSpec } from './table-declaration.ts';

/** What a compactor run needs from the outside world. */
export interface CompactorDeps {
  readonly topic: TopicReader;
  readonly store: ObjectStore;
  readonly encoder: ParquetEncoder;
  readonly clock: Clock;
  /** How the table stores its rows and commits a run's files. @default Hive-style Parquet ({@link hiveParquetFormat}) */
  readonly format?: TableFormat;
  /** Called as records are read, for progress display. */
  readonly onProgress?: (recordsRead: number, recordsPlanned: number) => void;
}

export interface CompactorOptions {
  /** The table the run writes; its topic is the one `deps.topic` reads. */
  readonly table: TableSpec;
  /** Consumer group: names the checkpoint and the committed Kafka offsets. */
  readonly group: string;
  readonly codec: Codec;
  /** Upper bound on records one run reads, so a run fits its time and memory budget. */
  readonly maxRecordsPerRun: number;
  readonly limits: ValidationLimits;
  /** Which shard of the table's compactor this is: it reads only its partitions, under its own group. @default {@link SINGLE_SHARD} */
  readonly shard?: Shard;
  /**
   * Whether a shard that finds the table's checkpoints written for another shard count (or none of
   * its own yet) takes the partitions over ({@link takeOver}). An invocation's first run may; a run
   * after it in the same invocation may not, so a compactor of an old deployment still running
   * when a new one took over stops instead of taking them back. @default true
   */
  readonly takeOver?: boolean;
  /** Only finish a run claimed and not committed yet; claim none. @default false */
  readonly finishOnly?: boolean;
}

/** What a run did. */
export interface CompactionReport {
  /** Sequence of the run this invocation committed or finished; 0 when there was nothing to do. */
  readonly sequence: number;
  readonly runId: string | null;
  /** True when this invocation finished a run another one had claimed (interrupted, or running at the same time). */
  readonly resumed: boolean;
  /** True when it claimed at the same moment as another compactor, lost, and joined that run. */
  readonly joined: boolean;
  readonly recordsRead: number;
  readonly rowsWritten: number;
  readonly quarantined: number;
  readonly quarantineReasons: Partial<Record<QuarantineReason, number>>;
  /** Keys of the Parquet files of the run. */
  readonly files: string[];
  readonly quarantineFiles: string[];
  readonly inputBytes: number;
  readonly parquetBytes: number;
  /** Offsets deleted by retention before they were compacted. */
  readonly gaps: OffsetGap[];
  /** Names of the fields the declaration does not name that records of this run carried (kept in `_extra`). */
  readonly unknownFields: string[];
  /** Records left in each partition after this run, by the high watermarks seen at its start. */
  readonly lag: Record<string, number>;
  /** The checkpoint's offsets after this run: per partition of the shard, the next offset to read. */
  readonly offsets: Readonly<Record<string, number>>;
}

export class CheckpointConflictError extends Error {
  override name = 'CheckpointConflictError';
}

/** The topic stopped short of a claimed range while the log still holds the records: the run did not commit. */
export class IncompleteReadError extends Error {
  override name = 'IncompleteReadError';
}

/** A claimed run cannot be finished identically by this compactor: its files would mix two schemas' verdicts. */
export class ClaimSchemaMismatchError extends Error {
  override name = 'ClaimSchemaMismatchError';
}

const MAX_CLAIM_ATTEMPTS = 5;
const encoder = new TextEncoder();

/**
 * One compactor run: claim the next offset ranges in the checkpoint, turn them into Parquet files
 * (one per UTC hour) and quarantine files (one per UTC day), then commit the checkpoint.
 *
 * Exactly once: the claim is written (compare-and-swap) before any file, the files' names derive
 * from the claimed ranges and are created only if absent, and the commit swaps the claim for the
 * new offsets, after the table format's own commit of the files (an Iceberg snapshot, which an
 * attempt that finds it made already skips; nothing for Hive-Parquet, whose files count once written). A run that crashes leaves its claim; the next run re-reads the same ranges, produces
 * the same names and commits. Concurrent runs race on the claim and then finish the same run.
 *
 * Shards: shard `i` of `N` (`options.shard`) reads only its partitions, under its own group. A
 * claim is made only from a checkpoint of the table's current shard layout, read after the
 * checkpoint; a shard whose checkpoint is not (none yet, or the count changed) takes the
 * partitions over first ({@link takeOver}), or refuses when `options.takeOver` is false.
 */
export async function compact(given: CompactorDeps, options: CompactorOptions): Promise<CompactionReport> {
  const shard = options.shard ?? SINGLE_SHARD;
  const group = shardGroup(options.group, shard);
  const key = checkpointKey(options.table.name, group);
  const deps = { ...given, topic: shardTopic(given.topic, shard) };
  const partitions = await deps.topic.offsets();
  let joined = false;
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const { state, etag } = await loadCheckpoint(deps.store, key);
    let run = state.pending;
    let claimEtag = etag;
    const resumed = run !== null;
    if (run === null) {
      if (options.finishOnly) return idleReport(state, partitions);
      // Read after the checkpoint: a takeover that changed the layout since is seen here (see takeOver).
      const { layout } = await loadShardLayout(deps.store, options.table.name, options.group);
      if (!claimable(state, layout, shard)) {
        if (attempt > 0 || options.takeOver === false) throw layoutRefusal(key, state, layout, shard);
        const finish = async (other: Shard) => void (await compact(given, { ...options, shard: other, finishOnly: true, takeOver: false }));
        await takeOver({ store: deps.store, now: deps.clock.now, finish }, options.table.name, options.group, shard);
        continue;
      }
      const plan = planRun(state, partitions, options.maxRecordsPerRun);
      if (plan.ranges.length === 0) return idleReport(state, partitions);
      run = {
        sequence: state.sequence + 1, runId: runIdOf(plan.ranges), ranges: plan.ranges, startedAt: deps.clock.now(), gaps: plan.gaps,
        limits: options.limits, schema: options.table.fingerprint, ...(shard.count === 1 ? {} : { shard }),
      };
      const claim = await deps.store.compareAndSwap(key, serializeCheckpoint({ ...state, pending: run }), etag);
      if (!claim.ok) {
        joined = true; // another run claimed first: reload and finish that one
        continue;
      }
      claimEtag = claim.etag;
    } else {
      assertSameSchema(run, options.table, key);
    }
    const format = deps.format ?? hiveParquetFormat(options.table);
    const { written, ...output } = await writeRun(deps, options, run, format);
    const offsets = commitRun(state, run);
    const committed = commitRun(state, run, {
      sequence: run.sequence, committedAt: deps.clock.now(), records: output.recordsRead, rows: output.rowsWritten, quarantined: output.quarantined,
      lag: lagOf(offsets, partitions), unknownFields: output.unknownFields,
    });
    // The table's commit (an Iceberg snapshot) comes before the checkpoint's, and is skipped when an earlier attempt made it.
    await format.commitRun(run, written, { before: state.offsets, after: committed.offsets });
    const swap = await deps.store.compareAndSwap(key, serializeCheckpoint(committed), claimEtag);
    if (!swap.ok) await assertCommittedElsewhere(deps.store, key, run);
    else await deps.topic.commitOffsets(group, new Map(Object.entries(committed.offsets).map(([p, o]) => [Number(p), o])));
    return {
      ...output, sequence: run.sequence, runId: run.runId, resumed, joined: resumed && joined, gaps: [...(run.gaps ?? []), ...output.gaps],
      lag: lagOf(committed, partitions), offsets: committed.offsets,
    };
  }
  throw new CheckpointConflictError(`checkpoint ${key} changed ${MAX_CLAIM_ATTEMPTS} times while claiming a run; too many compactors are running at once, bound their concurrency`);
}

function assertSameSchema(run: PendingRun, table: TableSpec, key: string): void {
  if (run.schema === undefined || run.schema === table.fingerprint) return;
  throw new ClaimSchemaMismatchError(
    `run ${run.sequence} in ${key} was claimed under schema ${run.schema} and this compactor validates ${table.name} with schema ${table.fingerprint}: ` +
      'finishing it would judge its records by two schemas. Deploy the version that claimed it until that run commits (one compactor run), then deploy this one.',
  );
}

// The commit lost a race: fine if a concurrent run finished the same claim, a bug otherwise.
async function assertCommittedElsewhere(store: ObjectStore, key: string, run: PendingRun): Promise<void> {
  const { state } = await loadCheckpoint(store, key);
  if (state.sequence < run.sequence) {
    throw new CheckpointConflictError(`checkpoint ${key} changed under run ${run.sequence} before it committed; run the compactor again to finish it`);
  }
}

function lagOf(state: CheckpointState, partitions: readonly PartitionOffsets[]): Record<string, number> {
  return Object.fromEntries(partitions.map((p) => [p.partition, Math.max(0, p.highWatermark - (state.offsets[p.partition] ?? p.earliest))]));
}

function idleReport(state: CheckpointState, partitions: readonly PartitionOffsets[]): CompactionReport {
  return {
    sequence: 0, runId: null, resumed: false, joined: false, recordsRead: 0, rowsWritten: 0, quarantined: 0, quarantineReasons: {},
    files: [], quarantineFiles: [], inputBytes: 0, parquetBytes: 0, gaps: [], unknownFields: [], lag: lagOf(state, partitions), offsets: state.offsets,
  };
}

type RunOutput = Omit<CompactionReport, 'sequence' | 'runId' | 'resumed' | 'joined' | 'lag' | 'offsets'> & { readonly written: WrittenFile[] };

async function writeRun(deps: CompactorDeps, options: CompactorOptions, run: PendingRun, format: TableFormat): Promise<RunOutput> {
  const planned = run.ranges.reduce((sum, r) => sum + (r.to - r.from), 0);
  const { table } = options;
  const rows = new LakeRows(table, run.limits ?? options.limits, planned);
  const quarantine = new Map<string, string[]>();
  const reasons: Partial<Record<QuarantineReason, number>> = {};
  const gaps: OffsetGap[] = [];
  let recordsRead = 0;
  let inputBytes = 0;

  for (const range of run.ranges) {
    let next = range.from;
    while (next < range.to) {
      const start = next;
      for await (const batch of deps.topic.read(range.partition, next, range.to)) {
        for (const record of batch.records) {
          inputBytes += record.value.byteLength;
          const rejection = rows.add(record);
          if (rejection !== undefined) {
            reasons[rejection.reason] = (reasons[rejection.reason] ?? 0) + 1;
            const dt = dateOf(record.timestamp);
            const lines = quarantine.get(dt) ?? [];
            lines.push(quarantineLine(record, rejection.reason, rejection.detail));
            quarantine.set(dt, lines);
          }
        }
        next = batch.next;
        recordsRead += batch.records.length;
        deps.onProgress?.(recordsRead, planned);
      }
      if (next < range.to) next = await skipProvenGap(deps.topic, range, next, start, gaps);
    }
  }

  const written = await rows.write(deps, options.codec, format, runFileStem(run.sequence, run.runId));
  const quarantineFiles: string[] = [];
  let quarantined = 0;
  for (const [dt, lines] of [...quarantine.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const fileKey = quarantineKey(table.name, dt, run.sequence, run.runId);
    await deps.store.putIfAbsent(fileKey, encoder.encode(lines.join('')));
    quarantineFiles.push(fileKey);
    quarantined += lines.length;
  }
  return {
    recordsRead, rowsWritten: rows.rowCount, quarantined, quarantineReasons: reasons, files: written.map((file) => file.key), quarantineFiles, inputBytes,
    parquetBytes: written.reduce((sum, file) => sum + file.bytes, 0), gaps, unknownFields: rows.unknownFields(), written,
  };
}

/**
 * The read of `range` ended at `next`: only the log's earliest offset can prove the records from
 * `next` on are gone (retention deleted them). Then they are a gap and the read goes on after it;
 * a read that got further than `start` goes on where it stopped; any other end fails the run
 * before it commits, so the next run finishes the same claim.
 */
async function skipProvenGap(topic: TopicReader, range: OffsetRange, next: number, start: number, gaps: OffsetGap[]): Promise<number> {
  const earliest = (await topic.offsets()).find((p) => p.partition === range.partition)?.earliest ?? 0;
  if (earliest > next) {
    const to = Math.min(earliest, range.to);
    gaps.push({ partition: range.partition, from: next, to });
    return to;
  }
  if (next > start) return next;
  throw new IncompleteReadError(
    `partition ${range.partition} ended at offset ${next} although run reads to ${range.to} and the log still holds those records (earliest offset ${earliest}); ` +
      'the brokers may be failing over. Nothing was committed: the next compactor run finishes this run.',
  );
}

function quarantineLine(record: TopicRecord, reason: QuarantineReason, detail: string): string {
  return `${JSON.stringify({
    kafka_partition: record.partition,
    kafka_offset: record.offset,
    kafka_timestamp: new Date(record.timestamp).toISOString(),
    reason,
    detail,
    key_base64: record.key ? Buffer.from(record.key).toString('base64') : null,
    raw_base64: Buffer.from(record.value).toString('base64'),
  })}\n`;
}
