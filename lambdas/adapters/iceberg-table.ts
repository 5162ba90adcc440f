import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PendingRun } from '../core/checkpoint.ts';
import {
  ancestry,
  currentSchema,
  currentSnapshot,
  lastRedrive,
  lastRunSnapshot,
  metadataVersionOf,
  offsetsOf,
  newSnapshotId,
  newTableMetadata,
  parseMetadata,
  progressSummary,
  runSummary,
  sequenceKey,
  sequenceOf,
  SUMMARY,
  serializeMetadata,
  withPreviousFile,
  withSchema,
  withSnapshot,
  type NewSnapshot,
  type Snapshot,
  type SnapshotId,
  type TableMetadata,
} from '../core/iceberg-metadata.ts';
import { dataFileMetrics } from '../core/iceberg-metrics.ts';
import { icebergSchema, partitionPathValue, partitionSpec, type IcebergSchema } from '../core/iceberg-schema.ts';
import { curatedPrefix, icebergDataDir, icebergDataKey, icebergMetadataPrefix, redriveLedgerKey } from '../core/lake-layout.ts';
import { tableColumns, type TableSpec } from '../core/table-declaration.ts';
import type { Clock } from '../ports/clock.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { CatalogEntry, TableCatalog } from '../ports/table-catalog.ts';
import type { RunOffsets, TableFormat, WrittenFile } from '../ports/table-format.ts';
import { decodeManifest, decodeManifestList, encodeManifest, encodeManifestList, EntryStatus, type ManifestEntry, type ManifestFile } from './iceberg-avro.ts';

/** What an Iceberg table reads and writes: its files in the object store, its pointer in the catalog. */
export interface IcebergTableDeps {
  readonly store: ObjectStore;
  readonly catalog: TableCatalog;
  /** The URI of the store's root, ending in `/` (`s3://bucket/`, `file:///…/lake/`): Iceberg metadata holds absolute paths. */
  readonly lakeUri: string;
  readonly clock: Clock;
  /** Waits after lost swap number `attempt` (from 0), before the next commit attempt. @default {@link backoffMs} of real time */
  readonly backoff?: (attempt: number) => Promise<void>;
}

/** A table's current state: its metadata and the catalog entry it was read at. */
export interface LoadedTable {
  readonly metadata: TableMetadata;
  readonly entry: CatalogEntry;
}

/**
 * What a commit builds on the table it found: the metadata and the snapshot to add (none for a
 * change of metadata only, such as expired snapshots), or nothing when there is nothing left to do.
 */
export type CommitPlan = (table: LoadedTable | undefined) => Promise<{ metadata: TableMetadata; snapshot?: NewSnapshot } | undefined>;

export class IcebergCommitConflictError extends Error {
  override name = 'IcebergCommitConflictError';
}

/** The table and the compactor's checkpoint disagree on the offsets it holds: the message shows both and how to reconcile them. */
export class CheckpointTableMismatchError extends Error {
  override name = 'CheckpointTableMismatchError';
}

/** The table holds redrive runs its redrive ledger does not know of. */
export class RedriveLedgerMismatchError extends Error {
  override name = 'RedriveLedgerMismatchError';
}

export class IcebergLocationError extends Error {
  override name = 'IcebergLocationError';
}

const MAX_COMMIT_ATTEMPTS = 10;
/** The first wait after a lost swap, doubled after each further loss up to the cap (Apache Iceberg waits 100 ms to 60 s, for 4 retries). */
const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 2_000;

/**
 * How long to wait after losing swap number `attempt` (from 0): a random share of an exponentially
 * growing, capped window ("full jitter"), so that writers who lost to the same commit (compactor
 * shards, optimize, redrive) spread out instead of colliding again in step.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

const jitteredBackoff = (attempt: number) => sleep(backoffMs(attempt));

/**
 * An Apache Iceberg (v2) table in the lake: the compactor's runs commit as append snapshots whose
 * summaries carry the Kafka offsets, hidden partitioning on the event time, and the catalog's
 * compare-and-swap as the only commit point: files a run wrote before it crashed, or a commit that
 * lost a race, are never reachable from the table.
 */
