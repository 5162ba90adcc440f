import fs from 'node:fs';
import fc from 'fast-check';
import os from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection, type JS } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { ColumnBatchBuilder } from '../../../lambdas/core/column-batch.ts';
import { LINEAGE_FIELDS, type ColumnSpec } from '../../../lambdas/core/schema.ts';
import { EXTRA_COLUMN } from '../../../lambdas/core/table-declaration.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';
import { StringDictionary } from '../../../lambdas/core/string-dictionary.ts';
import type { Codec, ColumnBatch } from '../../../lambdas/ports/parquet.ts';

// The device table's columns, with a boolean and a date column beside them so every type is written.
const TABLE_COLUMNS: readonly ColumnSpec[] = [
  ...DEVICE_LOGS.fields,
  { name: 'flag', type: 'boolean', nullable: true, description: '' },
  { name: 'day', type: 'date', nullable: true, description: '' },
  EXTRA_COLUMN,
  ...LINEAGE_FIELDS,
];
const DAY_MS = 86_400_000;

type Value = string | number | null;
type Row = Record<string, Value>;

const ROWS = 2_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
// Offsets past 2^32 so a 32-bit truncation anywhere would show.
const FIRST_OFFSET = 5_000_000_000;
const SITES = ['berlin', 'lisbon', 'oslo'];
const FIRMWARES = ['1.4.2', '2.0.0-rc.1'];
const STATUSES = ['ok', 'warning', 'error'];
const LOW_CARDINALITY = ['site', 'firmware', 'status'];

function makeRow(i: number): Row {
  return {
    device_id: `dev-${String(i).padStart(5, '0')}`,
    device_name: i % 10 === 0 ? `Gerät Süd ${i} ✓` : `Device ${i}`,
    site: SITES[i % SITES.length]!,
    firmware: FIRMWARES[i % FIRMWARES.length]!,
    event_time: T0 + i * 1_000 + (i % 1_000),
    seq: i * 3,
    temperature_c: i % 5 === 0 ? null : -20 + (i % 600) / 10,
    humidity_pct: i % 7 === 0 ? null : (i % 1000) / 10,
    battery_pct: i % 11 === 0 ? null : 100 - (i % 100) - 0.25,
    status: STATUSES[i % STATUSES.length]!,
    flag: i % 3 === 0 ? null : i % 2,
    // Days since 1970, before the epoch too.
    day: i % 4 === 0 ? null : (i % 50) * 400 - 3_000,
    _extra: i % 13 === 0 ? `{"rssi_dbm":${-i}}` : null,
    kafka_partition: i % 6,
    kafka_offset: FIRST_OFFSET + i,
    kafka_timestamp: T0 + i * 1_000 + 250,
  };
}

const rows = Array.from({ length: ROWS }, (_, i) => makeRow(i));

function batchOf(source: readonly Row[]): ColumnBatch {
  const dictionaries = TABLE_COLUMNS.map((column) => (column.type === 'string' ? new StringDictionary() : undefined));
  const builder = new ColumnBatchBuilder(TABLE_COLUMNS, dictionaries, source.length);
  for (const row of source) {
    builder.append(Float64Array.from(TABLE_COLUMNS, (column, i) => {
      const value = row[column.name] ?? null;
      return value === null ? Number.NaN : typeof value === 'string' ? dictionaries[i]!.idOf(value) : value;
    }));
  }
  return builder.batch();
}

const EXPECTED_DUCKDB_TYPES: Record<string, string> = {
  device_id: 'VARCHAR',
  device_name: 'VARCHAR',
  site: 'VARCHAR',
  firmware: 'VARCHAR',
  event_time: 'TIMESTAMP',
  seq: 'BIGINT',
  temperature_c: 'DOUBLE',
  humidity_pct: 'DOUBLE',
  battery_pct: 'DOUBLE',
  status: 'VARCHAR',
  flag: 'BOOLEAN',
  day: 'DATE',
  _extra: 'VARCHAR',
  kafka_partition: 'INTEGER',
  kafka_offset: 'BIGINT',
  kafka_timestamp: 'TIMESTAMP',
};

