import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { tableFormatOf } from '../../lambdas/adapters/table-formats.ts';
import { compactToBudget, type BudgetedCompaction } from '../../lambdas/core/compaction-loop.ts';
import { shardOf } from '../../lambdas/core/shards.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { LocalLake } from '../../src/local/local-lake.ts';
import { compactorOptions, compactShardsLocal } from '../../src/local/runner.ts';
import { FaultyStore, InjectedCrash } from '../helpers/faulty-store.ts';
import { auditSnapshots } from '../helpers/iceberg-audit.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';

const MINUTE_MS = 60_000;
const SHARDS = 3;
const PARTITIONS = 6;

/** Per-device order in a table, with SQL: each device in one partition, its `seq` rising with the Kafka offset. */
async function deviceOrder(lakeDir: string, table: TableSpec): Promise<{ partitionsPerDevice: number; outOfOrder: number }> {
  const lake = await DuckDbLake.open(lakeDir, [table]);
  try {
    const { rows } = await lake.query(`SELECT
      (SELECT max(n) FROM (SELECT count(DISTINCT kafka_partition) AS n FROM ${table.name} GROUP BY device_id)) AS partitions_per_device,
      (SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY device_id ORDER BY kafka_offset) AS previous FROM ${table.name}) WHERE seq <= previous) AS out_of_order`);
    return { partitionsPerDevice: Number(rows[0]!.partitions_per_device), outOfOrder: Number(rows[0]!.out_of_order) };
  } finally {
    lake.close();
  }
}

/**
 * Compactor shards on a real broker: shard i of 3 owns the partitions p with p mod 3 = i, each
 * with its own checkpoint and consumer group, all compacting at once, exactly once per table.
 */
