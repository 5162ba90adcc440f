/**
 * `node bench/optimize.ts [--json] [--devices N] [--minutes N] [--codec zstd]`: `streamlake
 * optimize` on an Iceberg table of many small files, as the schedule leaves it (a compactor run
 * every 5 minutes, late events giving each run a file in every hour they reach), in memory: rows
 * rewritten per second, files per closed hour before and after, and DuckDB's native
 * `COPY (SELECT * FROM read_parquet([…])) TO … (FORMAT parquet)` of the same files, one closed
 * hour at a time, as the reference. Ratios compare work done in the same run; absolute times are noise.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { optimizeTable, type OptimizeReport } from '../lambdas/adapters/iceberg-maintenance.ts';
import { IcebergTable } from '../lambdas/adapters/iceberg-table.ts';
import { parquetEncoder } from '../lambdas/adapters/parquet-writer.ts';
import { StoreCatalog } from '../lambdas/adapters/store-catalog.ts';
import { loadTables, tableNamed } from '../lambdas/adapters/table-directory.ts';
import { compact } from '../lambdas/core/compactor.ts';
import { currentSnapshot } from '../lambdas/core/iceberg-metadata.ts';
import { DeviceFleet, produceMinute } from '../lambdas/demo/device-fleet.ts';
import type { Codec } from '../lambdas/ports/parquet.ts';
import { DEFAULTS } from '../lib/config.ts';
import { formatBytes, formatTable } from '../src/cli/table.ts';
import { compactorOptions } from '../src/local/runner.ts';
import { REPEATS, type Progress } from './harness.ts';
import { MemoryStore, MemoryTopic } from './memory-ports.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const START = Date.UTC(2026, 0, 5, 0, 0);
const LAKE_URI = 'memory://lake/';
const TABLE = { ...tableNamed(loadTables(join(import.meta.dirname, '..', 'tables')), 'device_logs'), format: 'iceberg' as const };

/** What `bench/optimize.ts --json` prints. */
export interface OptimizeBenchResult {
  readonly rows: number;
  readonly compactorRuns: number;
  readonly closedHours: number;
  readonly filesPerClosedHourBefore: { readonly max: number; readonly median: number };
  readonly filesPerClosedHourAfter: { readonly max: number; readonly median: number };
  readonly rowsRewritten: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly optimizeRowsPerSec: number;
  readonly duckdbRowsPerSec: number;
  /** DuckDB's time over optimize's: above 1 optimize is faster. */
  readonly ratio: number;
  readonly duckdbBytes: number;
}

/**
 * The lake the schedule leaves after `minutes` of `devices`: an Iceberg table in memory, one
 * snapshot per compactor run every 5 simulated minutes. Returns its store and when the last run was.
 */
async function smallFilesLake(devices: number, minutes: number, codec: Codec): Promise<{ store: MemoryStore; now: number; runs: number }> {
  const fleet = new DeviceFleet({ ...DEFAULTS, devices, corruptShare: 0 });
  const topic = new MemoryTopic(DEFAULTS.partitions);
  const store = new MemoryStore();
  let now = START;
  let runs = 0;
  const clock = { now: () => now };
  const format = new IcebergTable({ store, catalog: new StoreCatalog(store), lakeUri: LAKE_URI, clock }, TABLE);
  for (let m = 1; m <= minutes; m++) {
    now = START + m * MINUTE_MS;
    await produceMinute(fleet, topic, now);
    if (m % DEFAULTS.compactorEveryMinutes === 0 || m === minutes) {
      await compact({ topic, store, encoder: parquetEncoder(), clock, format }, compactorOptions(DEFAULTS, TABLE, codec));
      runs++;
    }
  }
  return { store, now, runs };
}

function spread(counts: readonly number[]) {
  const sorted = [...counts].sort((a, b) => a - b);
  return { max: sorted.at(-1) ?? 0, median: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0 };
}

/** DuckDB (threads = 1) rewriting each merged hour's small files as one Parquet file; returns the bytes it wrote. */
async function duckdbMerge(groups: readonly string[][], codec: Codec, work: string): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    let bytes = 0;
    for (const [i, files] of groups.entries()) {
      const output = join(work, `duckdb-${i}.parquet`);
      await connection.run(`COPY (SELECT * FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}])) TO '${output}' (FORMAT parquet, COMPRESSION ${codec})`);
      bytes += statSync(output).size;
    }
    return bytes;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Builds the lake, then times optimize (merge only: nothing is old enough to expire) and DuckDB on the same files, best of {@link REPEATS}. */
