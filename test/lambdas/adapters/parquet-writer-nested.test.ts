import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection, type Json } from '@duckdb/node-api';
import fc from 'fast-check';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parquetEncoder, type ParquetLayout } from '../../../lambdas/adapters/parquet-writer.ts';
import type { ColumnSpec } from '../../../lambdas/core/schema.ts';
import { parseTableDeclaration } from '../../../lambdas/core/table-declaration.ts';
import type { ColumnBatch, NestedValue } from '../../../lambdas/ports/parquet.ts';

// Every kind of nested and decimal column, nullable and not, at every depth; `offset` is a flat column beside them.
const TABLE = parseTableDeclaration(
  {
    type: 'object',
    'x-streamlake': { table: 'nested', topic: 'nested', eventTime: 'at' },
    properties: {
      at: { type: 'string', format: 'date-time' },
      price: { type: 'number', 'x-streamlake-type': 'decimal(9,2)' },
      amount: { type: 'number', 'x-streamlake-type': 'decimal(18,4)' },
      total: { type: 'number', 'x-streamlake-type': 'decimal(19,2)' },
      huge: { type: 'string', 'x-streamlake-type': 'decimal(38,0)' },
      address: {
        type: 'object',
        properties: { city: { type: 'string' }, zip: { type: 'string' }, location: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } }, required: ['lat', 'lon'] } },
        required: ['city'],
      },
      items: {
        type: 'array',
        items: {
          type: ['object', 'null'],
          properties: {
            sku: { type: 'string' }, qty: { type: 'integer', minimum: 0, maximum: 100 }, price: { type: 'string', 'x-streamlake-type': 'decimal(9,2)' },
            shipped_at: { type: 'string', format: 'date-time' }, wrapped: { type: 'boolean' }, serial: { type: 'integer' }, day: { type: 'string', format: 'date' },
          },
          required: ['sku'],
        },
      },
      tags: { type: 'array', items: { type: ['string', 'null'] } },
      scores: { type: 'object', additionalProperties: { type: ['number', 'null'] } },
      matrix: { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
    },
    required: ['at', 'amount', 'total', 'tags'],
  },
  'nested.schema.json',
);
const NESTED = TABLE.fields.slice(1);
const OFFSET: ColumnSpec = { name: 'offset', type: 'bigint', nullable: false, description: '' };
const COLUMNS = [...NESTED, OFFSET];
const FIRST_OFFSET = 5_000_000_000;

type Row = readonly NestedValue[];

const DAY_MS = 86_400_000;
// Years 1000 to 9999, which DuckDB prints as four digits.
const MIN_MS = Date.UTC(1000, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31);

/** Values of `column` as the decoder hands them to the encoder. */
function valuesOf(column: ColumnSpec): fc.Arbitrary<NestedValue> {
  const value = ((): fc.Arbitrary<NestedValue> => {
    switch (column.type) {
      case 'string': return fc.oneof(fc.string(), fc.constantFrom('Gerät Süd ✓', '', '𝄞'));
      case 'int': return fc.integer({ min: column.minimum ?? -(2 ** 31), max: column.maximum ?? 2 ** 31 - 1 });
      case 'bigint': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
      case 'double': return fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0));
      case 'boolean': return fc.boolean();
      case 'date': return fc.integer({ min: MIN_MS / DAY_MS, max: MAX_MS / DAY_MS });
      case 'timestamp': return fc.integer({ min: MIN_MS, max: MAX_MS });
      case 'decimal': {
        const limit = 10n ** BigInt(column.precision!) - 1n;
        return fc.oneof(fc.bigInt({ min: -limit, max: limit }), fc.constantFrom(limit, -limit, 0n));
      }
      case 'struct': return fc.record(Object.fromEntries(column.fields!.map((field) => [field.name, valuesOf(field)]))) as fc.Arbitrary<NestedValue>;
      case 'array': return fc.array(valuesOf(column.items!), { maxLength: 4 });
      case 'map': return fc.uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), valuesOf(column.values!)), { selector: ([key]) => key, maxLength: 3 });
    }
  })();
  return column.nullable ? fc.option(value, { nil: null, freq: 4 }) : value;
}

const rowsArbitrary = fc.array(fc.tuple(...NESTED.map(valuesOf)), { minLength: 1, maxLength: 40 });

function batchOf(rows: readonly Row[]): ColumnBatch {
  return {
    columns: COLUMNS,
    rowCount: rows.length,
    values: [
      ...NESTED.map((_, i) => ({ kind: 'values' as const, values: rows.map((row) => row[i]!) })),
      { kind: 'numbers', values: Float64Array.from(rows, (_, i) => FIRST_OFFSET + i) },
    ],
  };
}

