/**
 * The bench's nested table: `purchases` as declared in `test/fixtures/tables-nested` (structs, a
 * struct in a struct, arrays of structs and of strings, a map, decimals of 9 to 38 digits, a date,
 * timestamps, booleans), compacted from generated records and converted by DuckDB from the same
 * records. Both outputs are read back by DuckDB and must hold the same rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { parquetEncoder } from '../lambdas/adapters/parquet-writer.ts';
import { schemaOf } from '../lambdas/adapters/parquet-schema.ts';
import { loadTables, tableNamed } from '../lambdas/adapters/table-directory.ts';
import { curatedPrefix, quarantinePrefix } from '../lambdas/core/lake-layout.ts';
import type { ColumnSpec } from '../lambdas/core/schema.ts';
import { tableColumns } from '../lambdas/core/table-declaration.ts';
import type { Codec, ColumnBatch, ColumnValues, ParquetEncoder } from '../lambdas/ports/parquet.ts';
import { DEFAULTS } from '../lib/config.ts';
import { formatBytes } from '../src/cli/table.ts';
import { DuckDbLake } from '../src/local/duckdb-lake.ts';
import { compactorOptions } from '../src/local/runner.ts';
import { best, compactAll, duckdbConvert, versusDuckdb, writeLake, writeNdjson, type Progress } from './harness.ts';
import type { MemoryStore } from './memory-ports.ts';
import { purchasesTopic } from './purchases.ts';

const TABLE = tableNamed(loadTables(join(import.meta.dirname, '..', 'test', 'fixtures', 'tables-nested')), 'purchases');
const START = Date.UTC(2026, 2, 1);

/** The nested table's figures, as `--json` reports them under `nested`. */
export interface NestedTableResult {
  readonly table: string;
  readonly events: number;
  readonly compactorRecordsPerSec: number;
  readonly duckdbRecordsPerSec: number;
  /** DuckDB's time over the compactor's: above 1 the compactor is faster. */
  readonly ratio: number;
  readonly parquetBytes: number;
  readonly duckdbParquetBytes: number;
  /** The compactor's bytes over DuckDB's. */
  readonly sizeRatio: number;
  readonly ndjsonBytes: number;
  readonly compactorFiles: number;
  /** Rows DuckDB reads from the compactor's files, through the local lake's view. */
  readonly readBackRows: number;
  /** The compactor's encoder alone, on the batches of its files. */
  readonly encoderRecordsPerSec: number;
  /** hyparquet-writer's public `parquetWriteBuffer` on the same batches, from plain arrays of their values. */
  readonly parquetWriteRecordsPerSec: number;
  readonly parquetWriteBytes: number;
}

/** Times the compactor and DuckDB on `events` generated purchases; fails if any is quarantined or the outputs differ. */
export async function benchNestedTable(events: number, codec: Codec, work: string, progress: Progress): Promise<NestedTableResult> {
  progress(`purchases (nested): generating ${events} records…`);
  const topic = await purchasesTopic(events, START, DEFAULTS.seed);
  const options = compactorOptions(DEFAULTS, TABLE, codec);
  const clock = { now: () => START };

  progress('purchases: compactor core, record values → Parquet bytes, in memory');
  const compactor = await best('compactor', progress, () => compactAll({ topic, encoder: parquetEncoder(), clock }, options));
  const store = compactor.result;
  await assertNoneQuarantined(store);
  const files = await store.list(curatedPrefix(TABLE.name));
  const parquetBytes = files.reduce((sum, o) => sum + o.size, 0);

  progress('purchases: DuckDB read_ndjson → COPY … (FORMAT parquet), threads = 1');
  const ndjson = join(work, 'purchases.ndjson');
  const ndjsonBytes = writeNdjson(topic, ndjson);
  const duckdbFile = join(work, 'purchases-duckdb.parquet');
  const duckdb = await best('duckdb', progress, () => duckdbConvert(TABLE, codec, ndjson, duckdbFile));

  // The batches the compactor encodes, recorded in a run of its own so the timed runs hold none.
  const batches: ColumnBatch[] = [];
  const recorder: ParquetEncoder = {
    encode(batch, c, unit) {
      batches.push(batch);
      return parquetEncoder().encode(batch, c, unit);
    },
  };
  await compactAll({ topic, encoder: recorder, clock }, options);
  progress('purchases: encoder alone vs hyparquet-writer parquetWriteBuffer, same batches');
  const encoder = await best('encoder', progress, () => batches.map((batch) => parquetEncoder().encode(batch, codec)));
  const library = await best('parquetWriteBuffer', progress, () => batches.map((batch) => parquetWriteBytes(batch, codec)));
  const libraryDir = join(work, 'purchases-parquet-write');
  mkdirSync(libraryDir);
  library.result.forEach((bytes, i) => writeFileSync(join(libraryDir, `${i}.parquet`), new Uint8Array(bytes)));

  const lakeDir = join(work, 'purchases-lake');
  writeLake(store, TABLE, lakeDir);
  const lake = await DuckDbLake.open(lakeDir, [TABLE], { threads: 1 });
  let readBackRows: number;
  try {
    readBackRows = await rowCount(lake, TABLE.name);
    if (readBackRows !== events) throw new Error(`DuckDB reads ${readBackRows} rows from the compactor's ${TABLE.name} files, not the ${events} records produced`);
    await assertSameRows(lake, `read_parquet('${duckdbFile}')`, events, "DuckDB's conversion of the same records");
    await assertSameRows(lake, `read_parquet('${join(libraryDir, '*.parquet')}')`, events, "hyparquet-writer's parquetWriteBuffer of the same batches");
  } finally {
    lake.close();
  }

  return {
    table: TABLE.name,
    events,
    ...versusDuckdb(events, compactor.seconds, duckdb.seconds, parquetBytes, duckdb.result),
    ndjsonBytes,
    compactorFiles: files.length,
    readBackRows,
    encoderRecordsPerSec: Math.round(events / encoder.seconds),
    parquetWriteRecordsPerSec: Math.round(events / library.seconds),
    parquetWriteBytes: library.result.reduce((sum, bytes) => sum + bytes.byteLength, 0),
  };
}

