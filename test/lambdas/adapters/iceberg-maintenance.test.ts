import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { optimizeTable, type MaintenanceDeps, type OptimizeOptions } from '../../../lambdas/adapters/iceberg-maintenance.ts';
import { decodeManifest, EntryStatus } from '../../../lambdas/adapters/iceberg-avro.ts';
import { IcebergTable } from '../../../lambdas/adapters/iceberg-table.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { serializeCheckpoint } from '../../../lambdas/core/checkpoint.ts';
import { currentSnapshot, offsetsOf, sequenceOf, SUMMARY, type Snapshot } from '../../../lambdas/core/iceberg-metadata.ts';
import { checkpointKey } from '../../../lambdas/core/lake-layout.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { TableCatalog } from '../../../lambdas/ports/table-catalog.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { DuckDbLake } from '../../../src/local/duckdb-lake.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';
import { compactLocal } from '../../../src/local/runner.ts';
import { auditSnapshots } from '../../helpers/iceberg-audit.ts';
import { expectMetricsOfRows } from '../../helpers/iceberg-metrics.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 5, 0, 0);
const TABLE = { ...DEVICE_LOGS, format: 'iceberg' as const };
const MERGE: OptimizeOptions = { closedAfterMs: HOUR, codec: 'snappy' };

/** A data directory of this suite: the topic's embedded log and the lake, on a simulated clock. */
class Fixture {
  readonly root: string;
  readonly lake: LocalLake;
  now = START;

  constructor(root: string) {
    this.root = root;
    this.lake = new LocalLake(join(root, 'lake'));
  }

  topic(): Promise<LocalLog> {
    return LocalLog.open({ dir: join(this.root, 'topic'), topic: TABLE.topic, partitions: 3 });
  }

  /** `minutes` of a fleet with a tenth of its events up to 90 minutes late, compacted every 5 minutes as the schedule would. */
  async produce(minutes: number, seed = 7): Promise<void> {
    const topic = await this.topic();
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 20, seed, lateShare: 0.1, corruptShare: 0 });
    try {
      for (let m = 1; m <= minutes; m++) {
        this.now += MINUTE;
        await produceMinute(fleet, topic, this.now);
        if (m % 5 === 0) await this.compact(topic);
      }
    } finally {
      await topic.close();
    }
  }

  compact(topic: LocalLog) {
    return compactLocal(TABLE, topic, this.lake, this.now, 'snappy');
  }

  table(catalog: TableCatalog = this.lake.catalog): IcebergTable {
    return new IcebergTable({ store: this.lake.store, catalog, lakeUri: this.lake.lakeUri, clock: { now: () => this.now } }, TABLE);
  }

  deps(): MaintenanceDeps {
    return { store: this.lake.store, encoder: parquetEncoder(), clock: { now: () => this.now } };
  }

  optimize(options: Partial<OptimizeOptions> = {}, catalog?: TableCatalog) {
    return optimizeTable(this.table(catalog), this.deps(), { ...MERGE, ...options });
  }

  async current(): Promise<Snapshot> {
    return currentSnapshot((await this.table().load())!.metadata)!;
  }

  /** The local paths of a snapshot's live data files. */
  async files(snapshot: Snapshot): Promise<string[]> {
    return (await this.table().dataFiles(snapshot)).map((entry) => fileURLToPath(entry.file.path));
  }

  /** Live files per partition of a snapshot. */
  async filesPerPartition(snapshot: Snapshot): Promise<Map<number, string[]>> {
    const byPartition = new Map<number, string[]>();
    for (const entry of await this.table().dataFiles(snapshot)) byPartition.set(entry.file.partition, [...(byPartition.get(entry.file.partition) ?? []), entry.file.path]);
    return byPartition;
  }

  /** SQL over two sets of data files: their rows, distinct (partition, offset) pairs, and the rows, every column compared, in one and not the other. */
  async compare(before: readonly string[], after: readonly string[]) {
    const lake = await DuckDbLake.open(this.lake.dir, []);
    const read = (files: readonly string[]) => `read_parquet([${files.map((f) => `'${f}'`).join(', ')}])`;
    try {
      const [row] = (
        await lake.query(`SELECT (SELECT count(*) FROM ${read(before)}) AS rows_before, (SELECT count(*) FROM ${read(after)}) AS rows_after,
          (SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM ${read(after)}) AS distinct_after,
          (SELECT count(*) FROM (SELECT * FROM ${read(before)} EXCEPT ALL SELECT * FROM ${read(after)})) AS lost,
          (SELECT count(*) FROM (SELECT * FROM ${read(after)} EXCEPT ALL SELECT * FROM ${read(before)})) AS gained`)
      ).rows;
      const n = (key: string) => Number(row![key]);
      return { rows_before: n('rows_before'), rows_after: n('rows_after'), distinct_after: n('distinct_after'), lost: n('lost'), gained: n('gained') };
    } finally {
      lake.close();
    }
  }

  /** Makes a file of the lake look written `ageMs` before the simulated now. */
  age(key: string, ageMs: number): void {
    const when = new Date(this.now - ageMs);
    utimesSync(join(this.lake.dir, key), when, when);
  }

  write(key: string, body: Uint8Array | string): void {
    mkdirSync(dirname(join(this.lake.dir, key)), { recursive: true });
    writeFileSync(join(this.lake.dir, key), body);
  }
}

