import { describe, expect, it } from 'vitest';
import { ColumnBatchBuilder } from '../../../lambdas/core/column-batch.ts';
import type { ColumnSpec } from '../../../lambdas/core/schema.ts';
import { StringDictionary } from '../../../lambdas/core/string-dictionary.ts';
import { ValueList } from '../../../lambdas/core/value-list.ts';
import type { ColumnBatch } from '../../../lambdas/ports/parquet.ts';

const COLUMNS: ColumnSpec[] = [
  { name: 'device_id', type: 'string', nullable: true, description: 'a string' },
  { name: 'seq', type: 'bigint', nullable: false, description: 'a number' },
  { name: 'temperature_c', type: 'double', nullable: true, description: 'a nullable number' },
];

/** The batch as plain rows: strings resolved through their dictionary, null for a null. */
function rowsOf(batch: ColumnBatch): unknown[][] {
  return Array.from({ length: batch.rowCount }, (_, row) =>
    batch.values.map((values) => {
      if (values.kind === 'strings') return values.indices[row]! < 0 ? null : values.distinct[values.indices[row]!]!;
      if (values.kind === 'values') return values.values[row];
      return Number.isNaN(values.values[row]!) ? null : values.values[row]!;
    }),
  );
}

describe('ColumnBatchBuilder', () => {
  const devices = new StringDictionary();
  const written = Array.from({ length: 50 }, (_, i) => [i % 9 === 0 ? null : `dev-${i % 4}`, i * 10, i % 3 === 0 ? null : i / 4] as const);
  const builder = new ColumnBatchBuilder(COLUMNS, [devices, undefined, undefined], 8);
  for (const [device, seq, temperature] of written) {
    builder.append(Float64Array.of(device === null ? Number.NaN : devices.idOf(device), seq, temperature ?? Number.NaN));
  }

  it('keeps every row appended, past the capacity it started with, nulls included', () => {
    expect(builder.rowCount).toBe(50);
    expect(rowsOf(builder.batch())).toEqual(written);
  });

  it('selects rows by position, in the order given', () => {
    const positions = Int32Array.of(49, 0, 17, 18);
    const batch = builder.batch(positions);
    expect(batch.rowCount).toBe(4);
    expect(rowsOf(batch)).toEqual([...positions].map((p) => written[p]));
  });

  it('keeps decimal and nested values by row, null for NaN, and selects them as it selects the others', () => {
    const columns: ColumnSpec[] = [
      { name: 'total', type: 'decimal', precision: 19, scale: 2, nullable: true, description: 'a decimal' },
      { name: 'tags', type: 'array', items: { name: 'element', type: 'string', nullable: false, description: '' }, nullable: false, description: 'a list' },
    ];
    const totals = new ValueList();
    const tags = new ValueList();
    const nested = new ColumnBatchBuilder(columns, [totals, tags], 1);
    const written = [[1234567890123456789n, ['a']], [null, []], [-5n, ['b', 'c']]] as const;
    for (const [total, tag] of written) nested.append(Float64Array.of(total === null ? Number.NaN : totals.add(total), tags.add([...tag])));
    expect(rowsOf(nested.batch())).toEqual(written);
    expect(rowsOf(nested.batch(Int32Array.of(2, 1)))).toEqual([written[2], written[1]]);
  });

  it('refuses a string column without a store to hold its values', () => {
    expect(() => new ColumnBatchBuilder(COLUMNS, [], 1)).toThrow(/string column device_id needs a store for its values/);
  });
});