const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

let instance: DuckDBInstance;
let duckdb: DuckDBConnection;
let dir: string;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  duckdb = await instance.connect();
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

async function query(sql: string): Promise<Record<string, JS>[]> {
  return (await duckdb.runAndReadAll(sql)).getRowObjectsJS();
}

function writeFile(codec: Codec, source: readonly Row[] = rows): string {
  const path = join(dir, `part-${codec}.parquet`);
  fs.writeFileSync(path, parquetEncoder().encode(batchOf(source), codec).bytes);
  return path;
}

function byColumn(metadata: Record<string, JS>[]): Map<string, Record<string, JS>> {
  return new Map(metadata.map((row) => [String(row.path_in_schema), row]));
}

describe.each<[Codec, string]>([
  ['snappy', 'SNAPPY'],
  ['zstd', 'ZSTD'],
])('parquetEncoder with %s', (codec, compression) => {
  it('writes every column so DuckDB reads back the same values', async () => {
    const file = writeFile(codec);
    const read = await query(
      `SELECT *, epoch_ms(event_time) AS event_ms, epoch_ms(kafka_timestamp) AS kafka_ms FROM read_parquet(${sqlString(file)}) ORDER BY kafka_offset`,
    );
    expect(read).toHaveLength(ROWS);
    read.forEach((got, i) => {
      const want = rows[i]!;
      expect(got).toEqual({
        device_id: want.device_id,
        device_name: want.device_name,
        site: want.site,
        firmware: want.firmware,
        event_time: new Date(want.event_time as number),
        seq: BigInt(want.seq as number),
        temperature_c: want.temperature_c,
        humidity_pct: want.humidity_pct,
        battery_pct: want.battery_pct,
        status: want.status,
        flag: want.flag === null ? null : want.flag === 1,
        day: want.day === null ? null : new Date((want.day as number) * DAY_MS),
        _extra: want._extra,
        kafka_partition: want.kafka_partition,
        kafka_offset: BigInt(want.kafka_offset as number),
        kafka_timestamp: new Date(want.kafka_timestamp as number),
        event_ms: BigInt(want.event_time as number),
        kafka_ms: BigInt(want.kafka_timestamp as number),
      });
    });

    const [counts] = await query(
      `SELECT count(*) AS n, count(temperature_c) AS temperature, count(humidity_pct) AS humidity, count(battery_pct) AS battery FROM read_parquet(${sqlString(file)})`,
    );
    expect(counts).toEqual({
      n: BigInt(ROWS),
      temperature: BigInt(rows.filter((r) => r.temperature_c !== null).length),
      humidity: BigInt(rows.filter((r) => r.humidity_pct !== null).length),
      battery: BigInt(rows.filter((r) => r.battery_pct !== null).length),
    });
  });

  it('gives each column its SQL type: TIMESTAMP, BIGINT, INTEGER, DOUBLE, VARCHAR, BOOLEAN, DATE', async () => {
    const file = writeFile(codec);
    const described = await query(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    expect(described.map((row) => row.column_name)).toEqual(TABLE_COLUMNS.map((column) => column.name));
    expect(Object.fromEntries(described.map((row) => [row.column_name, row.column_type]))).toEqual(EXPECTED_DUCKDB_TYPES);
  });

  it(`compresses every column chunk with ${compression}`, async () => {
    const file = writeFile(codec);
    const metadata = await query(`SELECT path_in_schema, compression, row_group_num_rows FROM parquet_metadata(${sqlString(file)})`);
    expect(metadata.map((row) => row.path_in_schema)).toEqual(TABLE_COLUMNS.map((column) => column.name));
    for (const row of metadata) {
      expect(row.compression, String(row.path_in_schema)).toBe(compression);
      expect(row.row_group_num_rows).toBe(BigInt(ROWS));
    }
  });

  it('dictionary-encodes repetitive columns, strings and numbers, delta-encodes unique 64-bit integers and writes other unique values plain', async () => {
    const file = writeFile(codec);
    const metadata = byColumn(await query(`SELECT path_in_schema, encodings, dictionary_page_offset FROM parquet_metadata(${sqlString(file)})`));
    for (const name of [...LOW_CARDINALITY, 'kafka_partition', 'temperature_c']) {
      const column = metadata.get(name)!;
      expect(String(column.encodings).split(', '), name).toContain('PLAIN_DICTIONARY');
      expect(column.dictionary_page_offset, name).not.toBeNull();
    }
    // Unique values gain nothing from a dictionary.
    for (const [name, encoding] of [['device_id', 'PLAIN'], ['kafka_offset', 'DELTA_BINARY_PACKED'], ['event_time', 'DELTA_BINARY_PACKED']]) {
      expect(String(metadata.get(name!)!.encodings).split(', '), name).toEqual([encoding]);
      expect(metadata.get(name!)!.dictionary_page_offset, name).toBeNull();
    }
  });

  it('splits large batches into row groups and pages without changing a value', async () => {
    const path = join(dir, 'layout.parquet');
    fs.writeFileSync(path, parquetEncoder({ rowGroupRows: 700, pageRows: 128 }).encode(batchOf(rows), codec).bytes);
    const groups = await query(`SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(${sqlString(path)}) ORDER BY row_group_id`);
    expect(groups.map((g) => g.row_group_num_rows)).toEqual([700n, 700n, 600n]);
    const [diff] = await query(
      `SELECT count(*) AS n FROM (SELECT * FROM read_parquet(${sqlString(path)}) EXCEPT ALL SELECT * FROM read_parquet(${sqlString(writeFile(codec))}))`,
    );
    expect(diff).toEqual({ n: 0n });
    const [count] = await query(`SELECT count(*) AS n, count(DISTINCT kafka_offset) AS offsets FROM read_parquet(${sqlString(path)})`);
    expect(count).toEqual({ n: BigInt(ROWS), offsets: BigInt(ROWS) });
  });

  it('records min/max statistics and null counts for every column chunk', async () => {
    const file = writeFile(codec);
    const metadata = byColumn(
      await query(`SELECT path_in_schema, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata(${sqlString(file)})`),
    );
    for (const column of TABLE_COLUMNS) {
      const stats = metadata.get(column.name)!;
      expect(stats.stats_min_value, column.name).not.toBeNull();
      expect(stats.stats_max_value, column.name).not.toBeNull();
      const nulls = rows.filter((row) => row[column.name] === null).length;
      expect(stats.stats_null_count, column.name).toBe(BigInt(nulls));
    }
    expect(metadata.get('kafka_offset')).toMatchObject({ stats_min_value: String(FIRST_OFFSET), stats_max_value: String(FIRST_OFFSET + ROWS - 1) });
    expect(metadata.get('seq')).toMatchObject({ stats_min_value: '0', stats_max_value: String((ROWS - 1) * 3) });
    expect(metadata.get('kafka_partition')).toMatchObject({ stats_min_value: '0', stats_max_value: '5' });
    expect(metadata.get('site')).toMatchObject({ stats_min_value: 'berlin', stats_max_value: 'oslo' });
    expect(metadata.get('status')).toMatchObject({ stats_min_value: 'error', stats_max_value: 'warning' });
    expect(metadata.get('event_time')).toMatchObject({ stats_min_value: '2025-01-15 12:00:00' });
  });

  it('marks non-nullable columns REQUIRED and nullable ones OPTIONAL', async () => {
    const file = writeFile(codec);
    const schema = await query(`SELECT name, repetition_type FROM parquet_schema(${sqlString(file)}) WHERE name <> 'root'`);
    expect(Object.fromEntries(schema.map((row) => [row.name, row.repetition_type]))).toEqual(
      Object.fromEntries(TABLE_COLUMNS.map((column) => [column.name, column.nullable ? 'OPTIONAL' : 'REQUIRED'])),
    );
    expect(schema.filter((row) => row.repetition_type === 'OPTIONAL').map((row) => row.name)).toEqual(['temperature_c', 'humidity_pct', 'battery_pct', 'flag', 'day', '_extra']);
  });

  it('writes a file hyparquet reads back with the same rows', async () => {
    const file = writeFile(codec);
    const content = fs.readFileSync(file);
    const arrayBuffer = content.buffer.slice(content.byteOffset, content.byteOffset + content.byteLength);

    const metadata = parquetMetadata(arrayBuffer);
    expect(metadata.num_rows).toBe(BigInt(ROWS));
    expect(metadata.created_by).toMatch(/^streamlake version \d+\.\d+\.\d+ \(build \w+\)$/);

    const read = await parquetReadObjects({
      file: arrayBuffer,
      compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) },
    });
    expect(read).toHaveLength(ROWS);
    expect(read[0]).toMatchObject({ device_id: 'dev-00000', seq: 0n, kafka_offset: BigInt(FIRST_OFFSET), temperature_c: null });
    expect(read.at(-1)).toMatchObject({ device_id: rows.at(-1)!.device_id, kafka_offset: BigInt(FIRST_OFFSET + ROWS - 1) });
    expect(read.map((row) => row.device_name)).toEqual(rows.map((row) => row.device_name));
  });
});

