import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expireSnapshots } from '../../../lambdas/adapters/iceberg-expiry.ts';
import { IcebergTable, RedriveLedgerMismatchError } from '../../../lambdas/adapters/iceberg-table.ts';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { StoreCatalog } from '../../../lambdas/adapters/store-catalog.ts';
import { serializeCheckpoint, type CheckpointState } from '../../../lambdas/core/checkpoint.ts';
import { compact } from '../../../lambdas/core/compactor.ts';
import { currentSnapshot } from '../../../lambdas/core/iceberg-metadata.ts';
import { redriveLedgerKey } from '../../../lambdas/core/lake-layout.ts';
import { redrive, RedriveSchemaMismatchError, type RedriveOptions } from '../../../lambdas/core/redrive.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../../lambdas/ports/object-store.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { FaultyStore, InjectedCrash } from '../../helpers/faulty-store.ts';
import { expectMetricsOfRows } from '../../helpers/iceberg-metrics.ts';
import { tempDir } from '../../helpers/lake.ts';
import { auditRedrive } from '../../helpers/redrive-audit.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
const FLEET = new DeviceFleet({ ...DEFAULTS, devices: 20, lateShare: 0.3 });
const OPTIONS = compactorOptions(DEFAULTS, DEVICE_LOGS);
const REDRIVE: RedriveOptions = { table: DEVICE_LOGS, limits: OPTIONS.limits, codec: OPTIONS.codec, maxRecordsPerRun: 1000 };

