import { createHash } from 'node:crypto';
import {
  currentSchema,
  currentSnapshot,
  newSnapshotId,
  progressSummary,
  type Snapshot,
} from '../core/iceberg-metadata.ts';
import { partitionPathValue } from '../core/iceberg-schema.ts';
import { bucketMillis } from '../core/lake-layout.ts';
import { tableColumns } from '../core/table-declaration.ts';
import type { Clock } from '../ports/clock.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Codec, ParquetEncoder } from '../ports/parquet.ts';
import type { WrittenFile } from '../ports/table-format.ts';
import { decodeManifest, EntryStatus, type ManifestEntry, type ManifestFile } from './iceberg-avro.ts';
import { expireSnapshots, removeUnreferencedFiles } from './iceberg-expiry.ts';
import { IcebergLocationError, totals, type IcebergTable, type LoadedTable } from './iceberg-table.ts';
import { readColumnBatch } from './parquet-reader.ts';

/**
 * `streamlake optimize`: the maintenance of an Iceberg table. Small data files of closed
 * partitions are merged into files near a target size in one `replace` snapshot (here); snapshots
 * older than the retention are expired and files no snapshot references any more removed once they
 * are older than the retention, except those of a compactor run that is claimed and not committed
 * yet (`iceberg-expiry.ts`).
 */

const DAY_MS = 86_400_000;

/** The defaults of `optimizeTable`, and of `streamlake optimize`'s flags. */
export const OPTIMIZE_DEFAULTS = {
  /** Iceberg's `write.target-file-size-bytes` default. */
  targetFileMb: 128,
  /** Snapshots (time travel) and unreferenced files are kept this long; Iceberg's default for expiring snapshots is 5 days, Athena's VACUUM 5 days. */
  retentionDays: 7,
  /** A file under this share of the target is small: it is merged; larger ones are left alone (Iceberg's `min-file-size-bytes`). */
  smallFileShare: 0.75,
} as const;

/** What optimizing a table reads and writes. */
export interface MaintenanceDeps {
  readonly store: ObjectStore;
  readonly encoder: ParquetEncoder;
  readonly clock: Clock;
  readonly onProgress?: (progress: OptimizeProgress) => void;
}

/** Where an optimize run is: partitions merged so far, then files removed so far. */
export type OptimizeProgress =
  | { readonly step: 'merge'; readonly done: number; readonly total: number; readonly rows: number }
  | { readonly step: 'remove'; readonly done: number; readonly total: number };

export interface OptimizeOptions {
  /** Size the merged files aim at. @default 128 MB ({@link OPTIMIZE_DEFAULTS}) */
  readonly targetFileBytes?: number;
  /**
   * A partition is closed, and merged, once its end is this long ago. Records whose event time is
   * more than `maxEventAgeHours` before their Kafka timestamp are quarantined, so after that long a
   * partition gets no new file for good. A shorter margin is safe too: a late record that lands
   * after the merge adds one small file, merged again by the next run.
   * @default DEFAULTS.maxEventAgeHours (lib/config.ts), which the caller passes
   */
  readonly closedAfterMs: number;
  /** Snapshots older than this are expired, and unreferenced files older than this removed. @default 7 days */
  readonly retentionMs?: number;
  /**
   * No further group of files starts merging after this instant (epoch ms, by the clock): what is
   * merged by then commits, the rest waits for the next run, so a backlog cannot hold a run past
   * its time limit. @default no limit
   */
  readonly mergeUntil?: number;
  readonly codec: Codec;
}

/** One partition of the table: its data files before the run and after it. */
export interface PartitionFiles {
  /** The partition as Iceberg names it (`2026-01-05-13` for an hour, `2026-01-05` for a day). */
  readonly partition: string;
  /** Whether it was closed, so merged when it had small files; open ones are left as they are. */
  readonly closed: boolean;
  readonly filesBefore: number;
  readonly filesAfter: number;
}

/** Files removed, by kind, and their bytes. */
export interface RemovedFiles {
  readonly dataFiles: number;
  readonly manifests: number;
  readonly manifestLists: number;
  readonly metadataFiles: number;
  readonly bytes: number;
}

/** What `optimizeTable` did. */
export interface OptimizeReport {
  readonly table: string;
  /** The `replace` snapshot that merged the files; null when no closed partition had small files to merge. */
  readonly snapshotId: string | null;
  /** Partitions that end at or before this instant are closed. */
  readonly closedBefore: string;
  readonly partitionsMerged: number;
  /** Data files of the merged partitions, before and after. */
  readonly filesBefore: number;
  readonly filesAfter: number;
  readonly rowsRewritten: number;
  /** Bytes of the files replaced, and of the files that replace them. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Every partition of the table with its files before and after, oldest first. */
  readonly partitions: readonly PartitionFiles[];
  /** Commits the merge took: more than one when a compactor committed in between. */
  readonly commitAttempts: number;
  readonly snapshotsExpired: number;
  readonly filesRemoved: RemovedFiles;
}

