import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import type { KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { S3ObjectStore } from '../../lambdas/adapters/s3-store.ts';
import { StoreCatalog } from '../../lambdas/adapters/store-catalog.ts';
import { compact } from '../../lambdas/core/compactor.ts';
import { redrive, type RedriveReport } from '../../lambdas/core/redrive.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TableFormat } from '../../lambdas/ports/table-format.ts';
import type { PartitionOffsets, TopicReader } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { compactorOptions } from '../../src/local/runner.ts';
import { createUniqueBucket, s3ClientOf } from '../../tools/s3/client.ts';
import { FaultyStore, InjectedCrash, type CrashPoint, type StoreOp } from '../helpers/faulty-store.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditRedrive } from '../helpers/redrive-audit.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';

const MINUTE_MS = 60_000;
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
// Many late records, which a compactor with a one-minute lateness limit quarantines and the default limits let in; corrupt ones stay out.
const FLEET = new DeviceFleet({ ...DEFAULTS, devices: 20, lateShare: 0.2, corruptShare: 0.05 });
const STRICT = { ...compactorOptions(DEFAULTS, DEVICE_LOGS), maxRecordsPerRun: 80 };
const STRICT_LIMITS = { ...STRICT.limits, maxEventAgeMs: MINUTE_MS };
// Small runs, so a redrive makes several.
const REDRIVE = { limits: STRICT.limits, codec: STRICT.codec, maxRecordsPerRun: 15 };
const CRASH_CALLS = 30;

/**
 * `streamlake redrive` on a real broker's records and an S3-compatible server (S3Proxy), for both
 * table formats: whatever store call a redrive dies at, and however many redrives and compactors
 * run at once, every offset ends up exactly once in the table or in quarantine not redriven —
 * checked by SQL over what was written.
 */
describe.each(['hive-parquet', 'iceberg'] as const)('redrive of a %s table under faults, on Apache Kafka and S3Proxy', (format) => {
  const client = s3ClientOf(inject('s3'));
  const table = { ...DEVICE_LOGS, format };
  let topic: KafkaConnection;
  let offsets: PartitionOffsets[];
  const readers: TopicReader[] = [];

  beforeAll(async () => {
    topic = await freshKafkaTopic(3, 'plaintext');
    const writer = await openKafkaWriter(topic);
    for (let minute = 1; minute <= 10; minute++) await produceMinute(FLEET, writer, START + minute * MINUTE_MS);
    await writer.close();
    offsets = await topicOffsets(topic);
  });

  afterAll(() => Promise.all(readers.map((reader) => reader.close())));

  interface Lake {
    readonly store: S3ObjectStore;
    format(over?: ObjectStore): TableFormat;
    iceberg(): IcebergTable | undefined;
  }

  /** A new bucket holding the whole topic compacted under a one-minute lateness limit. */
  async function strictLake(): Promise<Lake> {
    const store = new S3ObjectStore(client, await createUniqueBucket(client, 'streamlake-redrive'));
    const icebergOf = (over: ObjectStore) => new IcebergTable({ store: over, catalog: new StoreCatalog(over), lakeUri: `s3://${store.bucket}/`, clock: { now: Date.now } }, table);
    const lake: Lake = {
      store,
      format: (over = store) => (format === 'iceberg' ? icebergOf(over) : undefined) as TableFormat,
      iceberg: () => (format === 'iceberg' ? icebergOf(store) : undefined),
    };
    const reader = await openKafkaReader(topic);
    readers.push(reader);
    const deps = { topic: reader, store, encoder: parquetEncoder(), clock: { now: Date.now }, ...(format === 'iceberg' ? { format: lake.format() } : {}) };
    while ((await compact(deps, { ...STRICT, table, limits: STRICT_LIMITS })).runId !== null);
    return lake;
  }

  function redriveOnce(lake: Lake, over: ObjectStore = lake.store): Promise<RedriveReport> {
    return redrive({ store: over, encoder: parquetEncoder(), clock: { now: Date.now }, ...(format === 'iceberg' ? { format: lake.format(over) } : {}) }, { ...REDRIVE, table });
  }

  async function expectExactlyOnce(lake: Lake, redriven: number): Promise<void> {
    const audit = await auditRedrive(lake.store, table, offsets, lake.iceberg());
    expect(audit).toMatchObject({ duplicates: 0, missing: 0, redrivenNotLanded: 0, lineageChanged: 0, redriven });
  }

  it('lands every late record once whatever store call of a redrive the process dies at, and a rerun adds nothing twice', async () => {
    // The store calls of a clean redrive, in order.
    const calls: { op: StoreOp; nth: number }[] = [];
    let redriven = 0;
    {
      const lake = await strictLake();
      const report = await redriveOnce(lake, new FaultyStore(lake.store, (op, _key, nth) => void calls.push({ op, nth })));
      redriven = report.redriven;
      expect(report.byReason.timestamp_out_of_range!.redriven).toBeGreaterThan(0);
      expect(report.runs.length).toBeGreaterThan(1);
      expect(report.stillFailing).toBeGreaterThan(0);
      await expectExactlyOnce(lake, redriven);
      expect(await redriveOnce(lake)).toMatchObject({ redriven: 0, runs: [] });
      await expectExactlyOnce(lake, redriven);
    }
    // Every call of a whole redrive would be minutes on S3Proxy: the first calls cover each step of its first run and the start of its second.
    const firstRuns = calls.slice(0, CRASH_CALLS);
    expect(firstRuns.map((c) => c.op)).toEqual(expect.arrayContaining(['list', 'get', 'compareAndSwap', 'putIfAbsent']));
    const points = firstRuns.flatMap((call) => (['before', 'after'] as CrashPoint[]).map((point) => ({ ...call, point })));
    for (const { op, nth, point } of points) {
      const lake = await strictLake();
      const faulty = new FaultyStore(lake.store, (o, _key, n) => (o === op && n === nth ? point : undefined));
      await expect(redriveOnce(lake, faulty), `crash ${point} ${op} #${nth}`).rejects.toThrow(InjectedCrash);
      await redriveOnce(lake);
      await expectExactlyOnce(lake, redriven);
    }
  });

  it('lands every late record once when three redrives race each other and the compactor commits new records meanwhile', async () => {
    const lake = await strictLake();
    // New records for the compactor to commit while the redrives run.
    const writer = await openKafkaWriter(topic);
    for (let minute = 11; minute <= 13; minute++) await produceMinute(FLEET, writer, START + minute * MINUTE_MS);
    await writer.close();
    const reader = await openKafkaReader(topic);
    readers.push(reader);
    const compactOnce = () => compact({ topic: reader, store: lake.store, encoder: parquetEncoder(), clock: { now: Date.now }, ...(format === 'iceberg' ? { format: lake.format() } : {}) }, { ...STRICT, table, limits: STRICT_LIMITS });
    const [a, b, c] = await Promise.all([redriveOnce(lake), redriveOnce(lake), redriveOnce(lake), compactOnce(), compactOnce()]);
    expect([a, b, c].some((r) => r!.resumed)).toBe(true);
    while ((await compactOnce()).runId !== null);
    const final = await redriveOnce(lake);
    offsets = await topicOffsets(topic);
    const audit = await auditRedrive(lake.store, table, offsets, lake.iceberg());
    expect(audit).toMatchObject({ duplicates: 0, missing: 0, redrivenNotLanded: 0, lineageChanged: 0 });
    expect(audit.redriven).toBeGreaterThan(0);
    expect(final.stillFailing).toBeGreaterThan(0);
  });
});