describe('redrive', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  /** A lake whose compactor let no event be more than a minute late: the late records are in quarantine. */
  async function strictLake() {
    const dir = tempDir();
    dirs.push(dir);
    const log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: DEVICE_LOGS.topic, partitions: 3 });
    for (let minute = 1; minute <= 5; minute++) await produceMinute(FLEET, log, START + minute * MINUTE_MS);
    const store = new LocalDirectoryStore(join(dir.path, 'lake'));
    while ((await compact({ topic: log, store, encoder: parquetEncoder(), clock: { now: Date.now } }, { ...OPTIONS, limits: { ...OPTIONS.limits, maxEventAgeMs: MINUTE_MS } })).runId !== null);
    await log.close();
    return store;
  }
  const deps = (store: LocalDirectoryStore) => ({ store, encoder: parquetEncoder(), clock: { now: Date.now } });

  it('judges only the records with a Kafka timestamp at or after --since', async () => {
    const store = await strictLake();
    const all = await redrive(deps(store), { ...REDRIVE, dryRun: true });
    expect(all.redriven).toBeGreaterThan(0);
    // Records of minutes 1-5 carry Kafka timestamps in those minutes: from minute 4 on, fewer.
    const later = await redrive(deps(store), { ...REDRIVE, dryRun: true, since: START + 4 * MINUTE_MS });
    expect(later.redriven).toBeGreaterThan(0);
    expect(later.redriven).toBeLessThan(all.redriven);
    expect(await redrive(deps(store), { ...REDRIVE, since: START + 4 * MINUTE_MS })).toMatchObject({ redriven: later.redriven });
    expect(await redrive(deps(store), REDRIVE)).toMatchObject({ redriven: all.redriven - later.redriven });
  });

  describe('of an Iceberg table', () => {
    /** A strict lake of an Iceberg table, its log kept open to produce and compact more, on a clock the test moves. */
    async function icebergLake(firstMinutes = 5) {
      const dir = tempDir();
      dirs.push(dir);
      let now = Date.now();
      const clock = { now: () => now };
      const table = { ...DEVICE_LOGS, format: 'iceberg' as const };
      const log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: table.topic, partitions: 3 });
      const store = new LocalDirectoryStore(join(dir.path, 'lake'));
      const iceberg = (over: ObjectStore = store) => new IcebergTable({ store: over, catalog: new StoreCatalog(over), lakeUri: 'file:///lake/', clock }, table);
      let minute = 0;
      const produceAndCompact = async (minutes: number, over: ObjectStore = store) => {
        for (const end = minute + minutes; minute < end; ) await produceMinute(FLEET, log, START + ++minute * MINUTE_MS);
        while ((await compact({ topic: log, store: over, encoder: parquetEncoder(), clock, format: iceberg(over) }, { ...OPTIONS, table, limits: { ...OPTIONS.limits, maxEventAgeMs: MINUTE_MS } })).runId !== null);
      };
      const redriveOn = (over: ObjectStore = store) => redrive({ store: over, encoder: parquetEncoder(), clock, format: iceberg(over) }, { ...REDRIVE, table });
      const audit = async () => auditRedrive(store, table, await log.offsets(), iceberg());
      await produceAndCompact(firstMinutes);
      return { store, iceberg, clock, produceAndCompact, redriveOn, audit, advance: (ms: number) => void (now += ms), close: () => log.close() };
    }

    it('knows a crashed run committed even after its snapshot expired, and lands nothing twice', async () => {
      const lake = await icebergLake();
      // The run commits its snapshot, then dies before it marks the quarantine.
      const crashing = new FaultyStore(lake.store, (op, key) => (op === 'compareAndSwap' && key.startsWith('quarantine/') ? 'before' : undefined));
      await expect(lake.redriveOn(crashing)).rejects.toThrow(InjectedCrash);
      // Eight days of compactor runs later, the optimizer expires the redrive's snapshot.
      lake.advance(8 * DAY_MS);
      await lake.produceAndCompact(1);
      const { count } = await expireSnapshots(lake.iceberg(), { store: lake.store, encoder: parquetEncoder(), clock: lake.clock }, lake.clock.now() - 7 * DAY_MS);
      expect(count).toBeGreaterThan(0);
      const finished = await lake.redriveOn();
      expect(finished.resumed).toBe(true);
      const audit = await lake.audit();
      expect(audit).toMatchObject({ duplicates: 0, missing: 0, redrivenNotLanded: 0, lineageChanged: 0 });
      expect(audit.redriven).toBeGreaterThan(0);
      await lake.close();
    });

    it("lists the redrive's files, as the compactor's, with the counts and bounds of their rows", async () => {
      const lake = await icebergLake();
      expect((await lake.redriveOn()).runs).toEqual([1]);
      const { metadata } = (await lake.iceberg().load())!;
      expect((await lake.iceberg().dataFiles(currentSnapshot(metadata))).filter((entry) => entry.file.path.includes('/redrive-')).length).toBeGreaterThan(0);
      expect(await expectMetricsOfRows(lake.iceberg(), lake.store)).toBeGreaterThan(1);
      await lake.close();
    });

    it("waits for the table's first compactor commit, saying so, when that run quarantined records and crashed before it", async () => {
      const lake = await icebergLake(0);
      const crashing = new FaultyStore(lake.store, (op, key) => (op !== 'get' && key.startsWith('catalog/') ? 'before' : undefined));
      await expect(lake.produceAndCompact(5, crashing)).rejects.toThrow(InjectedCrash);
      await expect(lake.redriveOn()).rejects.toThrow(/not in its catalog yet. If its compactor has not committed a run yet .* let it commit first/);
      await lake.produceAndCompact(0);
      expect((await lake.redriveOn()).redriven).toBeGreaterThan(0);
      expect(await lake.audit()).toMatchObject({ duplicates: 0, missing: 0, redrivenNotLanded: 0, lineageChanged: 0 });
      await lake.close();
    });

    it('refuses a redrive ledger that was reset behind the table, with the ledger to write', async () => {
      const lake = await icebergLake();
      expect((await lake.redriveOn()).runs).toEqual([1]);
      await lake.store.delete(redriveLedgerKey(DEVICE_LOGS.name));
      await lake.produceAndCompact(3);
      await expect(lake.redriveOn()).rejects.toThrow(RedriveLedgerMismatchError);
      await expect(lake.redriveOn()).rejects.toThrow(/holds redrive run 1, but its redrive ledger .* has committed only 0.*"sequence": 1/);
      await lake.close();
    });
  });

  it('refuses to finish a run claimed under another schema, saying how to finish it, and a dry run leaves the claim alone', async () => {
    const store = await strictLake();
    const ledger = {
      format: 1, sequence: 0, offsets: {},
      pending: { sequence: 1, runId: '0123456789abcdef', ranges: [], startedAt: Date.now(), sources: [], reason: null, since: null, limits: OPTIONS.limits, schema: 'another-schema' },
    };
    await store.compareAndSwap(redriveLedgerKey(DEVICE_LOGS.name), serializeCheckpoint(ledger as unknown as CheckpointState), null);
    const dry = await redrive(deps(store), { ...REDRIVE, dryRun: true });
    expect(dry.redriven).toBeGreaterThan(0);
    expect(dry.pending).toEqual({ sequence: 1, claimedAt: new Date(ledger.pending.startedAt).toISOString() });
    const refused = redrive(deps(store), REDRIVE);
    await expect(refused).rejects.toThrow(RedriveSchemaMismatchError);
    await expect(refused).rejects.toThrow(/claimed under schema another-schema .* with the declaration that claimed it/);
  });
});