/** `value` of `column` as DuckDB's `getRowObjectsJson` gives it back: decimals as exact text, instants as DuckDB prints them, maps as key/value entries. */
function asDuckDbJson(column: ColumnSpec, value: NestedValue): Json {
  if (value === null) return null;
  switch (column.type) {
    case 'decimal': {
      const unscaled = value as bigint;
      const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(column.scale! + 1, '0');
      const point = digits.length - column.scale!;
      return `${unscaled < 0n ? '-' : ''}${digits.slice(0, point)}${column.scale! > 0 ? `.${digits.slice(point)}` : ''}`;
    }
    case 'timestamp': return new Date(value as number).toISOString().replace('T', ' ').replace(/\.?0*Z$/, '');
    case 'date': return new Date((value as number) * DAY_MS).toISOString().slice(0, 10);
    case 'bigint': return String(value);
    case 'struct': return Object.fromEntries(column.fields!.map((field) => [field.name, asDuckDbJson(field, (value as Record<string, NestedValue>)[field.name]!)]));
    case 'array': return (value as NestedValue[]).map((item) => asDuckDbJson(column.items!, item));
    case 'map': return (value as [string, NestedValue][]).map(([key, item]) => ({ key, value: asDuckDbJson(column.values!, item) }));
    default: return value as Json;
  }
}

const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

let instance: DuckDBInstance;
let duckdb: DuckDBConnection;
let dir: string;
let files = 0;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  duckdb = await instance.connect();
  await duckdb.run("SET TimeZone = 'UTC'");
});

afterAll(() => {
  duckdb.closeSync();
  instance.closeSync();
});

beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'streamlake-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// A new name each time: DuckDB caches file contents by path and modification time.
function writeFile(rows: readonly Row[], layout: ParquetLayout = {}): string {
  const path = join(dir, `nested-${(files += 1)}.parquet`);
  fs.writeFileSync(path, parquetEncoder(layout).encode(batchOf(rows), 'zstd').bytes);
  return path;
}