describe('parquetEncoder', () => {
  it('encodes a batch whose nullable column is entirely null', async () => {
    const allNull = rows.slice(0, 50).map((row) => ({ ...row, humidity_pct: null }));
    const file = writeFile('zstd', allNull);
    const [summary] = await query(
      `SELECT count(*) AS n, count(humidity_pct) AS humidity, min(kafka_offset) AS first FROM read_parquet(${sqlString(file)})`,
    );
    expect(summary).toEqual({ n: 50n, humidity: 0n, first: BigInt(FIRST_OFFSET) });
  });

  it("returns each column's statistics over all its row groups: values, nulls, and min and max (strings in UTF-8 byte order)", () => {
    const { columns } = parquetEncoder({ rowGroupRows: 700, pageRows: 128 }).encode(batchOf(rows), 'snappy');
    const utf8Order = (a: Value, b: Value) => (typeof a === 'string' ? Buffer.compare(Buffer.from(a), Buffer.from(b as string)) : (a as number) - (b as number));
    // Signed zero aside: Parquet writes a zero minimum as -0.
    const unsigned = (value: unknown) => (typeof value === 'number' ? value + 0 : value);
    expect(columns.map((column) => column.path)).toEqual(TABLE_COLUMNS.map((column) => [column.name]));
    for (const [i, column] of TABLE_COLUMNS.entries()) {
      const present = rows.map((row) => row[column.name]!).filter((value) => value !== null).sort(utf8Order);
      const { path, bytes, min, max, ...counts } = columns[i]!;
      expect(counts, column.name).toEqual({ values: ROWS, nulls: ROWS - present.length, nans: 0 });
      expect([unsigned(min), unsigned(max)], column.name).toEqual([present[0], present.at(-1)]);
      expect(bytes, column.name).toBeGreaterThan(0);
    }
    // The 700-row groups each hold another part of the range: only all three together reach both ends.
    expect(columns.find((column) => column.path[0] === 'kafka_offset')).toMatchObject({ min: FIRST_OFFSET, max: FIRST_OFFSET + ROWS - 1 });
  });

  it('makes smaller files with ZSTD than with Snappy for the same batch', () => {
    const encoder = parquetEncoder();
    const snappy = encoder.encode(batchOf(rows), 'snappy').bytes;
    const zstd = encoder.encode(batchOf(rows), 'zstd').bytes;
    // Both are Parquet files (magic at both ends) and the codec changes the bytes.
    for (const bytes of [snappy, zstd]) {
      expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
      expect(Buffer.from(bytes.subarray(-4)).toString()).toBe('PAR1');
    }
    expect(zstd.byteLength).toBeLessThan(snappy.byteLength);
  });
});

