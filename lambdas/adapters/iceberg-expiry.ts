import { parseCheckpoint } from '../core/checkpoint.ts';
import { lastRunSnapshot, sequencesOf, withoutSnapshotsBefore, type Snapshot, type TableMetadata } from '../core/iceberg-metadata.ts';
import { checkpointPrefix, curatedPrefix, icebergMetadataPrefix } from '../core/lake-layout.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { decodeManifest, EntryStatus } from './iceberg-avro.ts';
import type { MaintenanceDeps, RemovedFiles } from './iceberg-maintenance.ts';
import { IcebergLocationError, type IcebergTable } from './iceberg-table.ts';

/**
 * The second half of `streamlake optimize`: snapshots older than the retention expire, and the
 * files no kept snapshot references are removed once they are older than that too, never the
 * files of a compactor run claimed and not committed yet.
 */

/** Previous metadata files the metadata log keeps (Iceberg's `write.metadata.previous-versions-max`). */
const METADATA_VERSIONS_KEPT = 100;

const EMPTY_REMOVED: RemovedFiles = { dataFiles: 0, manifests: 0, manifestLists: 0, metadataFiles: 0, bytes: 0 };

/**
 * Expires the snapshots committed before `cutoff` (never the current one) and trims the metadata
 * log to the files of the retention, at most {@link METADATA_VERSIONS_KEPT}, in a
 * commit of table metadata without a new snapshot. Returns how many snapshots it expired and the
 * keys of the files only they referenced (and of the metadata files dropped from the log): files
 * older than the cutoff by the snapshots' own timestamps.
 */
export async function expireSnapshots(table: IcebergTable, deps: MaintenanceDeps, cutoff: number): Promise<{ count: number; knownOld: Set<string> }> {
  let expired: Snapshot[] = [];
  let dropped: TableMetadata['metadata-log'][number][] = [];
  // Planned anew on every commit attempt, from the table as it is then.
  const committed = await table.commit(async (loaded) => {
    if (!loaded) return undefined;
    const { metadata } = loaded;
    const kept = withoutSnapshotsBefore(metadata, cutoff, deps.clock.now());
    const log = metadata['metadata-log'].filter((e) => e['timestamp-ms'] >= cutoff).slice(-METADATA_VERSIONS_KEPT);
    expired = metadata.snapshots.filter((snapshot) => !kept.snapshots.includes(snapshot));
    dropped = metadata['metadata-log'].filter((e) => !log.includes(e));
    return expired.length === 0 && dropped.length === 0 ? undefined : { metadata: { ...kept, 'metadata-log': log } };
  });
  if (!committed) return { count: 0, knownOld: new Set() };
  const knownOld = new Set(dropped.filter((e) => e['timestamp-ms'] < cutoff).map((e) => table.keyOf(e['metadata-file'])));
  for (const key of await snapshotFiles(table, deps.store, expired, new Map(), 'skip')) knownOld.add(key);
  return { count: expired.length, knownOld };
}

/**
 * The keys of the manifest lists, manifests and live data files of `snapshots`; `manifests` caches
 * what manifests were read. For expired snapshots (`missing: 'skip'`) a file an earlier,
 * interrupted run removed already has nothing more to give; for the snapshots kept, a missing file
 * fails the removal, which would otherwise take the files it lists for unreferenced.
 */
async function snapshotFiles(table: IcebergTable, store: ObjectStore, snapshots: readonly Snapshot[], manifests: Map<string, string[]>, missing: 'skip' | 'fail'): Promise<Set<string>> {
  const keys = new Set<string>();
  const absent = (key: string) => {
    if (missing === 'fail') throw new IcebergLocationError(`table ${table.table.name}: ${key}, which a kept snapshot needs, is missing; restore it from a bucket version before removing files`);
  };
  for (const snapshot of snapshots) {
    const listKey = table.keyOf(snapshot['manifest-list']);
    keys.add(listKey);
    if (!(await store.get(listKey))) {
      absent(listKey);
      continue;
    }
    for (const manifest of await table.manifests(snapshot)) {
      const key = table.keyOf(manifest.path);
      keys.add(key);
      if (!manifests.has(key)) {
        const object = await store.get(key);
        if (!object) absent(key);
        const entries = object ? await decodeManifest(object.body) : [];
        manifests.set(key, entries.filter((e) => e.status !== EntryStatus.Deleted).map((e) => table.keyOf(e.file.path)));
      }
      for (const file of manifests.get(key)!) keys.add(file);
    }
  }
  return keys;
}

// `run-00000042-<run id>.parquet`: a compactor run's data file; `redrive-00000003-<run id>.parquet`: a redrive's.
const RUN_FILE = /\/(run|redrive)-(\d+)-([0-9a-f]+)\.parquet$/;

/**
 * Removes the table's data and metadata files that no snapshot and no kept metadata file
 * references, once they are older than `cutoff`: by the snapshots that last referenced them
 * (`knownOld`), or by the time the store lists them with. A file whose age is unknown stays, and
 * so do the files of a compactor run claimed and not committed yet, or of any run after the last
 * committed one, or of a redrive claimed in its ledger (a checkpoint too). The claims are read before
 * the table, so a run that commits in between is seen.
 */
export async function removeUnreferencedFiles(table: IcebergTable, deps: MaintenanceDeps, cutoff: number, knownOld: ReadonlySet<string>): Promise<RemovedFiles> {
  const name = table.table.name;
  const claimed = await pendingRunIds(deps.store, name);
  const loaded = await table.load();
  if (!loaded) return EMPTY_REMOVED;
  const { metadata, entry } = loaded;
  const reachable = await snapshotFiles(table, deps.store, metadata.snapshots, new Map(), 'fail');
  reachable.add(table.keyOf(entry.metadataLocation));
  for (const e of metadata['metadata-log']) reachable.add(table.keyOf(e['metadata-file']));
  // A run file's name does not say which shard wrote it: one a snapshot never referenced is kept past the sequence the slowest shard committed.
  const sequences = Object.values(sequencesOf(lastRunSnapshot(metadata)));
  const committed = sequences.length === 0 ? 0 : Math.min(...sequences);
  const kept = (key: string) => {
    const run = RUN_FILE.exec(key);
    return reachable.has(key) || (run !== null && ((run[1] === 'run' && !knownOld.has(key) && Number(run[2]) > committed) || claimed.has(run[3]!)));
  };
  const listed = [...(await deps.store.list(`${curatedPrefix(name)}data/`)), ...(await deps.store.list(icebergMetadataPrefix(name)))];
  const doomed = listed.filter((e) => !kept(e.key) && (knownOld.has(e.key) || e.lastModified < cutoff));
  const removed = { ...EMPTY_REMOVED };
  for (const [i, file] of doomed.entries()) {
    await deps.store.delete(file.key);
    const kind = file.key.endsWith('.parquet') ? 'dataFiles' : file.key.endsWith('.metadata.json') ? 'metadataFiles' : /\/snap-[^/]*\.avro$/.test(file.key) ? 'manifestLists' : 'manifests';
    removed[kind]++;
    removed.bytes += file.size;
    deps.onProgress?.({ step: 'remove', done: i + 1, total: doomed.length });
  }
  return removed;
}

/** The run ids of the compactor and redrive runs claimed in the table's checkpoints and not committed yet. */
async function pendingRunIds(store: ObjectStore, table: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const { key } of await store.list(checkpointPrefix(table))) {
    if (!key.endsWith('.json')) continue;
    const object = await store.get(key);
    const pending = object && parseCheckpoint(object.body, key).pending;
    if (pending) ids.add(pending.runId);
  }
  return ids;
}