/** The nested table's lines of the printed table (columns measure, compactor, duckdb, ratio). */
export function nestedTableRows(result: NestedTableResult, codec: Codec): Record<string, unknown>[] {
  const { events } = result;
  return [
    { measure: `${result.table} (nested): records`, compactor: events, duckdb: events, ratio: '' },
    { measure: `${result.table} records/s`, compactor: result.compactorRecordsPerSec, duckdb: result.duckdbRecordsPerSec, ratio: result.ratio },
    { measure: `${result.table} Parquet bytes (${codec})`, compactor: formatBytes(result.parquetBytes), duckdb: formatBytes(result.duckdbParquetBytes), ratio: result.sizeRatio },
    { measure: `${result.table} bytes/record`, compactor: (result.parquetBytes / events).toFixed(2), duckdb: (result.duckdbParquetBytes / events).toFixed(2), ratio: `vs ${(result.ndjsonBytes / events).toFixed(2)} as NDJSON` },
    {
      measure: `${result.table} encoder alone, records/s`, compactor: result.encoderRecordsPerSec, duckdb: '',
      ratio: `${(result.encoderRecordsPerSec / result.parquetWriteRecordsPerSec).toFixed(2)}× parquetWriteBuffer's (its files: ${formatBytes(result.parquetWriteBytes)})`,
    },
  ];
}

async function assertNoneQuarantined(store: MemoryStore): Promise<void> {
  const [first] = await store.list(quarantinePrefix(TABLE.name));
  if (!first) return;
  const { reason, detail } = JSON.parse(new TextDecoder().decode((await store.get(first.key))!.body).split('\n')[0]!) as { reason: string; detail: string };
  throw new Error(`the generated ${TABLE.name} records are all meant to be valid, yet some were quarantined (${first.key}, first: ${reason}: ${detail}); fix bench/purchases.ts`);
}

async function rowCount(lake: DuckDbLake, source: string): Promise<number> {
  return Number((await lake.query(`SELECT count(*) AS n FROM ${source}`)).rows[0]!.n);
}

/**
 * Fails unless `source` holds exactly the rows of the compactor's files (`rows` of them), every
 * column of every row alike: the contenders must have written the same data for their times to compare.
 */
async function assertSameRows(lake: DuckDbLake, source: string, rows: number, what: string): Promise<void> {
  const columns = tableColumns(TABLE).map((c) => `"${c.name}"`).join(', ');
  // With equal counts, no row of one missing from the other (as multisets) makes them the same rows.
  const count = await rowCount(lake, source);
  const missing = await rowCount(lake, `(SELECT ${columns} FROM ${source} EXCEPT ALL SELECT ${columns} FROM ${TABLE.name})`);
  if (count !== rows || missing > 0) throw new Error(`${what} holds ${count} rows where the compactor's files hold ${rows}, and ${missing} of its rows are not among theirs`);
}

/** One Parquet file of `batch` through hyparquet-writer's public API, from the plain arrays it takes. */
function parquetWriteBytes(batch: ColumnBatch, codec: Codec): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: batch.columns.map((column, i) => ({ name: column.name, data: plainValues(column, batch.values[i]!) })),
    schema: schemaOf(batch.columns),
    codec: codec === 'zstd' ? 'ZSTD' : 'SNAPPY',
    compressors: { ZSTD: (bytes) => zstdCompressSync(bytes) },
    rowGroupSize: batch.rowCount,
  });
}

// A string column's ids back to strings, a numeric column's NaN to null, booleans and 64-bit integers to their JS types.
function plainValues(column: ColumnSpec, values: ColumnValues): unknown[] {
  if (values.kind === 'strings') return Array.from(values.indices, (id) => (id < 0 ? null : values.distinct[id]!));
  if (values.kind === 'values') return values.values as unknown[];
  const convert = column.type === 'bigint' ? BigInt : column.type === 'boolean' ? (v: number) => v === 1 : (v: number) => v;
  return Array.from(values.values, (v) => (Number.isNaN(v) ? null : convert(v)));
}