/** A catalog that runs `interlude` (once) just before the first swap it is asked for, so that the swap loses to whatever the interlude commits. */
function racing(catalog: TableCatalog, interlude: () => Promise<void>): TableCatalog & { raced: boolean } {
  const wrapped = {
    raced: false,
    get: (table: string) => catalog.get(table),
    async swap(...args: Parameters<TableCatalog['swap']>) {
      if (!wrapped.raced) {
        wrapped.raced = true;
        await interlude();
      }
      return catalog.swap(...args);
    },
  };
  return wrapped;
}

describe('optimizeTable', () => {
  const dirs: { remove: () => void }[] = [];
  afterAll(() => dirs.forEach((dir) => dir.remove()));

  /** Three hours of traffic: compactor runs of ~100 records, each with a file in every hour its late events reach. (Metadata holds absolute paths: a lake cannot be copied.) */
  const fixture = async (): Promise<Fixture> => {
    const dir = tempDir();
    dirs.push(dir);
    const lake = new Fixture(dir.path);
    await lake.produce(180);
    return lake;
  };

  it('merges the small files of each closed hour into one in a replace snapshot, with the same rows, and leaves open hours as they are', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    const before = await lake.current();
    const partitionsBefore = await lake.filesPerPartition(before);
    const report = await lake.optimize();

    const after = await lake.current();
    expect(after['snapshot-id']).not.toBe(before['snapshot-id']);
    expect(String(after['snapshot-id'])).toBe(report.snapshotId);
    expect(after.summary.operation).toBe('replace');
    const partitionsAfter = await lake.filesPerPartition(after);
    const closed = [...partitionsBefore.keys()].filter((p) => (p + 1) * HOUR <= lake.now - HOUR);
    const open = [...partitionsBefore.keys()].filter((p) => !closed.includes(p));
    expect(closed.length).toBeGreaterThanOrEqual(2);
    expect(open.length).toBeGreaterThanOrEqual(1);
    for (const p of closed) {
      expect(partitionsBefore.get(p)!.length, `hour ${p} before`).toBeGreaterThan(1);
      expect(partitionsAfter.get(p), `hour ${p} after`).toHaveLength(1);
      expect(partitionsAfter.get(p)![0]).toMatch(/\/optimized-[^/]+\.parquet$/);
    }
    for (const p of open) expect(partitionsAfter.get(p), `open hour ${p}`).toEqual(partitionsBefore.get(p));

    const rows = await lake.compare(await lake.files(before), await lake.files(after));
    expect(rows).toEqual({ rows_before: rows.rows_before, rows_after: rows.rows_before, distinct_after: rows.rows_before, lost: 0, gained: 0 });
    expect(report).toMatchObject({ partitionsMerged: closed.length, filesAfter: closed.length, commitAttempts: 1, snapshotsExpired: 0 });
    expect(report.filesBefore).toBe(closed.reduce((sum, p) => sum + partitionsBefore.get(p)!.length, 0));
    expect(report.partitions.filter((p) => p.closed).map((p) => p.filesAfter)).toEqual(closed.map(() => 1));

    // The compactor reads its progress from the current snapshot: the replace carries it forward.
    expect(sequenceOf(after)).toBe(sequenceOf(before));
    expect(offsetsOf(after)).toEqual(offsetsOf(before));
    expect(after.summary).toMatchObject({
      'added-data-files': String(closed.length), 'deleted-data-files': String(report.filesBefore),
      'added-records': String(report.rowsRewritten), 'deleted-records': String(report.rowsRewritten),
      'total-records': before.summary['total-records'], 'total-data-files': String(Number(before.summary['total-data-files']) - report.filesBefore + closed.length),
    });
    expect(after.summary[SUMMARY.runId]).toBeUndefined();
    // Replaced files are listed as deleted and untouched ones as existing, each with the data sequence number it had.
    const sequences = async (snapshot: Snapshot) => {
      const entries = [];
      for (const manifest of await lake.table().manifests(snapshot)) {
        for (const entry of await decodeManifest((await lake.lake.store.get(lake.table().keyOf(manifest.path)))!.body)) {
          entries.push({ path: entry.file.path, status: entry.status, sequence: entry.sequenceNumber ?? manifest.sequenceNumber, snapshot: entry.snapshotId ?? manifest.addedSnapshotId });
        }
      }
      return entries;
    };
    const had = new Map((await sequences(before)).filter((e) => e.status !== EntryStatus.Deleted).map((e) => [e.path, e.sequence]));
    const listed = await sequences(after);
    const deleted = listed.filter((e) => e.status === EntryStatus.Deleted);
    expect(deleted).toHaveLength(report.filesBefore);
    for (const entry of listed.filter((e) => e.status !== EntryStatus.Added)) expect(entry.sequence, entry.path).toBe(had.get(entry.path));
    expect(deleted.every((e) => String(e.snapshot) === report.snapshotId)).toBe(true);
    expect(listed.filter((e) => e.status === EntryStatus.Added).map((e) => e.sequence)).toEqual(closed.map(() => after['sequence-number']));
    // Time travel: the snapshot before the merge still reads its own files.
    expect((await lake.files(before)).every((file) => existsSync(file))).toBe(true);
    for (const audit of await auditSnapshots(lake.table(), lake.lake.store)) expect(audit, audit.snapshotId).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
  });

  it('lists the merged files with the counts and bounds of their rows, and keeps the metrics of the files it lists again as existing', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    const before = await lake.current();
    expect(await expectMetricsOfRows(lake.table(), lake.lake.store), "the compactor's files").toBeGreaterThan(3);
    await lake.optimize();
    const entries = await lake.table().dataFiles(await lake.current());
    expect(entries.filter((entry) => entry.status === EntryStatus.Existing).length, 'files listed again as existing').toBeGreaterThan(0);
    expect(entries.filter((entry) => entry.file.path.includes('/optimized-')).length, 'merged files').toBeGreaterThan(0);
    expect(await expectMetricsOfRows(lake.table(), lake.lake.store)).toBe(entries.length);
    const had = new Map((await lake.table().dataFiles(before)).map((entry) => [entry.file.path, entry.file.metrics]));
    for (const entry of entries.filter((e) => e.status === EntryStatus.Existing)) expect(entry.file.metrics, entry.file.path).toEqual(had.get(entry.file.path));
  });

  it('does nothing more when run again, and cuts a partition into files near a smaller target', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    await lake.optimize();
    const again = await lake.optimize();
    expect(again).toMatchObject({ snapshotId: null, partitionsMerged: 0, rowsRewritten: 0 });

    const other = await fixture();
    const before = await other.current();
    const target = 12_000;
    const report = await other.optimize({ targetFileBytes: target });
    const after = await other.current();
    const merged = (await other.table().dataFiles(after)).filter((entry) => entry.file.path.includes('/optimized-'));
    expect(new Set(merged.map((entry) => entry.file.partition)).size).toBeLessThan(merged.length);
    expect(Math.max(...merged.map((entry) => entry.file.fileSizeInBytes))).toBeLessThan(target);
    expect(report.partitions.some((p) => p.closed && p.filesAfter > 1)).toBe(true);
    expect(await other.compare(await other.files(before), await other.files(after))).toMatchObject({ lost: 0, gained: 0 });
  });

  it('plans again when a compactor commits during the merge: the compactor\'s run and every row stay, once', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    const before = await lake.current();
    const topic = await lake.topic();
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 20, seed: 99, lateShare: 0.5, corruptShare: 0 });
    let run = 0;
    const catalog = racing(lake.lake.catalog, async () => {
      // Five more minutes, with late events into hours the merge is rewriting, committed first.
      for (let m = 0; m < 5; m++) await produceMinute(fleet, topic, (lake.now += MINUTE));
      run = (await lake.compact(topic)).sequence;
    });
    const report = await lake.optimize({}, catalog);
    await topic.close();

    expect(catalog.raced).toBe(true);
    expect(run).toBe(sequenceOf(before) + 1);
    expect(report.commitAttempts).toBe(2);
    const metadata = (await lake.table().load())!.metadata;
    const after = currentSnapshot(metadata)!;
    const compacted = metadata.snapshots.find((s) => sequenceOf(s) === run && s.summary.operation === 'append')!;
    expect(after.summary.operation).toBe('replace');
    expect(after['parent-snapshot-id']).toBe(compacted['snapshot-id']);
    expect(sequenceOf(after)).toBe(run);
    expect(offsetsOf(after)).toEqual(offsetsOf(compacted));
    const rows = await lake.compare(await lake.files(compacted), await lake.files(after));
    expect(rows).toEqual({ rows_before: rows.rows_before, rows_after: rows.rows_before, distinct_after: rows.rows_before, lost: 0, gained: 0 });
    expect(rows.rows_before).toBeGreaterThan((await lake.compare(await lake.files(before), await lake.files(before))).rows_before);
    for (const audit of await auditSnapshots(lake.table(), lake.lake.store)) expect(audit, audit.snapshotId).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
    // The first attempt's merged files were never committed: none is left behind.
    const referenced = new Set(await lake.files(after));
    const optimized = (await lake.lake.store.list('curated/device_logs/data/')).filter((e) => e.key.includes('/optimized-'));
    expect(optimized.every((e) => referenced.has(join(lake.lake.dir, e.key)))).toBe(true);
  });

  it('replaces only files still live: when another optimize merged first, it finds nothing left to merge', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    let first: Awaited<ReturnType<Fixture['optimize']>> | undefined;
    const catalog = racing(lake.lake.catalog, async () => {
      first = await lake.optimize();
    });
    const second = await lake.optimize({}, catalog);
    expect(first!.snapshotId).not.toBeNull();
    expect(second).toMatchObject({ snapshotId: null, commitAttempts: 2 });
    const metadata = (await lake.table().load())!.metadata;
    expect(metadata.snapshots.filter((s) => s.summary.operation === 'replace')).toHaveLength(1);
    const before = metadata.snapshots.at(-2)!;
    expect(await lake.compare(await lake.files(before), await lake.files(currentSnapshot(metadata)!))).toMatchObject({ lost: 0, gained: 0 });
  });

  it('keeps its merged files when a swap took effect but answered as lost (a timeout on the way back)', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    const before = await lake.current();
    let lied = false;
    const catalog: TableCatalog = {
      get: (table) => lake.lake.catalog.get(table),
      async swap(...args) {
        const swapped = await lake.lake.catalog.swap(...args);
        if (lied) return swapped;
        lied = true;
        return false;
      },
    };
    const report = await lake.optimize({}, catalog);
    const after = await lake.current();
    expect(String(after['snapshot-id'])).toBe(report.snapshotId);
    expect((await lake.files(after)).every((file) => existsSync(file))).toBe(true);
    expect(await lake.compare(await lake.files(before), await lake.files(after))).toMatchObject({ lost: 0, gained: 0 });
  });

  it('expires snapshots past the retention and removes what only they referenced, keeps a claimed run\'s files and young orphans, removes an old orphan', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    await lake.optimize();
    const merged = await lake.current();
    const table = lake.table();
    const metadata = (await table.load())!.metadata;
    const everReferenced = new Set<string>();
    for (const snapshot of metadata.snapshots) for (const entry of await table.dataFiles(snapshot)) everReferenced.add(table.keyOf(entry.file.path));
    const replaced = [...everReferenced].filter((key) => !key.includes('/optimized-'));
    expect(replaced.length).toBeGreaterThan(10);

    // A run another group (numbering its own runs) claimed and has not committed, files written; a run of the last committed sequence that crashed and never will be; files of a later run nobody claims.
    const dir = 'curated/device_logs/data/event_time_hour=2026-01-05-01/';
    const committed = sequenceOf(merged);
    const claimed = `${dir}run-00000003-aaaaaaaaaaaaaaaa.parquet`;
    const crashed = `${dir}run-${String(committed).padStart(8, '0')}-bbbbbbbbbbbbbbbb.parquet`;
    const unclaimed = `${dir}run-${String(committed + 2).padStart(8, '0')}-cccccccccccccccc.parquet`;
    const youngOrphan = `${dir}optimized-1-dddddddddddddddd.parquet`;
    const oldOrphan = `${dir}optimized-2-eeeeeeeeeeeeeeee.parquet`;
    for (const key of [claimed, crashed, unclaimed, youngOrphan, oldOrphan]) lake.write(key, 'PAR1');
    const pending = { sequence: 3, runId: 'aaaaaaaaaaaaaaaa', ranges: [], startedAt: lake.now };
    lake.write(checkpointKey('device_logs', 'other-group'), serializeCheckpoint({ format: 1, sequence: 2, offsets: {}, pending }));
    for (const key of [claimed, crashed, unclaimed, oldOrphan]) lake.age(key, 9 * DAY);

    // Within the retention nothing is expired, and only files proven older than it go.
    const soon = await lake.optimize();
    expect(soon.snapshotsExpired).toBe(0);
    expect(soon.filesRemoved).toMatchObject({ dataFiles: 2 });
    expect([crashed, oldOrphan].map((key) => existsSync(join(lake.lake.dir, key)))).toEqual([false, false]);
    expect(replaced.every((key) => existsSync(join(lake.lake.dir, key)))).toBe(true);

    // Eight days on, the hours that were open are closed and merged too, and every snapshot before that merge expires.
    lake.now += 8 * DAY;
    const later = await lake.optimize();
    const after = (await table.load())!.metadata;
    const current = currentSnapshot(after)!;
    expect(String(current['snapshot-id'])).toBe(later.snapshotId);
    expect(later.snapshotsExpired).toBe(metadata.snapshots.length);
    expect(after.snapshots).toEqual([current]);
    // The expired snapshots' own files are older than the retention by their timestamps, mtime or not.
    const live = new Set((await table.dataFiles(current)).map((e) => table.keyOf(e.file.path)));
    const gone = [...everReferenced].filter((key) => !live.has(key));
    expect(gone.filter((key) => existsSync(join(lake.lake.dir, key)))).toEqual([]);
    expect(later.filesRemoved.dataFiles).toBe(gone.length);
    expect(later.filesRemoved.manifestLists).toBe(metadata.snapshots.length);
    expect(later.filesRemoved.metadataFiles).toBeGreaterThan(0);
    expect([claimed, unclaimed, youngOrphan].map((key) => existsSync(join(lake.lake.dir, key)))).toEqual([true, true, true]);
    // What the table still references is all there: the current snapshot reads every row it had.
    expect((await lake.files(current)).every((file) => existsSync(file))).toBe(true);
    expect(current.summary['total-records']).toBe(merged.summary['total-records']);
    expect(after['metadata-log'].every((e) => existsSync(fileURLToPath(e['metadata-file'])))).toBe(true);
    for (const audit of await auditSnapshots(lake.table(), lake.lake.store)) expect(audit, audit.snapshotId).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
  });

  it('starts no new merge after mergeUntil: what was merged commits, the rest waits for the next run', { timeout: 60_000 }, async () => {
    const lake = await fixture();
    const stopped = await lake.optimize({ mergeUntil: lake.now });
    expect(stopped.snapshotId).toBeNull();
    expect(stopped.partitions.filter((p) => p.closed).every((p) => p.filesAfter === p.filesBefore)).toBe(true);
    const later = await lake.optimize();
    expect(later.partitionsMerged).toBeGreaterThan(0);
  });
});