async function readBack(path: string): Promise<Record<string, Json>[]> {
  return (await duckdb.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(path)}) ORDER BY "offset"`)).getRowObjectsJson();
}

async function query(sql: string): Promise<Record<string, Json>[]> {
  return (await duckdb.runAndReadAll(sql)).getRowObjectsJson();
}

const SAMPLE: Row[] = fc.sample(rowsArbitrary, { numRuns: 1, seed: 42 })[0]!;

describe('parquetEncoder with decimal and nested columns', () => {
  it('writes every value so DuckDB reads back the same: nulls at every level, empty lists and maps, extreme decimals', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArbitrary, fc.constantFrom<ParquetLayout>({}, { rowGroupRows: 7, pageRows: 3 }), async (rows, layout) => {
        const read = await readBack(writeFile(rows, layout));
        expect(read.map((row) => row.offset)).toEqual(rows.map((_, i) => String(FIRST_OFFSET + i)));
        for (const [i, column] of NESTED.entries()) {
          expect(read.map((row) => row[column.name]), column.name).toEqual(rows.map((row) => asDuckDbJson(column, row[i]!)));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('gives each column its SQL type: STRUCT, lists, MAP and DECIMAL(P,S)', async () => {
    const described = await query(`DESCRIBE SELECT * FROM read_parquet(${sqlString(writeFile(SAMPLE))})`);
    expect(Object.fromEntries(described.map((row) => [row.column_name, row.column_type]))).toEqual({
      price: 'DECIMAL(9,2)',
      amount: 'DECIMAL(18,4)',
      total: 'DECIMAL(19,2)',
      huge: 'DECIMAL(38,0)',
      address: 'STRUCT(city VARCHAR, zip VARCHAR, "location" STRUCT(lat DOUBLE, lon DOUBLE))',
      items: 'STRUCT(sku VARCHAR, qty INTEGER, price DECIMAL(9,2), shipped_at TIMESTAMP, wrapped BOOLEAN, serial BIGINT, "day" DATE)[]',
      tags: 'VARCHAR[]',
      scores: 'MAP(VARCHAR, DOUBLE)',
      matrix: 'BIGINT[][]',
      offset: 'BIGINT',
    });
  });

  it('lays lists and maps out the standard three-level way, with required and optional levels as declared', async () => {
    const schema = await query(`SELECT name, repetition_type, converted_type FROM parquet_schema(${sqlString(writeFile(SAMPLE))}) WHERE name <> 'root'`);
    const layout = schema.map((row) => `${row.name} ${row.repetition_type}${row.converted_type ? ` ${row.converted_type}` : ''}`);
    expect(layout.slice(layout.indexOf('items OPTIONAL LIST'), layout.indexOf('sku REQUIRED UTF8') + 1)).toEqual(['items OPTIONAL LIST', 'list REPEATED', 'element OPTIONAL', 'sku REQUIRED UTF8']);
    expect(layout.slice(layout.indexOf('tags REQUIRED LIST'), layout.indexOf('tags REQUIRED LIST') + 3)).toEqual(['tags REQUIRED LIST', 'list REPEATED', 'element OPTIONAL UTF8']);
    expect(layout.slice(layout.indexOf('scores OPTIONAL MAP'), layout.indexOf('scores OPTIONAL MAP') + 4)).toEqual(['scores OPTIONAL MAP', 'key_value REPEATED', 'key REQUIRED UTF8', 'value OPTIONAL']);
    expect(layout.slice(layout.indexOf('matrix OPTIONAL LIST'))).toEqual(['matrix OPTIONAL LIST', 'list REPEATED', 'element REQUIRED LIST', 'list REPEATED', 'element REQUIRED', 'offset REQUIRED']);
    expect(layout.slice(layout.indexOf('address OPTIONAL'), layout.indexOf('address OPTIONAL') + 4)).toEqual(['address OPTIONAL', 'city REQUIRED UTF8', 'zip OPTIONAL UTF8', 'location OPTIONAL']);
  });

  it('stores a decimal in INT32 up to 9 digits, INT64 up to 18 and the fewest fixed-length bytes beyond, with exact min/max statistics', async () => {
    // price, total and huge at their extremes, in the columns' order of NESTED.
    const extremes = [[-1n, -1n, 0n], [999_999_999n, 10n ** 19n - 1n, 10n ** 38n - 1n], [-999_999_999n, -(10n ** 19n - 1n), -(10n ** 37n)]];
    const rows = extremes.map(([price, total, huge]): Row => {
      const row = [...SAMPLE[0]!];
      [row[0], row[2], row[3]] = [price!, total!, huge!];
      return row;
    });
    const file = writeFile(rows);
    const schema = await query(`SELECT name, type, type_length, precision, scale FROM parquet_schema(${sqlString(file)}) WHERE name IN ('price', 'amount', 'total', 'huge') LIMIT 4`);
    expect(schema).toEqual([
      { name: 'price', type: 'INT32', type_length: null, precision: '9', scale: '2' },
      { name: 'amount', type: 'INT64', type_length: null, precision: '18', scale: '4' },
      { name: 'total', type: 'FIXED_LEN_BYTE_ARRAY', type_length: '9', precision: '19', scale: '2' },
      { name: 'huge', type: 'FIXED_LEN_BYTE_ARRAY', type_length: '16', precision: '38', scale: '0' },
    ]);
    const stats = await query(`SELECT path_in_schema, stats_min_value, stats_max_value FROM parquet_metadata(${sqlString(file)}) WHERE path_in_schema IN ('price', 'total', 'huge')`);
    expect(stats).toEqual([
      { path_in_schema: 'price', stats_min_value: '-9999999.99', stats_max_value: '9999999.99' },
      { path_in_schema: 'total', stats_min_value: '-99999999999999999.99', stats_max_value: '99999999999999999.99' },
      { path_in_schema: 'huge', stats_min_value: '-10000000000000000000000000000000000000', stats_max_value: '99999999999999999999999999999999999999' },
    ]);
  });

  it('keeps its own encoder for the flat columns of the same file', async () => {
    const metadata = await query(`SELECT path_in_schema, encodings FROM parquet_metadata(${sqlString(writeFile(SAMPLE))}) WHERE path_in_schema = 'offset'`);
    expect(metadata).toEqual([{ path_in_schema: 'offset', encodings: 'DELTA_BINARY_PACKED' }]);
  });

  it('writes a file hyparquet reads back with the same structure', async () => {
    const content = fs.readFileSync(writeFile(SAMPLE));
    const read = await parquetReadObjects({
      file: content.buffer.slice(content.byteOffset, content.byteOffset + content.byteLength),
      compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) },
    });
    expect(read).toHaveLength(SAMPLE.length);
    const at = (name: string) => NESTED.findIndex((column) => column.name === name);
    read.forEach((got, i) => {
      const want = SAMPLE[i]!;
      expect(got.tags).toEqual(want[at('tags')]);
      expect(got.address ?? null).toEqual(want[at('address')]);
      expect(got.matrix ?? null).toEqual(want[at('matrix')]);
      // hyparquet reads decimals as doubles: close, not exact, which is hyparquet's choice.
      expect(got.amount).toBeCloseTo(Number(want[at('amount')]) / 1e4, 0);
    });
  });
});