/** A data file as a manifest lists it, with the sequence numbers it inherits made explicit. */
interface LiveFile {
  readonly entry: ManifestEntry;
  readonly manifest: ManifestFile;
}

/** The merged files of one bin of small files, kept across commit attempts while the bin is unchanged. */
interface MergedBin {
  readonly inputs: readonly LiveFile[];
  readonly outputs: readonly WrittenFile[];
}

/** The files of a partition do not hold what their manifests say: nothing is merged. */
export class OptimizeError extends Error {
  override name = 'OptimizeError';
}


/**
 * Merges the small files of `table`'s closed partitions in one atomic commit, expires snapshots
 * older than the retention and removes the files nothing references any more.
 */
export async function optimizeTable(table: IcebergTable, deps: MaintenanceDeps, options: OptimizeOptions): Promise<OptimizeReport> {
  const now = deps.clock.now();
  const retentionMs = options.retentionMs ?? OPTIMIZE_DEFAULTS.retentionDays * DAY_MS;
  const bucketMs = bucketMillis(table.table.partitionBy);
  const closedBefore = now - options.closedAfterMs;
  const isClosed = (bucket: number) => (bucket + 1) * bucketMs <= closedBefore;
  // Expiry and removal run even when the merge fails (an unreadable file, a timeout to come), so one bad partition cannot grow the table's metadata for ever.
  const merged = await mergeClosedPartitions(table, deps, { ...options, isClosed, targetFileBytes: options.targetFileBytes ?? OPTIMIZE_DEFAULTS.targetFileMb * 1_000_000 }).then(
    (report) => ({ report }),
    (error: unknown) => ({ error }),
  );
  const expired = await expireSnapshots(table, deps, now - retentionMs);
  const filesRemoved = await removeUnreferencedFiles(table, deps, now - retentionMs, expired.knownOld);
  if ('error' in merged) throw merged.error;
  return { table: table.table.name, closedBefore: new Date(closedBefore).toISOString(), ...merged.report, snapshotsExpired: expired.count, filesRemoved };
}

type MergeReport = Omit<OptimizeReport, 'table' | 'closedBefore' | 'snapshotsExpired' | 'filesRemoved'>;

