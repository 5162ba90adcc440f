import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { optimizeTable } from '../../../lambdas/adapters/iceberg-maintenance.ts';
import { IcebergTable } from '../../../lambdas/adapters/iceberg-table.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { parseCheckpoint } from '../../../lambdas/core/checkpoint.ts';
import { compact, type CompactionReport } from '../../../lambdas/core/compactor.ts';
import { currentSnapshot, offsetsOf, sequenceKey, SUMMARY, type Snapshot } from '../../../lambdas/core/iceberg-metadata.ts';
import { checkpointKey } from '../../../lambdas/core/lake-layout.ts';
import { shardGroup, shardOf, type Shard } from '../../../lambdas/core/shards.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../../lambdas/ports/object-store.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { FaultyStore, InjectedCrash } from '../../helpers/faulty-store.ts';
import { auditSnapshots } from '../../helpers/iceberg-audit.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 5, 0, 0);
const TABLE = { ...DEVICE_LOGS, format: 'iceberg' as const };
const GROUP = DEFAULTS.consumerGroup;

describe('Iceberg table compacted by shards', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  let lake: LocalLake;
  let now: number;
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: 30, seed: 5, lateShare: 0.1, corruptShare: 0.03 });

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: TABLE.topic, partitions: 5 });
    lake = new LocalLake(join(dir.path, 'lake'));
    now = START;
    maxRecordsPerRun = 40;
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  const produceMinutes = async (count: number) => {
    for (let i = 0; i < count; i++) await produceMinute(fleet, log, (now += MINUTE));
  };
  const iceberg = (store: ObjectStore = lake.store) => new IcebergTable({ store, catalog: lake.catalog, lakeUri: lake.lakeUri, clock: { now: () => now } }, TABLE);
  let maxRecordsPerRun = 40;
  const run = (shard: Shard, store: ObjectStore = lake.store): Promise<CompactionReport> =>
    compact({ topic: log, store, encoder: parquetEncoder(), clock: { now: () => now }, format: iceberg(store) }, { ...compactorOptions(DEFAULTS, TABLE), maxRecordsPerRun, shard });
  const current = async (): Promise<Snapshot> => currentSnapshot((await iceberg().load())!.metadata)!;
  const three = [0, 1, 2].map((i) => shardOf(i, 3));

  async function drain(shards: readonly Shard[]): Promise<void> {
    for (let busy = [...shards]; busy.length > 0; ) {
      const reports = await Promise.all(busy.map((s) => run(s)));
      busy = busy.filter((_, i) => reports[i]!.runId !== null);
    }
  }

  async function expectEverySnapshotExactlyOnce(minSnapshots = 4): Promise<void> {
    const audits = await auditSnapshots(iceberg(), lake.store);
    expect(audits.length).toBeGreaterThanOrEqual(minSnapshots);
    for (const audit of audits) expect(audit, `snapshot ${audit.snapshotId}`).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
    const latest = await current();
    expect(offsetsOf(latest)).toEqual(Object.fromEntries((await log.offsets()).map((p) => [String(p.partition), p.highWatermark])));
  }

  it('commits each shard\'s runs under its own sequence key and merges the offsets per partition, every snapshot exactly once', async () => {
    await produceMinutes(20);
    let n = 0;
    const crashing = new FaultyStore(lake.store, (op) => (op !== 'get' && op !== 'list' && ++n % 9 === 0 ? (n % 2 === 0 ? 'before' : 'after') : undefined));
    let crashes = 0;
    for (let round = 0; round < 30; round++) {
      // Each shard and a second copy of it, one of them crashing now and then.
      const results = await Promise.allSettled(three.flatMap((s) => [run(s, crashing), run(s)]));
      for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof InjectedCrash)) throw r.reason;
      crashes += results.filter((r) => r.status === 'rejected').length;
      if (round === 10) await produceMinutes(10);
    }
    expect(crashes).toBeGreaterThan(0);
    await drain(three);
    const summary = (await current()).summary;
    for (const shard of three) {
      const key = checkpointKey(TABLE.name, shardGroup(GROUP, shard));
      expect(summary[sequenceKey(shard)]).toBe(String(parseCheckpoint((await lake.store.get(key))!.body, key).sequence));
    }
    expect(summary[SUMMARY.sequence]).toBeUndefined();
    await expectEverySnapshotExactlyOnce();
  });

  it('keeps every shard\'s progress through an optimize merge, and the shards go on committing after it', async () => {
    maxRecordsPerRun = 150;
    await produceMinutes(70);
    await drain(three);
    const before = (await current()).summary;
    now += 3 * HOUR;
    const optimized = await optimizeTable(iceberg(), { store: lake.store, encoder: parquetEncoder(), clock: { now: () => now } }, { closedAfterMs: HOUR, codec: 'snappy' });
    expect(optimized.snapshotId).not.toBeNull();
    const merged = (await current()).summary;
    expect(merged.operation).toBe('replace');
    for (const shard of three) expect(merged[sequenceKey(shard)]).toBe(before[sequenceKey(shard)]);
    expect(merged[SUMMARY.offsets]).toBe(before[SUMMARY.offsets]);
    await produceMinutes(10);
    await drain(three);
    await expectEverySnapshotExactlyOnce();
  });

  it('removes the files of a fast shard\'s runs that only expired snapshots referenced, and keeps an unreferenced run file past the slowest shard\'s sequence', async () => {
    await produceMinutes(70);
    // Shard 0 in small runs, the others in large ones: their sequences drift apart.
    maxRecordsPerRun = 1_000;
    await drain([three[1]!, three[2]!]);
    maxRecordsPerRun = 20;
    await drain([three[0]!]);
    const summary = (await current()).summary;
    const [fast, slow] = [Number(summary[sequenceKey(three[0]!)]), Number(summary[sequenceKey(three[1]!)])];
    expect(fast).toBeGreaterThan(slow + 5);
    const table = iceberg();
    const everReferenced = new Set<string>();
    for (const snapshot of (await table.load())!.metadata.snapshots) for (const entry of await table.dataFiles(snapshot)) everReferenced.add(table.keyOf(entry.file.path));
    const fastRunFiles = [...everReferenced].filter((key) => Number(/\/run-(\d+)-/.exec(key)?.[1] ?? 0) > slow);
    expect(fastRunFiles.length).toBeGreaterThan(0);
    // A run file nobody references and nobody claims, of a sequence past the slowest shard's: it may be that shard's next run.
    const pendingLike = `${table.dataDir(Math.floor(START / HOUR))}run-${String(slow + 1).padStart(8, '0')}-ffffffffffffffff.parquet`;
    writeFileSync(join(lake.dir, pendingLike), 'PAR1');
    utimesSync(join(lake.dir, pendingLike), new Date(START - 30 * 86_400_000), new Date(START - 30 * 86_400_000));

    const deps = { store: lake.store, encoder: parquetEncoder(), clock: { now: () => now } };
    // Three hours on, the hours are closed and merged, and every snapshot before the merge is past the retention.
    now += 3 * HOUR;
    const optimized = await optimizeTable(table, deps, { closedAfterMs: HOUR, codec: 'snappy', retentionMs: HOUR });
    expect(optimized.snapshotsExpired).toBeGreaterThan(0);
    const live = new Set((await table.dataFiles(await current())).map((e) => table.keyOf(e.file.path)));
    expect(fastRunFiles.filter((key) => !live.has(key) && existsSync(join(lake.dir, key)))).toEqual([]);
    expect(existsSync(join(lake.dir, pendingLike))).toBe(true);
    await expectEverySnapshotExactlyOnce(1);
  });

  it('keeps today\'s summary keys for one shard', async () => {
    await produceMinutes(5);
    await drain([shardOf(0, 1)]);
    const keys = Object.keys((await current()).summary).filter((key) => key.startsWith('streamlake.'));
    expect(keys.sort()).toEqual([SUMMARY.offsets, SUMMARY.ranges, SUMMARY.runId, SUMMARY.sequence].sort());
  });

  it('hands a table over from one compactor to three shards and back without a record lost or repeated', async () => {
    await produceMinutes(10);
    await drain([shardOf(0, 1)]);
    await produceMinutes(10);
    await drain(three);
    expect((await current()).summary[SUMMARY.sequence]).toBeDefined(); // carried forward
    await produceMinutes(10);
    await drain([shardOf(0, 1)]);
    await expectEverySnapshotExactlyOnce();
  });
});
