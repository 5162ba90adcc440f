/**
 * What the bench's tables share: best-of timing, the compactor run to completion on in-memory
 * ports, DuckDB's native writer converting the same records (the reference), and the compactor's
 * files laid out as a lake for DuckDB to read back.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { compact, type CompactorDeps, type CompactorOptions } from '../lambdas/core/compactor.ts';
import { curatedPrefix } from '../lambdas/core/lake-layout.ts';
import { duckdbType, type ColumnSpec } from '../lambdas/core/schema.ts';
import { tableColumns, type TableSpec } from '../lambdas/core/table-declaration.ts';
import type { Codec } from '../lambdas/ports/parquet.ts';
import type { TableFormat } from '../lambdas/ports/table-format.ts';
import { MemoryStore, type MemoryTopic } from './memory-ports.ts';

/** Timed runs of each contender; the best counts. */
export const REPEATS = 3;

/** Where progress lines go: stderr, or nowhere under `--json`. */
export type Progress = (message: string) => void;

/** Best (shortest) of {@link REPEATS} timed runs: the least disturbed by whatever else the machine does. */
export async function best<T>(label: string, progress: Progress, run: () => Promise<T> | T): Promise<{ seconds: number; result: T }> {
  let fastest = { seconds: Number.POSITIVE_INFINITY, result: undefined as T };
  for (let i = 1; i <= REPEATS; i++) {
    const started = performance.now();
    const result = await run();
    const seconds = (performance.now() - started) / 1000;
    progress(`  ${label} ${i}/${REPEATS}: ${seconds.toFixed(2)} s`);
    if (seconds < fastest.seconds) fastest = { seconds, result };
  }
  return fastest;
}

/**
 * Compactor runs into a fresh in-memory store until the topic is read to its end, as the schedule
 * would run them; `format` gives the table format over that store (default: Hive-Parquet).
 */
export async function compactAll(deps: Omit<CompactorDeps, 'store' | 'format'>, options: CompactorOptions, format?: (store: MemoryStore) => TableFormat): Promise<MemoryStore> {
  const store = new MemoryStore();
  const tableFormat = format?.(store);
  for (;;) {
    const report = await compact({ ...deps, store, ...(tableFormat && { format: tableFormat }) }, options);
    if (report.runId === null) return store;
  }
}

/** The same records as DuckDB would take them from a file: the JSON value with the lineage fields added. Returns its size. */
export function writeNdjson(topic: MemoryTopic, path: string): number {
  const decoder = new TextDecoder();
  const lines: string[] = [];
  for (const r of topic.records()) {
    lines.push(`${decoder.decode(r.value).slice(0, -1)},"kafka_partition":${r.partition},"kafka_offset":${r.offset},"kafka_timestamp":${r.timestamp}}\n`);
  }
  writeFileSync(path, lines.join(''));
  return statSync(path).size;
}

/**
 * The milliseconds in one unit of a column the NDJSON holds as an epoch number, which
 * `read_ndjson` cannot read as a TIMESTAMP; undefined for every other column.
 */
function epochUnitMs(column: ColumnSpec): number | undefined {
  if (column.name === 'kafka_timestamp' || column.timestampInput === 'epoch-millis') return 1;
  return column.timestampInput === 'epoch-seconds' ? 1000 : undefined;
}

/**
 * DuckDB with `threads = 1` converting the NDJSON of `table`'s records to one Parquet file of the
 * same columns and types (`_extra`, all null here, included): `read_ndjson` with each column's
 * type from {@link duckdbType}, epoch numbers read as BIGINT and turned into timestamps, then
 * `COPY … (FORMAT parquet)`. Returns the file's size.
 */
export async function duckdbConvert(table: TableSpec, codec: Codec, ndjson: string, output: string): Promise<number> {
  const columns = tableColumns(table);
  const types = columns.map((c) => `'${c.name}': '${(epochUnitMs(c) ? 'BIGINT' : duckdbType(c)).replaceAll("'", "''")}'`).join(', ');
  const select = columns
    .map((c) => {
      const unit = epochUnitMs(c);
      return unit === undefined ? `"${c.name}"` : `epoch_ms("${c.name}"${unit === 1 ? '' : ` * ${unit}`}) AS "${c.name}"`;
    })
    .join(', ');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(`COPY (SELECT ${select} FROM read_ndjson('${ndjson}', columns = {${types}})) TO '${output}' (FORMAT parquet, COMPRESSION ${codec})`);
    return statSync(output).size;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Writes `table`'s curated files from `store` under `lakeDir` as the local lake lays them out, for DuckDB to read. */
export function writeLake(store: MemoryStore, table: TableSpec, lakeDir: string): void {
  for (const [key, object] of store.objects) {
    if (!key.startsWith(curatedPrefix(table.name))) continue;
    mkdirSync(dirname(join(lakeDir, key)), { recursive: true });
    writeFileSync(join(lakeDir, key), object.body);
  }
}

/** How the compactor compares with DuckDB on the same `records`: records/s of each, and their ratios of speed and size. */
export function versusDuckdb(records: number, compactorSeconds: number, duckdbSeconds: number, parquetBytes: number, duckdbParquetBytes: number) {
  return {
    compactorRecordsPerSec: Math.round(records / compactorSeconds),
    duckdbRecordsPerSec: Math.round(records / duckdbSeconds),
    ratio: Number((duckdbSeconds / compactorSeconds).toFixed(3)),
    parquetBytes,
    duckdbParquetBytes,
    sizeRatio: Number((parquetBytes / duckdbParquetBytes).toFixed(3)),
  };
}
