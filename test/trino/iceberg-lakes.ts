import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetMetadata } from 'hyparquet';
import { expect } from 'vitest';
import { optimizeTable, type OptimizeReport } from '../../lambdas/adapters/iceberg-maintenance.ts';
import { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { StoreCatalog } from '../../lambdas/adapters/store-catalog.ts';
import { loadTables, tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { compact, type CompactionReport } from '../../lambdas/core/compactor.ts';
import { currentSnapshot } from '../../lambdas/core/iceberg-metadata.ts';
import { catalogKey } from '../../lambdas/core/lake-layout.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TopicReader } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout } from '../../src/local/data-dir.ts';
import { LocalLake } from '../../src/local/local-lake.ts';
import { compactorOptions, runLocal, type LocalRunSummary } from '../../src/local/runner.ts';
import { purchasesTopic } from '../../bench/purchases.ts';
import { FaultyStore, InjectedCrash } from '../helpers/faulty-store.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';

/**
 * Twin lakes of the same records for the readers we did not write: the records compacted once
 * into a Hive-Parquet table and once into an Iceberg table, whose history holds what a table
 * lives through: a run that died before its commit and was finished by the next one, two
 * compactors racing, and an optimize that merged the closed hours in a `replace` snapshot.
 */

const MINUTE_MS = 60_000;
/** 150 simulated minutes from 22:40 UTC cross midnight: two dates, five hours, late events and quarantined records (as the Athena SQL suite). */
export const FLEET_START = Date.UTC(2026, 2, 1, 22, 40);
const FLEET_MINUTES = 150;
/** About 6,000 records in runs of this many: six snapshots or so, and hours spread over several files. */
const RECORDS_PER_RUN = 1_200;

export interface DeviceLogsLakes {
  /** The local run's data directory: the topic, and the Hive-Parquet lake its schedule compacted. */
  readonly dataDir: string;
  readonly hiveLakeDir: string;
  readonly summary: LocalRunSummary;
  /** The same topic compacted into an Iceberg table, in a lake of its own. */
  readonly icebergLakeDir: string;
  readonly table: IcebergTable;
  /** The compactor runs of the Iceberg table, in order, the crashed one left out. */
  readonly runs: readonly CompactionReport[];
  readonly optimize: OptimizeReport;
  /** The topic's high watermarks by partition: what the last snapshot must hold. */
  readonly highWatermarks: Readonly<Record<string, number>>;
}

/** `device_logs` as the local pipeline writes it (Hive-Parquet), and its topic compacted again into an Iceberg table, under `root`. */
export async function deviceLogsLakes(root: string): Promise<DeviceLogsLakes> {
  const dataDir = join(root, 'hive');
  const summary = await runLocal({ dataDir, minutes: FLEET_MINUTES, devices: 40, seed: 7, codec: 'snappy', start: FLEET_START, tables: [DEVICE_LOGS] });
  const topicDir = dataDirLayout(dataDir).topicDir(DEVICE_LOGS.topic);
  const icebergLakeDir = join(root, 'iceberg');
  const lake = new LocalLake(icebergLakeDir);
  const spec: TableSpec = { ...DEVICE_LOGS, format: 'iceberg' };
  // Five simulated minutes between runs, from the end of the traffic: snapshots have distinct times to travel to.
  let now = FLEET_START + FLEET_MINUTES * MINUTE_MS;
  const clock = { now: () => now };
  const tableOver = (store: ObjectStore) => new IcebergTable({ store, catalog: new StoreCatalog(store), lakeUri: lake.lakeUri, clock }, spec);
  const table = tableOver(lake.store);
  const options = { ...compactorOptions(DEFAULTS, spec), maxRecordsPerRun: RECORDS_PER_RUN };
  const readers: TopicReader[] = [];
  const reader = async () => {
    const opened = await LocalLog.open({ dir: topicDir, topic: DEVICE_LOGS.topic });
    readers.push(opened);
    return opened;
  };
  const run = async (topic: TopicReader, store: ObjectStore = lake.store) => {
    now += 5 * MINUTE_MS;
    return compact({ topic, store, encoder: parquetEncoder(), clock, format: store === lake.store ? table : tableOver(store) }, options);
  };
  try {
    const topic = await reader();
    const runs: CompactionReport[] = [await run(topic)];
    // The second run dies as it swaps the catalog pointer to its snapshot: its files are written, not committed.
    const dying = new FaultyStore(lake.store, (op, key) => (op === 'compareAndSwap' && key === catalogKey(spec.name) ? 'before' : undefined));
    await expect(run(topic, dying)).rejects.toThrow(InjectedCrash);
    runs.push(await run(topic));
    expect(runs.at(-1)!.resumed, 'the run after the crash finishes the claimed one').toBe(true);
    now += 5 * MINUTE_MS;
    // Every hour that ended an hour ago is closed: merged into one file each.
    const optimize = await optimizeTable(table, { store: lake.store, encoder: parquetEncoder(), clock }, { closedAfterMs: 60 * MINUTE_MS, codec: 'snappy' });
    expect(optimize.partitionsMerged, 'optimize merged closed hours').toBeGreaterThan(0);
    // Two compactors at once: one claims the run, the other joins it; one snapshot either way.
    runs.push(...(await Promise.all([run(topic), run(await reader())])));
    expect(runs.slice(-2).some((r) => r.joined || r.resumed), 'the racing compactors finished one run').toBe(true);
    for (let next = await run(topic); next.runId !== null; next = await run(topic)) runs.push(next);
    const highWatermarks = Object.fromEntries((await topic.offsets()).map((p) => [String(p.partition), p.highWatermark]));
    return { dataDir, hiveLakeDir: dataDirLayout(dataDir).lakeDir, summary, icebergLakeDir, table, runs, optimize, highWatermarks };
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** The nested fixture table: structs, a list of structs, a map, decimals up to 38 digits, a date and nested timestamps; partitioned by day. */
export const PURCHASES = tableNamed(loadTables(fileURLToPath(new URL('../fixtures/tables-nested', import.meta.url))), 'purchases');

export interface PurchasesLakes {
  readonly hiveLakeDir: string;
  readonly icebergLakeDir: string;
  readonly table: IcebergTable;
  readonly rows: number;
}

/** `count` purchases compacted into a Hive-Parquet lake and into an Iceberg lake under `root`. */
export async function purchasesLakes(root: string, count: number): Promise<PurchasesLakes> {
  const topic = await purchasesTopic(count, Date.UTC(2026, 0, 5, 9), 11);
  const hiveLakeDir = join(root, 'purchases-hive');
  const icebergLakeDir = join(root, 'purchases-iceberg');
  const clock = { now: () => Date.UTC(2026, 0, 8) };
  const options = { ...compactorOptions(DEFAULTS, PURCHASES), maxRecordsPerRun: Math.ceil(count / 2) };
  const hive = new LocalDirectoryStore(hiveLakeDir);
  const lake = new LocalLake(icebergLakeDir);
  const spec: TableSpec = { ...PURCHASES, format: 'iceberg' };
  const table = new IcebergTable({ store: lake.store, catalog: lake.catalog, lakeUri: lake.lakeUri, clock }, spec);
  let rows = 0;
  for (let report = await compact({ topic, store: hive, encoder: parquetEncoder(), clock }, options); report.runId !== null; report = await compact({ topic, store: hive, encoder: parquetEncoder(), clock }, options)) {
    rows += report.rowsWritten;
  }
  while ((await compact({ topic, store: lake.store, encoder: parquetEncoder(), clock, format: table }, { ...options, table: spec })).runId !== null);
  return { hiveLakeDir, icebergLakeDir, table, rows };
}

/**
 * The Parquet annotation of an Iceberg table's timestamptz columns in its current data files: the
 * Iceberg spec stores timestamptz as INT64 TIMESTAMP(MICROS, adjusted to UTC); TIMESTAMP_MILLIS
 * files are read by pyiceberg and DuckDB, and refused by Trino's Iceberg connector.
 */
export async function timestampUnitOf(table: IcebergTable): Promise<'MILLIS' | 'MICROS' | 'other'> {
  const loaded = await table.load();
  const [entry] = await table.dataFiles(currentSnapshot(loaded!.metadata));
  const metadata = parquetMetadata(await readFile(fileURLToPath(entry!.file.path)));
  const eventTime = metadata.schema.find((element) => element.name === table.table.eventTime)!;
  if (eventTime.converted_type === 'TIMESTAMP_MILLIS') return 'MILLIS';
  if (eventTime.converted_type === 'TIMESTAMP_MICROS') return 'MICROS';
  const logical = eventTime.logical_type as { type?: string; unit?: string } | undefined;
  return logical?.type === 'TIMESTAMP' && (logical.unit === 'MILLIS' || logical.unit === 'MICROS') ? logical.unit : 'other';
}