describe('parquetEncoder on arbitrary numbers', () => {
  const COLUMNS: ColumnSpec[] = [
    { name: 'n', type: 'bigint', nullable: true, description: 'any safe integer or null' },
    { name: 't', type: 'timestamp', nullable: false, description: 'an instant' },
    { name: 'x', type: 'double', nullable: true, description: 'a reading' },
  ];
  // Steps of every bit width up to 33 (delta, packed at each width), and big jumps now and then (delta, packed past 32 bits).
  const steps = fc.oneof(
    fc.integer({ min: 0, max: 33 }).chain((bits) => fc.array(fc.integer({ min: -(2 ** bits), max: 2 ** bits - 1 }), { maxLength: 700, size: 'max' })),
    fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: 50 }), weight: 50 }, fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), { maxLength: 700, size: 'max' }),
  );
  const walks = fc.tuple(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), steps).map(([first, steps]) => {
    const values = [first];
    for (const s of steps) values.push(values.at(-1)! + s);
    return values;
  });
  // Values scattered over 2^bits around zero: deltas of every width from 32 bits up to 53 (delta up to 2^52, plain past it).
  const scattered = fc.integer({ min: 32, max: 53 }).chain((bits) => fc.array(fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 }), { minLength: 1, maxLength: 700, size: 'max' }));
  const integers = fc.oneof(walks, scattered);
  const extremes = fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 52, -(2 ** 52), 2 ** 52 + 1, 0);

  it('reads back every value, whichever of dictionary, delta or plain each page took', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(integers, fc.array(extremes, { maxLength: 3 }), fc.integer({ min: 0, max: 5 }), async (base, extreme, nullEvery) => {
        const n = [...base];
        for (const [i, value] of extreme.entries()) n.splice((i * 97) % (n.length + 1), 0, value);
        const t = n.map((value) => Math.abs(value) % 8.64e15);
        const x = n.map((value, i) => (i % 7 === 0 ? -0 : i % 5 === 0 ? 0 : (value % (nullEvery + 2)) / 8)); // few distinct: a dictionary keeping 0 and -0 apart
        const batch: ColumnBatch = {
          columns: COLUMNS,
          rowCount: n.length,
          values: [
            { kind: 'numbers', values: Float64Array.from(n, (value, i) => (nullEvery > 0 && i % nullEvery === 0 ? Number.NaN : value)) },
            { kind: 'numbers', values: Float64Array.from(t) },
            { kind: 'numbers', values: Float64Array.from(x) },
          ],
        };
        // A new name each run: DuckDB caches file contents by path and modification time.
        const path = join(dir, `numbers-${(runs += 1)}.parquet`);
        fs.writeFileSync(path, parquetEncoder({ pageRows: 300 }).encode(batch, 'snappy').bytes);
        const read = await query(`SELECT n::VARCHAR AS n, epoch_ms(t)::VARCHAR AS t, x FROM read_parquet(${sqlString(path)})`);
        expect(read.map((row) => row.n)).toEqual(n.map((value, i) => (nullEvery > 0 && i % nullEvery === 0 ? null : String(value))));
        expect(read.map((row) => row.t)).toEqual(t.map(String));
        read.forEach((row, i) => expect(Object.is(row.x, x[i]), `x[${i}] = ${row.x}, wrote ${x[i]}`).toBe(true));
      }),
      { numRuns: 60 },
    );
  });

  it('delta-encodes a page whose steps need more than 32 bits, in fewer bytes than plain', async () => {
    // Microsecond timestamps in arrival order: every tenth two hours late (34-bit steps), one 2^51 ahead (53-bit steps in its block).
    const micros = Array.from({ length: 1_000 }, (_, i) => (1_700_000_000_000 + i * 1_003 - (i % 10 === 0 ? 7_200_000 : 0)) * 1_000 + (i === 500 ? 2 ** 51 : 0));
    const batch: ColumnBatch = { columns: COLUMNS.slice(0, 1), rowCount: micros.length, values: [{ kind: 'numbers', values: Float64Array.from(micros) }] };
    const path = join(dir, 'wide-steps.parquet');
    fs.writeFileSync(path, parquetEncoder({ pageRows: 1_000 }).encode(batch, 'snappy').bytes);
    const [chunk] = await query(`SELECT encodings, total_uncompressed_size AS bytes FROM parquet_metadata(${sqlString(path)})`);
    expect(String(chunk!.encodings).split(', ').sort()).toEqual(['DELTA_BINARY_PACKED', 'RLE']);
    expect(Number(chunk!.bytes)).toBeLessThan(1_000 * 8);
    const read = await query(`SELECT n::VARCHAR AS n FROM read_parquet(${sqlString(path)})`);
    expect(read.map((row) => row.n)).toEqual(micros.map(String));
  });

  it('packs miniblocks whose widest step is right at a bit-width boundary, up to 54 bits', async () => {
    // One 33-value page (one miniblock of 32 steps) per spread T: steps from -ceil(T/2) to T - ceil(T/2), both present, the
    // others between, steered so values stay within 2^52. T at 2^k - 1 and 2^k for k from 31 to 53 (54 bits), 2^32 + 1, 2^33 + 1.
    const spreads = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 33 - 1, 2 ** 33, 2 ** 33 + 1];
    for (let k = 34; k <= 53; k++) spreads.push(2 ** k - 1, 2 ** k);
    const values: number[] = [];
    for (const [page, spread] of spreads.entries()) {
      const min = -Math.ceil(spread / 2);
      let value = (page % 3) - 1;
      let [lowest, widest] = [false, false];
      values.push(value);
      for (let i = 0; i < 32; i++) {
        const hash = (Math.imul(page * 32 + i + 1, 0x9e3779b1) >>> 0) / 2 ** 32;
        // A step down while above zero, up otherwise: the lowest and the widest step first, then others between.
        const adjusted = value > 0 ? (lowest ? Math.floor(hash * (spread / 2)) : 0) : widest ? Math.floor(spread / 2) + Math.floor(hash * (spread / 2)) : spread;
        if (adjusted === 0) lowest = true;
        if (adjusted === spread) widest = true;
        values.push((value += min + adjusted));
      }
      expect([lowest, widest]).toEqual([true, true]);
    }
    expect(values.every((value) => Math.abs(value) <= 2 ** 52)).toBe(true);
    const batch: ColumnBatch = { columns: COLUMNS.slice(0, 1), rowCount: values.length, values: [{ kind: 'numbers', values: Float64Array.from(values) }] };
    // Pages of one miniblock each, and one page whose blocks mix the spreads.
    for (const pageRows of [33, 10_000]) {
      const path = join(dir, `boundaries-${pageRows}.parquet`);
      fs.writeFileSync(path, parquetEncoder({ pageRows }).encode(batch, 'zstd').bytes);
      const [chunk] = await query(`SELECT encodings FROM parquet_metadata(${sqlString(path)})`);
      expect(String(chunk!.encodings).split(', ').sort()).toEqual(['DELTA_BINARY_PACKED', 'RLE']);
      const read = await query(`SELECT n::VARCHAR AS n FROM read_parquet(${sqlString(path)})`);
      expect(read.map((row) => row.n)).toEqual(values.map(String));
    }
  });

  it('delta-encodes steady 64-bit integers and falls back to plain for a page it cannot', async () => {
    const steady = Array.from({ length: 1_000 }, (_, i) => 1_700_000_000_000 + i * 1_003);
    // Steps past 2^52, beyond what doubles hold exactly.
    const jumpy = steady.map((value, i) => (i % 2 === 0 ? value : value + 2 ** 52 + 1));
    const batch: ColumnBatch = {
      columns: COLUMNS.slice(0, 1),
      rowCount: 2_000,
      values: [{ kind: 'numbers', values: Float64Array.from([...steady, ...jumpy]) }],
    };
    const path = join(dir, 'steady.parquet');
    fs.writeFileSync(path, parquetEncoder({ pageRows: 1_000 }).encode(batch, 'snappy').bytes);
    const [chunk] = await query(`SELECT encodings, total_uncompressed_size AS bytes FROM parquet_metadata(${sqlString(path)})`);
    expect(String(chunk!.encodings).split(', ').sort()).toEqual(['DELTA_BINARY_PACKED', 'PLAIN', 'RLE']);
    // The steady page takes a few bits per value; the plain one 8 bytes.
    expect(Number(chunk!.bytes)).toBeLessThan(1_000 * 8 + 1_000 * 2);
  });
});