export async function benchOptimize(options: { devices: number; minutes: number; codec: Codec }, progress: Progress): Promise<OptimizeBenchResult> {
  progress(`optimize: ${options.devices} devices × ${options.minutes} minutes compacted every ${DEFAULTS.compactorEveryMinutes} minutes into an Iceberg table…`);
  const { store, now, runs } = await smallFilesLake(options.devices, options.minutes, options.codec);
  const pristine = new Map(store.objects);
  const table = new IcebergTable({ store, catalog: new StoreCatalog(store), lakeUri: LAKE_URI, clock: { now: () => now } }, TABLE);
  const loaded = (await table.load())!;
  const before = await table.dataFiles(currentSnapshot(loaded.metadata));
  const rows = before.reduce((sum, entry) => sum + entry.file.recordCount, 0);

  let fastest = { seconds: Number.POSITIVE_INFINITY, report: undefined as OptimizeReport | undefined };
  for (let i = 1; i <= REPEATS; i++) {
    store.objects.clear();
    for (const [key, object] of pristine) store.objects.set(key, object);
    const started = performance.now();
    const report = await optimizeTable(table, { store, encoder: parquetEncoder(), clock: { now: () => now } }, { closedAfterMs: HOUR_MS, codec: options.codec });
    const seconds = (performance.now() - started) / 1000;
    progress(`  optimize ${i}/${REPEATS}: ${seconds.toFixed(2)} s, ${report.rowsRewritten} rows rewritten`);
    if (seconds < fastest.seconds) fastest = { seconds, report };
  }
  const report = fastest.report!;
  const closed = report.partitions.filter((p) => p.closed);

  // DuckDB gets the files optimize replaced, grouped by the hour they are in, on disk.
  const work = mkdtempSync(join(tmpdir(), 'streamlake-bench-optimize-'));
  try {
    const mergedHours = new Set(closed.filter((p) => p.filesAfter < p.filesBefore).map((p) => p.partition));
    const groups = new Map<string, string[]>();
    for (const entry of before) {
      const hour = /event_time_hour=([^/]+)\//.exec(entry.file.path)![1]!;
      if (!mergedHours.has(hour)) continue;
      const path = join(work, table.keyOf(entry.file.path));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, pristine.get(table.keyOf(entry.file.path))!.body);
      groups.set(hour, [...(groups.get(hour) ?? []), path]);
    }
    let duckdb = { seconds: Number.POSITIVE_INFINITY, bytes: 0 };
    for (let i = 1; i <= REPEATS; i++) {
      const started = performance.now();
      const bytes = await duckdbMerge([...groups.values()], options.codec, work);
      const seconds = (performance.now() - started) / 1000;
      progress(`  duckdb ${i}/${REPEATS}: ${seconds.toFixed(2)} s`);
      if (seconds < duckdb.seconds) duckdb = { seconds, bytes };
    }
    return {
      rows, compactorRuns: runs, closedHours: closed.length,
      filesPerClosedHourBefore: spread(closed.map((p) => p.filesBefore)), filesPerClosedHourAfter: spread(closed.map((p) => p.filesAfter)),
      rowsRewritten: report.rowsRewritten, bytesBefore: report.bytesBefore, bytesAfter: report.bytesAfter,
      optimizeRowsPerSec: Math.round(report.rowsRewritten / fastest.seconds), duckdbRowsPerSec: Math.round(report.rowsRewritten / duckdb.seconds),
      ratio: Number((duckdb.seconds / fastest.seconds).toFixed(3)), duckdbBytes: duckdb.bytes,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The figures as a table, for the terminal. */
export function describeOptimizeBench(r: OptimizeBenchResult): string {
  return formatTable(['figure', 'value'], [
    { figure: 'rows in the table', value: `${r.rows} (${r.compactorRuns} compactor runs)` },
    { figure: 'files per closed hour', value: `max ${r.filesPerClosedHourBefore.max}, median ${r.filesPerClosedHourBefore.median} → max ${r.filesPerClosedHourAfter.max}, median ${r.filesPerClosedHourAfter.median} (${r.closedHours} closed hours)` },
    { figure: 'rows rewritten', value: `${r.rowsRewritten}, ${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)} (DuckDB: ${formatBytes(r.duckdbBytes)})` },
    { figure: 'optimize rows/s', value: String(r.optimizeRowsPerSec) },
    { figure: 'DuckDB COPY rows/s', value: `${r.duckdbRowsPerSec} (optimize ${r.ratio}× DuckDB's speed)` },
  ]);
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: { json: { type: 'boolean', default: false }, devices: { type: 'string', default: '1000' }, minutes: { type: 'string', default: '180' }, codec: { type: 'string', default: DEFAULTS.codec } },
  });
  const progress: Progress = (message) => flags.json || process.stderr.write(`${message}\n`);
  const result = await benchOptimize({ devices: Number(flags.devices), minutes: Number(flags.minutes), codec: flags.codec as Codec }, progress);
  process.stdout.write(`${flags.json ? JSON.stringify(result, null, 2) : describeOptimizeBench(result)}\n`);
}
