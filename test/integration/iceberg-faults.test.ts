import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { optimizeTable } from '../../lambdas/adapters/iceberg-maintenance.ts';
import { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import type { KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { S3ObjectStore } from '../../lambdas/adapters/s3-store.ts';
import { StoreCatalog } from '../../lambdas/adapters/store-catalog.ts';
import { compact, type CompactionReport } from '../../lambdas/core/compactor.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TopicReader } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { compactorOptions } from '../../src/local/runner.ts';
import { createUniqueBucket, s3ClientOf } from '../../tools/s3/client.ts';
import { FaultyStore, InjectedCrash, type CrashPoint, type StoreOp } from '../helpers/faulty-store.ts';
import { auditSnapshots } from '../helpers/iceberg-audit.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';

const MINUTE_MS = 60_000;
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
// Late and corrupt records, so runs write several hours and quarantine files.
const FLEET = new DeviceFleet({ ...DEFAULTS, devices: 20, lateShare: 0.05, corruptShare: 0.02 });
const TABLE = { ...DEVICE_LOGS, format: 'iceberg' as const };
// Three runs of about 200 records each over the first 30 minutes.
const OPTIONS = { ...compactorOptions(DEFAULTS, TABLE), maxRecordsPerRun: 200 };

/**
 * The compactor writing an Iceberg table on a real broker and an S3-compatible server (S3Proxy),
 * with the catalog pointer in the bucket: exactly once in every snapshot, whatever store call the
 * process dies at and however many compactors race.
 */
describe('Iceberg tables under faults, on Apache Kafka and S3Proxy', () => {
  const client = s3ClientOf(inject('s3'));
  let topic: KafkaConnection;
  const readers: TopicReader[] = [];

  beforeAll(async () => {
    topic = await freshKafkaTopic(3, 'plaintext');
    const writer = await openKafkaWriter(topic);
    for (let minute = 1; minute <= 30; minute++) await produceMinute(FLEET, writer, START + minute * MINUTE_MS);
    await writer.close();
  });

  afterAll(() => Promise.all(readers.map((reader) => reader.close())));

  async function reader(): Promise<TopicReader> {
    const opened = await openKafkaReader(topic);
    readers.push(opened);
    return opened;
  }

  async function newLake(): Promise<{ store: S3ObjectStore; table: (store?: ObjectStore) => IcebergTable }> {
    const store = new S3ObjectStore(client, await createUniqueBucket(client, 'streamlake-iceberg'));
    const table = (over: ObjectStore = store) => new IcebergTable({ store: over, catalog: new StoreCatalog(over), lakeUri: `s3://${store.bucket}/`, clock: { now: Date.now } }, TABLE);
    return { store, table };
  }

  function run(topicReader: TopicReader, store: ObjectStore, table: IcebergTable): Promise<CompactionReport> {
    return compact({ topic: topicReader, store, encoder: parquetEncoder(), clock: { now: Date.now }, format: table }, OPTIONS);
  }

  async function runUntilIdle(store: ObjectStore, table: IcebergTable): Promise<void> {
    const topicReader = await reader();
    while ((await run(topicReader, store, table)).runId !== null);
  }

  /** Every snapshot exactly once, and the last one holds every offset of the topic. */
  async function expectExactlyOnceInEverySnapshot(store: S3ObjectStore, table: IcebergTable): Promise<void> {
    const audits = await auditSnapshots(table, store);
    for (const audit of audits) expect(audit, `snapshot ${audit.snapshotId} (run ${audit.sequence})`).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
    // One snapshot per run, in run order.
    expect(audits.map((a) => a.sequence)).toEqual(audits.map((_, i) => i + 1));
    const loaded = await table.load();
    const offsets = Object.fromEntries((await topicOffsets(topic)).map((p) => [String(p.partition), p.highWatermark]));
    expect(JSON.parse(loaded!.metadata.snapshots.at(-1)!.summary['streamlake.kafka-offsets']!)).toEqual(offsets);
  }

  it('commits each record once whatever store call of the first or a later run the process dies at', async () => {
    // Every store call of the first two runs of a clean compaction, in order.
    const calls: { op: StoreOp; nth: number; run: number }[] = [];
    {
      const { store, table } = await newLake();
      let runs = 0;
      const counting = new FaultyStore(store, (op, _key, nth) => {
        calls.push({ op, nth, run: runs });
        return undefined;
      });
      const topicReader = await reader();
      for (runs = 0; runs < 2; runs++) await run(topicReader, counting, table(counting));
    }
    expect(calls.filter((c) => c.op === 'compareAndSwap').length).toBeGreaterThanOrEqual(6); // claim, catalog and checkpoint, twice
    let crashes = 0;
    for (const call of calls) {
      for (const point of ['before', 'after'] as CrashPoint[]) {
        const { store, table } = await newLake();
        const faulty = new FaultyStore(store, (op, _key, nth) => (op === call.op && nth === call.nth ? point : undefined));
        const topicReader = await reader();
        const attempt = async () => {
          for (let i = 0; i <= call.run; i++) await run(topicReader, faulty, table(faulty));
        };
        await expect(attempt(), `crash ${point} ${call.op} #${call.nth}`).rejects.toThrow(InjectedCrash);
        crashes++;
        await runUntilIdle(store, table());
        await expectExactlyOnceInEverySnapshot(store, table());
      }
    }
    expect(crashes).toBe(calls.length * 2);
  });

  it('commits each run once when three compactors race on every run', async () => {
    const { store, table } = await newLake();
    const racers = await Promise.all([reader(), reader(), reader()]);
    let joined = 0;
    for (let round = 0; round < 10; round++) {
      const reports = await Promise.all(racers.map((topicReader) => run(topicReader, store, table())));
      if (reports.every((r) => r.runId === null)) break;
      joined += reports.filter((r) => r.joined || r.resumed).length;
    }
    expect(joined).toBeGreaterThan(0);
    await expectExactlyOnceInEverySnapshot(store, table());
  });

  it('keeps every offset once in every snapshot when optimize merges files while compactors commit', async () => {
    const { store, table } = await newLake();
    const compactor = await reader();
    // Small runs, so every hour has several files to merge.
    const small = { ...OPTIONS, maxRecordsPerRun: 60 };
    const runOnce = () => compact({ topic: compactor, store, encoder: parquetEncoder(), clock: { now: Date.now }, format: table() }, small);
    for (let i = 0; i < 4; i++) await runOnce();
    const optimize = () => optimizeTable(table(), { store, encoder: parquetEncoder(), clock: { now: Date.now } }, { closedAfterMs: 0, codec: OPTIONS.codec });
    const [merged] = await Promise.all([optimize(), runOnce(), runOnce()]);
    expect(merged.partitionsMerged).toBeGreaterThan(0);
    while ((await runOnce()).runId !== null);
    const audits = await auditSnapshots(table(), store);
    for (const audit of audits) expect(audit, `snapshot ${audit.snapshotId} (run ${audit.sequence})`).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
    const loaded = (await table().load())!;
    expect(loaded.metadata.snapshots.some((s) => s.summary.operation === 'replace')).toBe(true);
    const offsets = Object.fromEntries((await topicOffsets(topic)).map((p) => [String(p.partition), p.highWatermark]));
    expect(JSON.parse(loaded.metadata.snapshots.at(-1)!.summary['streamlake.kafka-offsets']!)).toEqual(offsets);
  });
});