export class IcebergTable implements TableFormat {
  private readonly deps: IcebergTableDeps;
  readonly table: TableSpec;
  /** The Iceberg spec stores `timestamptz` as microseconds. */
  readonly timestampUnit = 'micros';

  constructor(deps: IcebergTableDeps, table: TableSpec) {
    this.deps = deps;
    this.table = table;
  }

  dataFileKey(bucket: number, stem: string): string {
    return icebergDataKey(this.table.name, this.partitionDir(bucket), stem);
  }

  /** The directory of a partition's data files (hours or days since 1970), for files other than a run's. */
  dataDir(bucket: number): string {
    return icebergDataDir(this.table.name, this.partitionDir(bucket));
  }

  private partitionDir(bucket: number): string {
    return `${this.table.eventTime}_${this.table.partitionBy}=${partitionPathValue(bucket, this.table.partitionBy)}`;
  }

  uriOf(key: string): string {
    return `${this.deps.lakeUri}${key}`;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith(this.deps.lakeUri)) throw new IcebergLocationError(`table ${this.table.name} references ${uri}, outside the lake at ${this.deps.lakeUri}`);
    return uri.slice(this.deps.lakeUri.length);
  }

  /** The table as the catalog has it now; undefined before its first commit. */
  async load(): Promise<LoadedTable | undefined> {
    const entry = await this.deps.catalog.get(this.table.name);
    if (!entry) return undefined;
    return { metadata: parseMetadata(new TextDecoder().decode(await this.read(entry.metadataLocation)), entry.metadataLocation), entry };
  }

  /** The data files of a snapshot, as its manifests list them; none before the first. */
  async dataFiles(snapshot: Snapshot | undefined): Promise<ManifestEntry[]> {
    if (!snapshot) return [];
    const manifests = await decodeManifestList(await this.read(snapshot['manifest-list']));
    const entries = await Promise.all(manifests.map(async (manifest) => decodeManifest(await this.read(manifest.path))));
    return entries.flat().filter((entry) => entry.status !== EntryStatus.Deleted);
  }

  async manifests(snapshot: Snapshot | undefined): Promise<ManifestFile[]> {
    return snapshot ? decodeManifestList(await this.read(snapshot['manifest-list'])) : [];
  }

  async commitRun(run: PendingRun, files: readonly WrittenFile[], offsets: RunOffsets): Promise<void> {
    await this.append(files, (loaded, base) => {
      // A table that lost its catalog entry would start again with this run alone: its earlier runs' rows would vanish.
      if (!loaded && run.sequence > 1) throw this.notInCatalog(`${run.sequence - 1} compactor runs were committed to it`);
      if (this.committedAlready(base, run, offsets)) return undefined;
      // Every other shard's sequence carries forward; a shard updates the offsets of its own partitions only.
      const held = run.shard === undefined ? {} : offsetsOf(lastRunSnapshot(base));
      return { ...progressSummary(base), ...runSummary(run, { ...held, ...offsets.after }) };
    });
  }

  /**
   * Appends a redrive run's files in one snapshot that carries the compactor's progress forward,
   * unless the table holds that run already: its own, or a later, redrive sequence (which every
   * commit carries, so the answer survives expired snapshots). A run that only gave records a
   * new reason has nothing to commit.
   */
  async commitRedrive(run: Pick<PendingRun, 'sequence' | 'runId'>, files: readonly WrittenFile[]): Promise<void> {
    if (files.length === 0) return;
    await this.append(files, (loaded, base) => {
      // Quarantined records do not prove a committed run: the first run writes them before it commits.
      if (!loaded) {
        throw new IcebergLocationError(
          `table ${this.table.name} is not in its catalog yet. If its compactor has not committed a run yet (its first run quarantined these records and crashed, or is still running), ` +
            'let it commit first (`streamlake compact`, or its next scheduled run on AWS), then run the redrive again. If it has (`streamlake status` shows a last run), ' +
            `its catalog entry was lost: ${this.registerAgain()}`,
        );
      }
      const held = lastRedrive(base);
      if (held.sequence > run.sequence || (held.sequence === run.sequence && held.runId === run.runId)) return undefined;
      if (held.sequence === run.sequence) throw this.redriveMismatch(held.sequence, run.sequence - 1);
      return { ...progressSummary(base), [SUMMARY.redriveSequence]: String(run.sequence), [SUMMARY.redriveRunId]: run.runId };
    });
  }

  async checkRedriveLedger(committed: number): Promise<void> {
    const loaded = await this.load();
    const held = loaded ? lastRedrive(loaded.metadata).sequence : 0;
    if (held > committed) throw this.redriveMismatch(held, committed);
  }

  // The table holds redrive run `held`; its ledger, reset or restored, is at `ledger` and would take its next runs for ones the table holds.
  private redriveMismatch(held: number, ledger: number): RedriveLedgerMismatchError {
    return new RedriveLedgerMismatchError(
      `table ${this.table.name} holds redrive run ${held}, but its redrive ledger (${redriveLedgerKey(this.table.name)}) has committed only ${ledger}: ` +
        'it was deleted or restored from an old version, and its next runs would be taken for runs the table holds. Restore the ledger\'s newest version, ' +
        `or set it to {"format": 1, "sequence": ${held}, "offsets": {}, "pending": null}, then run the redrive again`,
    );
  }

  /**
   * Commits `files` in one append snapshot whose summary adds `ownSummary` (given the table as
   * found, or a new one before the first commit) to Iceberg's figures; nothing when it returns
   * undefined (committed already).
   */
  private async append(files: readonly WrittenFile[], ownSummary: (loaded: LoadedTable | undefined, base: TableMetadata) => Record<string, string> | undefined): Promise<boolean> {
    const snapshotId = newSnapshotId();
    let manifest: ManifestFile | undefined;
    return this.commit(async (loaded) => {
      const base = loaded?.metadata ?? this.newMetadata();
      const own = ownSummary(loaded, base);
      if (!own) return undefined;
      const parent = currentSnapshot(base);
      const metadata = this.withDeclaredSchema(base);
      const sequenceNumber = metadata['last-sequence-number'] + 1;
      // The manifest names the files once; a retried commit lists it again under its new sequence number.
      if (files.length > 0) manifest ??= await this.writeManifest(metadata, snapshotId, files.map((file) => ({ status: EntryStatus.Added, snapshotId, sequenceNumber: null, fileSequenceNumber: null, file: this.dataFile(file, currentSchema(metadata)) })));
      const manifests = [...(await this.manifests(parent)), ...(manifest ? [{ ...manifest, sequenceNumber, minSequenceNumber: sequenceNumber }] : [])];
      const figures = { files: files.length, records: files.reduce((sum, file) => sum + file.rows, 0), bytes: files.reduce((sum, file) => sum + file.bytes, 0) };
      const summary = {
        'added-data-files': String(figures.files), 'added-records': String(figures.records), 'added-files-size': String(figures.bytes),
        ...own, ...totals(parent, figures),
      };
      return { metadata, snapshot: { id: snapshotId, operation: 'append', manifestList: await this.writeManifestList(manifests, snapshotId, parent, sequenceNumber), summary, now: this.deps.clock.now() } };
    });
  }

  private notInCatalog(why: string): IcebergLocationError {
    return new IcebergLocationError(
      `table ${this.table.name} is not in its catalog, yet ${why}: ${this.registerAgain()}, then run this again`,
    );
  }

  // The way back for a table whose catalog entry was lost: its metadata files are all still in the lake.
  private registerAgain(): string {
    return `register its last metadata file (the newest ${icebergMetadataPrefix(this.table.name)}*.metadata.json) in the catalog again`;
  }

  /**
   * Whether the table includes `run` already: a snapshot of that run holding the offsets it ends
   * at. Otherwise the table must end where the checkpoint starts the run; when they disagree (a
   * checkpoint deleted, restored from an old version or read under another consumer group, a
   * catalog pointed at an older metadata file), committing would skip or repeat records, so it is
   * refused with the way to bring them together.
   */
  private committedAlready(metadata: TableMetadata, run: PendingRun, offsets: RunOffsets): boolean {
    const last = lastRunSnapshot(metadata);
    // A shard answers for its own partitions (those its checkpoint holds or its run reads); the single compactor for the whole map.
    const scope = run.shard === undefined ? undefined : new Set([...Object.keys(offsets.before), ...Object.keys(offsets.after)]);
    const held = (at: Snapshot | undefined) => (scope === undefined ? offsetsOf(at) : Object.fromEntries(Object.entries(offsetsOf(at)).filter(([p]) => scope.has(p))));
    for (const at of ancestry(metadata, last)) if (sequenceOf(at, run.shard) === run.sequence && sameOffsets(held(at), offsets.after)) return true;
    if (sequenceOf(last, run.shard) === run.sequence - 1 && sameOffsets(held(last), offsets.before)) return false;
    const which = run.shard === undefined ? 'compactor' : `compactor shard ${run.shard.index} of ${run.shard.count} (${sequenceKey(run.shard)})`;
    throw new CheckpointTableMismatchError(
      `table ${this.table.name} holds ${which} run ${sequenceOf(last, run.shard)} with Kafka offsets ${JSON.stringify(held(last))}, but the checkpoint starts run ${run.sequence} ` +
        `from offsets ${JSON.stringify(offsets.before)}: committing would skip or repeat records. Set the checkpoint to the table's state ` +
        `({"format": 1, "sequence": ${sequenceOf(last, run.shard)}, "offsets": ${JSON.stringify(held(last))}, "pending": null}${run.shard === undefined ? '' : ', keeping its "generation"'}), then run the compactor again`,
    );
  }

  /**
   * Commits what `plan` builds on the current table: writes the new metadata file and swaps the
   * catalog's pointer to it. A lost swap waits (see {@link backoffMs}), re-reads the table and plans
   * again, up to a bound.
   */
  async commit(plan: CommitPlan): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      if (attempt > 0) await (this.deps.backoff ?? jitteredBackoff)(attempt - 1);
      const loaded = await this.load();
      const next = await plan(loaded);
      if (!next) return false;
      const previous = loaded?.entry.metadataLocation;
      const metadata = next.snapshot
        ? withSnapshot(next.metadata, next.snapshot, previous)
        : withPreviousFile(next.metadata, loaded?.metadata ?? next.metadata, previous, this.deps.clock.now());
      const location = this.uriOf(`${icebergMetadataPrefix(this.table.name)}${String(metadataVersionOf(previous) + 1).padStart(5, '0')}-${randomUUID()}.metadata.json`);
      await this.deps.store.putIfAbsent(this.keyOf(location), serializeMetadata(metadata));
      if (await this.deps.catalog.swap(this.table.name, location, loaded?.entry)) return true;
    }
    throw new IcebergCommitConflictError(`table ${this.table.name} changed under ${MAX_COMMIT_ATTEMPTS} commit attempts in a row; too many writers commit at once (compactor shards, optimize, redrive); nothing of this commit is in the table, run it again`);
  }

  async writeManifest(metadata: TableMetadata, snapshotId: SnapshotId, entries: readonly ManifestEntry[]): Promise<ManifestFile> {
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id'])!;
    const body = await encodeManifest(entries, currentSchema(metadata), spec, this.table.partitionBy);
    const key = `${icebergMetadataPrefix(this.table.name)}${randomUUID()}-m0.avro`;
    await this.deps.store.putIfAbsent(key, body);
    const partitions = entries.map((entry) => entry.file.partition);
    const count = (status: EntryStatus) => entries.filter((entry) => entry.status === status);
    const rows = (status: EntryStatus) => count(status).reduce((sum, entry) => sum + entry.file.recordCount, 0);
    return {
      path: this.uriOf(key), length: body.byteLength, specId: spec['spec-id'], sequenceNumber: 0, minSequenceNumber: 0, addedSnapshotId: snapshotId,
      addedFilesCount: count(EntryStatus.Added).length, existingFilesCount: count(EntryStatus.Existing).length, deletedFilesCount: count(EntryStatus.Deleted).length,
      addedRowsCount: rows(EntryStatus.Added), existingRowsCount: rows(EntryStatus.Existing), deletedRowsCount: rows(EntryStatus.Deleted),
      ...(partitions.length > 0 ? { partitionRange: [Math.min(...partitions), Math.max(...partitions)] as const } : {}),
    };
  }

  async writeManifestList(manifests: readonly ManifestFile[], snapshotId: SnapshotId, parent: Snapshot | undefined, sequenceNumber: number): Promise<string> {
    const body = await encodeManifestList(manifests, { id: snapshotId, ...(parent ? { parentId: parent['snapshot-id'] } : {}), sequenceNumber });
    const key = `${icebergMetadataPrefix(this.table.name)}snap-${snapshotId}-1-${randomUUID()}.avro`;
    await this.deps.store.putIfAbsent(key, body);
    return this.uriOf(key);
  }

  /** A written file as a manifest of a table of `schema` lists it: its column metrics keyed by that schema's field ids. */
  dataFile(file: WrittenFile, schema: IcebergSchema): ManifestEntry['file'] {
    return { path: this.uriOf(file.key), recordCount: file.rows, fileSizeInBytes: file.bytes, partition: file.bucket, metrics: dataFileMetrics(schema, file.columns) };
  }

  private newMetadata(): TableMetadata {
    const { schema, lastColumnId } = icebergSchema(tableColumns(this.table), 0);
    return newTableMetadata({
      uuid: randomUUID(), location: this.uriOf(curatedPrefix(this.table.name).slice(0, -1)), schema, lastColumnId,
      spec: partitionSpec(schema, this.table.eventTime, this.table.partitionBy), now: this.deps.clock.now(),
      properties: { 'write.format.default': 'parquet', 'streamlake.topic': this.table.topic },
    });
  }

  // A field added to the declaration becomes a new column, with a new id, in the commit that first writes it.
  private withDeclaredSchema(metadata: TableMetadata): TableMetadata {
    const { schema, lastColumnId } = icebergSchema(tableColumns(this.table), 0, currentSchema(metadata), metadata['last-column-id']);
    return withSchema(metadata, schema, lastColumnId);
  }

  private async read(uri: string): Promise<Uint8Array> {
    const object = await this.deps.store.get(this.keyOf(uri));
    if (!object) throw new IcebergLocationError(`table ${this.table.name}: ${uri} is missing; restore it from a bucket version`);
    return object.body;
  }
}

/** Iceberg's running totals of a snapshot's summary, from its parent's. */
export function totals(parent: Snapshot | undefined, change: { files: number; records: number; bytes: number }, removed = { files: 0, records: 0, bytes: 0 }): Record<string, string> {
  const before = (key: string) => Number(parent?.summary[key] ?? 0);
  return {
    'total-data-files': String(before('total-data-files') + change.files - removed.files),
    'total-records': String(before('total-records') + change.records - removed.records),
    'total-files-size': String(before('total-files-size') + change.bytes - removed.bytes),
    'total-delete-files': '0', 'total-position-deletes': '0', 'total-equality-deletes': '0',
  };
}

function sameOffsets(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}