describe('compactor shards on Apache Kafka', () => {
  let dir: ReturnType<typeof tempDir>;
  let lake: LocalLake;
  let topic: KafkaConnection;
  let writer: TopicWriter;
  let opened: { close(): Promise<void> }[];
  // Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
  let start: number;

  beforeEach(async () => {
    dir = tempDir();
    lake = new LocalLake(join(dir.path, 'lake'));
    topic = await freshKafkaTopic(PARTITIONS, 'plaintext');
    writer = await openKafkaWriter(topic);
    opened = [writer];
    start = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 3 * 60 * MINUTE_MS;
  });

  afterEach(async () => {
    await Promise.all(opened.map((client) => client.close()));
    dir.remove();
  });

  async function reader(): Promise<TopicReader> {
    const opening = await openKafkaReader(topic);
    opened.push(opening);
    return opening;
  }

  describe.each([
    { format: 'Hive-Parquet', table: DEVICE_LOGS },
    { format: 'Iceberg', table: { ...DEVICE_LOGS, format: 'iceberg' as const } },
  ])('a $format table', ({ table }) => {
    it('stays exactly once, in per-key order, with 3 shards compacting at once, each raced by a second copy that crashes at store calls', async () => {
      const fleet = new DeviceFleet({ ...DEFAULTS, devices: 40, seed: 21, lateShare: 0.05, corruptShare: 0.02 });
      let minute = 0;
      for (; minute < 30; minute++) await produceMinute(fleet, writer, start + (minute + 1) * MINUTE_MS);
      const now = () => start + minute * MINUTE_MS;
      const clock = { now };
      let calls = 0;
      // Every 11th write or swap of the crashing copies dies, before or after it lands.
      const crashing = new FaultyStore(lake.store, (op) => (op !== 'get' && op !== 'list' && ++calls % 11 === 0 ? (calls % 2 === 0 ? 'before' : 'after') : undefined));
      // Each shard's two copies are two containers, with a reader each.
      const readers = await Promise.all([0, 1, 2].map(async () => [await reader(), await reader()] as const));
      const invoke = (index: number, store: ObjectStore): Promise<BudgetedCompaction> =>
        compactToBudget(
          { topic: readers[index]![store === lake.store ? 1 : 0], store, encoder: parquetEncoder(), clock, format: tableFormatOf(table, { store, catalog: lake.catalog, lakeUri: lake.lakeUri, clock }) },
          { ...compactorOptions(DEFAULTS, table), maxRecordsPerRun: 120, shard: shardOf(index, SHARDS) },
          { remainingMs: () => 5_000, floorMs: 0 },
        );
      let crashes = 0;
      let rounds = 0;
      // Ticks of 3 shards × 2 copies, while the producer goes on for 10 more minutes.
      for (let idle = false; !idle; rounds++) {
        if (minute < 40) await produceMinute(fleet, writer, start + ++minute * MINUTE_MS);
        const results = await Promise.allSettled([0, 1, 2].flatMap((index) => [invoke(index, crashing), invoke(index, lake.store)]));
        for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof InjectedCrash)) throw r.reason;
        crashes += results.filter((r) => r.status === 'rejected').length;
        idle = minute >= 40 && results.every((r) => r.status === 'fulfilled' && r.value.caughtUp && r.value.runs === 0);
        expect(rounds).toBeLessThan(60);
      }
      expect(crashes).toBeGreaterThan(3);

      const offsets = await topicOffsets(topic);
      const produced = offsets.reduce((sum, o) => sum + o.highWatermark, 0);
      expect(produced).toBe(40 * 40);
      if (table.format === 'iceberg') {
        const iceberg = lake.iceberg(table);
        const audits = await auditSnapshots(iceberg, lake.store);
        for (const audit of audits) expect(audit, `snapshot ${audit.snapshotId}`).toMatchObject({ duplicates: 0, missing: 0, beyond: 0 });
        const loaded = (await iceberg.load())!;
        const current = loaded.metadata.snapshots.find((s) => String(s['snapshot-id']) === String(loaded.metadata['current-snapshot-id']))!;
        expect(JSON.parse(current.summary['streamlake.kafka-offsets']!)).toEqual(Object.fromEntries(offsets.map((o) => [String(o.partition), o.highWatermark])));
      } else {
        const audit = await auditLake(lake.dir, offsets);
        expect(audit).toMatchObject({ duplicates: 0, incompletePartitions: [] });
        expect(audit.lakeRows + audit.quarantined).toBe(produced);
      }
      expect(await deviceOrder(lake.dir, table)).toEqual({ partitionsPerDevice: 1, outOfOrder: 0 });
    });
  });

  it('keeps lag bounded under a producer well above one run per tick, and drains it once the producer stops (compressed clock)', async () => {
    // One simulated minute every 200 ms; the compactors' schedule every 5 simulated minutes (1 s), each shard working to a budget of 0.8 s.
    const SIM_MINUTE_MS = 200;
    const TICK_MS = 5 * SIM_MINUTE_MS;
    const DEVICES = 300; // records a simulated minute: 1,500 a second, 1,500 a tick
    const MAX_RECORDS_PER_RUN = 200; // 7.5 runs' worth a tick over the 3 shards
    const PRODUCING_TICKS = 10;
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: DEVICES, seed: 5, lateShare: 0, corruptShare: 0.01 });
    const compactorReader = await reader();
    let minute = 0;
    let producing = true;
    const began = performance.now();
    const producer = (async () => {
      for (let due = began; producing; due += SIM_MINUTE_MS) {
        await produceMinute(fleet, writer, start + ++minute * MINUTE_MS);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due + SIM_MINUTE_MS - performance.now())));
      }
    })();
    const lags: number[] = [];
    let runs = 0;
    let compacted = 0;
    let compactingMs = 0;
    const tick = async () => {
      const tickStart = performance.now();
      const deadline = tickStart + 0.8 * TICK_MS;
      const reports = await compactShardsLocal(DEVICE_LOGS, compactorReader, lake, start + minute * MINUTE_MS, {
        codec: DEFAULTS.codec, shards: SHARDS, maxRecordsPerRun: MAX_RECORDS_PER_RUN, budget: { remainingMs: () => deadline - performance.now(), floorMs: 50 },
      });
      compactingMs += performance.now() - tickStart;
      for (const report of reports) expect(report.recordsRead).toBeLessThanOrEqual(report.runs * MAX_RECORDS_PER_RUN);
      runs += reports.reduce((sum, r) => sum + r.runs, 0);
      compacted += reports.reduce((sum, r) => sum + r.recordsRead, 0);
      lags.push(reports.reduce((sum, r) => sum + Object.values(r.lag).reduce((a, b) => a + b, 0), 0));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, tickStart + TICK_MS - performance.now())));
    };
    for (let i = 0; i < PRODUCING_TICKS; i++) await tick();
    producing = false;
    await producer;
    const producedMs = performance.now() - began;
    const produced = (await topicOffsets(topic)).reduce((sum, o) => sum + o.highWatermark, 0);
    let drainTicks = 0;
    for (; drainTicks < 5 && (drainTicks === 0 || lags.at(-1)! > 0); drainTicks++) await tick();

    const rate = Math.round((produced * 1000) / producedMs);
    console.log(
      `sustained: ${produced} records at ${rate} records/s (${(produced / PRODUCING_TICKS).toFixed(0)} a tick against ${MAX_RECORDS_PER_RUN} a run) ` +
        `compacted by ${SHARDS} shards in ${runs} runs; ${Math.round((compacted * 1000) / compactingMs)} records/s while compacting; ` +
        `lag after each tick ${lags.join(', ')}; drained in ${drainTicks} tick(s) after the producer stopped`,
    );
    // Well above one run a tick, and the lag never more than about a tick's worth of records.
    expect(produced / PRODUCING_TICKS).toBeGreaterThan(5 * MAX_RECORDS_PER_RUN);
    expect(Math.max(...lags)).toBeLessThanOrEqual(2 * (produced / PRODUCING_TICKS));
    expect(lags.at(-1)).toBe(0);
    expect(runs).toBeGreaterThan(PRODUCING_TICKS * 3);
    const offsets = await topicOffsets(topic);
    const audit = await auditLake(lake.dir, offsets);
    expect(audit).toMatchObject({ duplicates: 0, incompletePartitions: [] });
    expect(audit.lakeRows + audit.quarantined).toBe(produced);
  });
});