async function mergeClosedPartitions(
  table: IcebergTable,
  deps: MaintenanceDeps,
  options: { isClosed: (bucket: number) => boolean; targetFileBytes: number; codec: Codec; mergeUntil?: number },
): Promise<MergeReport> {
  const snapshotId = newSnapshotId();
  const merged = new Map<string, MergedBin>();
  let attempts = 0;
  let report: MergeReport | undefined;
  let lastUsed: MergedBin[] | undefined;
  await table.commit(async (loaded) => {
    attempts++;
    const parent = loaded && currentSnapshot(loaded.metadata);
    if (!loaded || !parent) return undefined;
    // A swap that failed on the way back but took effect: the merge is committed, nothing is left to do.
    if (loaded.metadata.snapshots.some((s) => String(s['snapshot-id']) === String(snapshotId))) return undefined;
    // Planned anew on every attempt, from the table as it is now: only files still live are replaced.
    const listed = await listedManifests(table, deps.store, parent);
    const live = listed.flatMap(({ manifest, entries }) => entries.map((entry) => ({ entry, manifest })));
    const byPartition = groupBy(live, (file) => file.entry.file.partition);
    const closed = [...byPartition.keys()].filter(options.isClosed).sort((a, b) => a - b);
    const bins = closed.flatMap((partition) => binsOf(byPartition.get(partition)!, options.targetFileBytes));
    const done = new Set<string>();
    let rows = 0;
    for (const [i, bin] of bins.entries()) {
      const id = binId(bin);
      if (!merged.has(id)) {
        if (options.mergeUntil !== undefined && deps.clock.now() >= options.mergeUntil) break;
        merged.set(id, { inputs: bin, outputs: await mergeBin(table, deps, bin, `${snapshotId}-${id}`, options) });
      }
      done.add(id);
      rows += merged.get(id)!.outputs.reduce((sum, file) => sum + file.rows, 0);
      deps.onProgress?.({ step: 'merge', done: i + 1, total: bins.length, rows });
    }
    const used = [...merged.entries()].filter(([id]) => done.has(id)).map(([, bin]) => bin);
    lastUsed = used;
    const replaced = new Set(used.flatMap((bin) => bin.inputs.map((file) => file.entry.file.path)));
    const added = used.flatMap((bin) => bin.outputs);
    const after = (partition: number) => byPartition.get(partition)!.length - used.filter((bin) => bin.inputs[0]!.entry.file.partition === partition).reduce((sum, bin) => sum + bin.inputs.length - bin.outputs.length, 0);
    const bytesBefore = used.reduce((sum, bin) => sum + bin.inputs.reduce((s, file) => s + file.entry.file.fileSizeInBytes, 0), 0);
    const bytesAfter = added.reduce((sum, file) => sum + file.bytes, 0);
    const mergedPartitions = new Set(used.map((bin) => bin.inputs[0]!.entry.file.partition));
    report = {
      snapshotId: used.length > 0 ? String(snapshotId) : null, partitionsMerged: mergedPartitions.size,
      filesBefore: [...mergedPartitions].reduce((sum, p) => sum + byPartition.get(p)!.length, 0), filesAfter: [...mergedPartitions].reduce((sum, p) => sum + after(p), 0),
      rowsRewritten: rows, bytesBefore, bytesAfter, commitAttempts: attempts,
      partitions: [...byPartition.keys()].sort((a, b) => a - b).map((p) => ({ partition: partitionPathValue(p, table.table.partitionBy), closed: options.isClosed(p), filesBefore: byPartition.get(p)!.length, filesAfter: after(p) })),
    };
    if (used.length === 0) return undefined;
    const sequenceNumber = loaded.metadata['last-sequence-number'] + 1;
    const manifests = await replaceManifests(table, loaded, listed, { snapshotId, sequenceNumber, replaced, added });
    const records = (files: readonly { rows: number }[]) => files.reduce((sum, file) => sum + file.rows, 0);
    const removed = { files: replaced.size, records: records(used.flatMap((bin) => bin.inputs.map((file) => ({ rows: file.entry.file.recordCount })))), bytes: bytesBefore };
    const summary: Record<string, string> = {
      'added-data-files': String(added.length), 'deleted-data-files': String(removed.files), 'added-records': String(records(added)), 'deleted-records': String(removed.records),
      'added-files-size': String(bytesAfter), 'removed-files-size': String(bytesBefore), 'changed-partition-count': String(mergedPartitions.size),
      // The table holds the same runs and offsets as before: the compactor reads its progress from the current snapshot.
      ...progressSummary(loaded.metadata, parent),
      ...totals(parent, { files: added.length, records: records(added), bytes: bytesAfter }, removed),
    };
    const manifestList = await table.writeManifestList(manifests, snapshotId, parent, sequenceNumber);
    return { metadata: loaded.metadata, snapshot: { id: snapshotId, operation: 'replace', manifestList, summary, now: deps.clock.now() } };
  });
  // Files merged by an attempt whose bins changed before it committed were never referenced: they go now.
  const committed = new Set((await isCommitted(table, snapshotId)) ? (lastUsed ?? []).flatMap((bin) => bin.outputs.map((file) => file.key)) : []);
  for (const bin of merged.values()) for (const file of bin.outputs) if (!committed.has(file.key)) await deps.store.delete(file.key);
  return report ?? { snapshotId: null, partitionsMerged: 0, filesBefore: 0, filesAfter: 0, rowsRewritten: 0, bytesBefore: 0, bytesAfter: 0, partitions: [], commitAttempts: attempts };
}

async function isCommitted(table: IcebergTable, snapshotId: number): Promise<boolean> {
  const loaded = await table.load();
  return loaded?.metadata.snapshots.some((s) => String(s['snapshot-id']) === String(snapshotId)) ?? false;
}

/** The manifests of a snapshot, each with the entries of its live data files. */
async function listedManifests(table: IcebergTable, store: ObjectStore, snapshot: Snapshot): Promise<{ manifest: ManifestFile; entries: ManifestEntry[] }[]> {
  const manifests = await table.manifests(snapshot);
  return Promise.all(manifests.map(async (manifest) => ({ manifest, entries: (await readManifest(table, store, manifest)).filter((entry) => entry.status !== EntryStatus.Deleted) })));
}

async function readManifest(table: IcebergTable, store: ObjectStore, manifest: ManifestFile): Promise<ManifestEntry[]> {
  const object = await store.get(table.keyOf(manifest.path));
  if (!object) throw new IcebergLocationError(`table ${table.table.name}: manifest ${manifest.path} is missing; restore it from a bucket version`);
  return decodeManifest(object.body);
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const list = groups.get(key(item)) ?? [];
    list.push(item);
    groups.set(key(item), list);
  }
  return groups;
}

// The data sequence number an entry has or inherits from its manifest.
const dataSequenceOf = (file: LiveFile) => file.entry.sequenceNumber ?? file.manifest.sequenceNumber;

