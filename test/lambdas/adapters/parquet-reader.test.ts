import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { readColumnBatch } from '../../../lambdas/adapters/parquet-reader.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { heldAsValue, type ColumnSpec } from '../../../lambdas/core/schema.ts';
import { tableColumns } from '../../../lambdas/core/table-declaration.ts';
import type { ColumnBatch, ColumnValues, NestedValue } from '../../../lambdas/ports/parquet.ts';
import { fixtureTables } from '../../helpers/synth.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const PURCHASES = tableNamed(loadTables(fixtureTables('tables-nested')), 'purchases');
type Row = Record<string, unknown>;

/** A batch of `columns` from rows by column name: strings, numbers (NaN for null) and nested values in the encoder's forms. */
function batchOf(columns: readonly ColumnSpec[], rows: readonly Row[]): ColumnBatch {
  const values = columns.map((column): ColumnValues => {
    const cells = rows.map((row) => row[column.name] ?? null);
    if (column.type === 'string') {
      const distinct = [...new Set(cells.filter((c): c is string => c !== null))];
      return { kind: 'strings', distinct, indices: Int32Array.from(cells, (c) => (c === null ? -1 : distinct.indexOf(c as string))) };
    }
    if (heldAsValue(column.type)) return { kind: 'values', values: cells as NestedValue[] };
    return { kind: 'numbers', values: Float64Array.from(cells, (c) => (c === null ? Number.NaN : typeof c === 'boolean' ? Number(c) : (c as number))) };
  });
  return { columns, values, rowCount: rows.length };
}

/** The rows of a batch by column name, whatever order its string dictionaries are in. */
function rowsOf(batch: ColumnBatch): Row[] {
  return Array.from({ length: batch.rowCount }, (_, i) =>
    Object.fromEntries(
      batch.columns.map((column, c) => {
        const values = batch.values[c]!;
        if (values.kind === 'strings') return [column.name, values.indices[i]! < 0 ? null : values.distinct[values.indices[i]!]];
        if (values.kind === 'values') return [column.name, values.values[i]];
        return [column.name, Number.isNaN(values.values[i]!) ? null : values.values[i]];
      }),
    ),
  );
}

const T0 = Date.UTC(2026, 0, 5, 10, 0);
const reading = (i: number): Row => ({
  device_id: `dev-${i % 3}`, device_name: `Device ${i % 3}`, site: i % 2 ? 'Lisbon' : 'Porto', firmware: '1.2.3', event_time: T0 + i * 1000, seq: i,
  temperature_c: i % 4 === 0 ? null : 20.5 + i, humidity_pct: 40 + i / 10, battery_pct: i % 5 === 0 ? null : 99, status: 'ok',
  _extra: i === 1 ? '{"note":"x"}' : null, kafka_partition: i % 2, kafka_offset: 2 ** 40 + i, kafka_timestamp: T0 + i * 1000 + 7,
});
const purchase = (i: number): Row => ({
  purchase_id: `p-${i}`, placed_at: T0 + i, delivery_date: 20_458 + i, gift: i % 2 === 0,
  total: 123_456_789_012_345_678n + BigInt(i),
  // 38 digits, 18 after the point: beyond a double's 15 to 17.
  fx_rate: i === 1 ? null : -(10n ** 37n) - 123_456_789_012_345_678_901_234_567n - BigInt(i),
  address: i === 2 ? null : { street: null, city: 'Oslo', zip: '0150', location: { lat: 59.9, lon: 10.7 } },
  items: [{ sku: 'SKU-1', quantity: 2, unit_price: 1999n, discount: i === 0 ? null : -5n, gift_wrapped: true, shipped_at: T0 + 3_600_000 }],
  tags: i === 0 ? null : ['new', 'sale'],
  // Integer-like keys come first in a parsed JSON object: the compactor writes them in that order.
  attributes: i === 3 ? [] : [['7', 'seven'], ['channel', 'web']],
  _extra: null, kafka_partition: 0, kafka_offset: i, kafka_timestamp: T0 + i,
});

describe('readColumnBatch', () => {
  const encoder = parquetEncoder();

  it('reads a flat file back into the batch it was written from, byte for byte when encoded again', async () => {
    const batch = batchOf(tableColumns(DEVICE_LOGS), Array.from({ length: 50 }, (_, i) => reading(i)));
    const body = encoder.encode(batch, 'snappy').bytes;
    const read = await readColumnBatch([{ name: 'a.parquet', body }], tableColumns(DEVICE_LOGS));
    expect(rowsOf(read)).toEqual(rowsOf(batch));
    expect(Buffer.from(encoder.encode(read, 'snappy').bytes).equals(Buffer.from(body))).toBe(true);
  });

  it('keeps decimals of up to 38 digits exact, dates, timestamps and int64s inside nested values, nulls at every level, and map order', async () => {
    const rows = Array.from({ length: 4 }, (_, i) => purchase(i));
    const batch = batchOf(tableColumns(PURCHASES), rows);
    const body = encoder.encode(batch, 'zstd').bytes;
    const read = await readColumnBatch([{ name: 'p.parquet', body }], tableColumns(PURCHASES));
    expect(rowsOf(read)).toEqual(rowsOf(batch));
    expect(Buffer.from(encoder.encode(read, 'zstd').bytes).equals(Buffer.from(body))).toBe(true);
  });

  it("writes an Iceberg table's timestamps, nested ones too, as microseconds, and reads them back as the same milliseconds", async () => {
    const rows = Array.from({ length: 4 }, (_, i) => purchase(i));
    const batch = batchOf(tableColumns(PURCHASES), rows);
    const body = encoder.encode(batch, 'snappy', 'micros').bytes;
    const leaves = parquetMetadata(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer).schema;
    const timestamps = leaves.filter((element) => element.converted_type === 'TIMESTAMP_MICROS' || element.converted_type === 'TIMESTAMP_MILLIS');
    expect(timestamps.map((element) => [element.name, element.converted_type])).toEqual([
      ['placed_at', 'TIMESTAMP_MICROS'], ['shipped_at', 'TIMESTAMP_MICROS'], ['kafka_timestamp', 'TIMESTAMP_MICROS'],
    ]);
    const stored = await parquetReadObjects({ file: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer, columns: ['placed_at', 'items'], parsers: { timestampFromMicroseconds: (micros: bigint) => micros } });
    expect(stored[1]!.placed_at).toBe(BigInt(T0 + 1) * 1000n);
    expect((stored[1]!.items as { shipped_at: bigint }[])[0]!.shipped_at).toBe(BigInt(T0 + 3_600_000) * 1000n);
    const read = await readColumnBatch([{ name: 'p.parquet', body }], tableColumns(PURCHASES));
    expect(rowsOf(read)).toEqual(rowsOf(batch));
    expect(Buffer.from(encoder.encode(read, 'snappy', 'micros').bytes).equals(Buffer.from(body))).toBe(true);
  });

  it('reads a top-level column added later as null from older files, even when it is named like a part of a nested column', async () => {
    const older = tableColumns(PURCHASES);
    const city = { name: 'city', type: 'string' as const, nullable: true, description: '' };
    const newer = [...older.slice(0, 1), city, ...older.slice(1)];
    const rows = Array.from({ length: 2 }, (_, i) => purchase(i));
    const read = await readColumnBatch([{ name: 'old.parquet', body: encoder.encode(batchOf(older, rows), 'snappy').bytes }], newer);
    expect(rowsOf(read).map((row) => row.city)).toEqual([null, null]);
    expect(rowsOf(read).map((row) => (row.address as { city: string } | null)?.city)).toEqual(['Oslo', 'Oslo']);
  });

  it('concatenates files in the order given, across row groups, and fills a column a file lacks with nulls', async () => {
    const columns = tableColumns(DEVICE_LOGS);
    const first = Array.from({ length: 25 }, (_, i) => reading(i));
    const second = Array.from({ length: 10 }, (_, i) => reading(100 + i));
    // A file written before the table had `battery_pct`.
    const older = columns.filter((c) => c.name !== 'battery_pct');
    const files = [
      { name: 'one.parquet', body: parquetEncoder({ rowGroupRows: 7, pageRows: 3 }).encode(batchOf(columns, first), 'snappy').bytes },
      { name: 'two.parquet', body: encoder.encode(batchOf(older, second), 'snappy').bytes },
    ];
    const read = await readColumnBatch(files, columns);
    expect(read.rowCount).toBe(35);
    expect(rowsOf(read)).toEqual([...first, ...second.map((row) => ({ ...row, battery_pct: null }))].map((row) => rowsOf(batchOf(columns, [row]))[0]));
  });
});