/**
 * The small files of one partition cut into bins of at most the target's bytes, in commit order,
 * each to become one file; bins of one file are left out: rewriting it alone gains nothing.
 */
function binsOf(files: readonly LiveFile[], targetBytes: number): LiveFile[][] {
  const small = files
    .filter((file) => file.entry.file.fileSizeInBytes < targetBytes * OPTIMIZE_DEFAULTS.smallFileShare)
    .sort((a, b) => dataSequenceOf(a) - dataSequenceOf(b) || (a.entry.file.path < b.entry.file.path ? -1 : 1));
  const bins: LiveFile[][] = [];
  let bin: LiveFile[] = [];
  let bytes = 0;
  for (const file of small) {
    if (bin.length > 0 && bytes + file.entry.file.fileSizeInBytes > targetBytes) {
      bins.push(bin);
      bin = [];
      bytes = 0;
    }
    bin.push(file);
    bytes += file.entry.file.fileSizeInBytes;
  }
  if (bin.length > 0) bins.push(bin);
  return bins.filter((b) => b.length > 1);
}

function binId(bin: readonly LiveFile[]): string {
  return createHash('sha256').update(bin.map((file) => file.entry.file.path).join('\n')).digest('hex').slice(0, 16);
}

/** Reads the bin's files and writes their rows, in the table's columns, as one new file of the partition. */
async function mergeBin(table: IcebergTable, deps: MaintenanceDeps, bin: readonly LiveFile[], name: string, options: { codec: Codec }): Promise<WrittenFile[]> {
  const files = await Promise.all(
    bin.map(async ({ entry }) => {
      const object = await deps.store.get(table.keyOf(entry.file.path));
      if (!object) throw new IcebergLocationError(`table ${table.table.name}: data file ${entry.file.path} is missing; restore it from a bucket version`);
      return { name: entry.file.path, body: object.body };
    }),
  );
  const batch = await readColumnBatch(files, tableColumns(table.table));
  const expected = bin.reduce((sum, file) => sum + file.entry.file.recordCount, 0);
  if (batch.rowCount !== expected) throw new OptimizeError(`table ${table.table.name}: the files of partition ${bin[0]!.entry.file.partition} hold ${batch.rowCount} rows, their manifests say ${expected}; nothing was merged`);
  const { bytes, columns } = deps.encoder.encode(batch, options.codec, table.timestampUnit);
  const bucket = bin[0]!.entry.file.partition;
  const key = `${table.dataDir(bucket)}optimized-${name}.parquet`;
  await deps.store.putIfAbsent(key, bytes);
  return [{ key, bucket, rows: batch.rowCount, bytes: bytes.byteLength, columns }];
}

/**
 * The manifests of the replace snapshot: the parent's manifests that list none of the replaced
 * files, as they are, and one new manifest with the merged files (added), the replaced ones
 * (deleted, with their data sequence numbers) and the other live files of the manifests it
 * replaces (existing, with the sequence numbers they had).
 */
async function replaceManifests(
  table: IcebergTable,
  loaded: LoadedTable,
  parentManifests: readonly { manifest: ManifestFile; entries: readonly ManifestEntry[] }[],
  change: { snapshotId: number; sequenceNumber: number; replaced: ReadonlySet<string>; added: readonly WrittenFile[] },
): Promise<ManifestFile[]> {
  const kept: ManifestFile[] = [];
  const schema = currentSchema(loaded.metadata);
  const entries: ManifestEntry[] = change.added.map((file) => ({ status: EntryStatus.Added, snapshotId: change.snapshotId, sequenceNumber: null, fileSequenceNumber: null, file: table.dataFile(file, schema) }));
  for (const { manifest, entries: listed } of parentManifests) {
    if (!listed.some((entry) => change.replaced.has(entry.file.path))) {
      kept.push(manifest);
      continue;
    }
    for (const entry of listed) {
      const explicit = { sequenceNumber: entry.sequenceNumber ?? manifest.sequenceNumber, fileSequenceNumber: entry.fileSequenceNumber ?? manifest.sequenceNumber };
      entries.push(
        change.replaced.has(entry.file.path)
          ? { ...entry, ...explicit, status: EntryStatus.Deleted, snapshotId: change.snapshotId }
          : { ...entry, ...explicit, status: EntryStatus.Existing, snapshotId: entry.snapshotId ?? manifest.addedSnapshotId },
      );
    }
  }
  const written = await table.writeManifest(loaded.metadata, change.snapshotId, entries);
  const liveSequences = entries.filter((entry) => entry.status !== EntryStatus.Deleted).map((entry) => entry.sequenceNumber ?? change.sequenceNumber);
  return [...kept, { ...written, sequenceNumber: change.sequenceNumber, minSequenceNumber: Math.min(change.sequenceNumber, ...liveSequences) }];
}
