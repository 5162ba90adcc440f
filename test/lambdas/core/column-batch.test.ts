import { describe, expect, it } from 'vitest';
import { ColumnBatchBuilder } from '../../../lambdas/core/column-batch.ts';
import type { ColumnSpec } from '../../../lambdas/core/schema.ts';
import { StringDictionary } from '../../../lambdas/core/string-dictionary.ts';
import type { ColumnBatch } from '../../../lambdas/ports/parquet.ts';

const COLUMNS: ColumnSpec[] = [
  { name: 'device_id', type: 'string', nullable: true, description: 'a string' },
  { name: 'seq', type: 'bigint', nullable: false, description: 'a number' },
  { name: 'temperature_c', type: 'double', nullable: true, description: 'a nullable number' },
];

/** The batch as plain rows: strings resolved through their dictionary, null for a null. */
function rowsOf(batch: ColumnBatch): (string | number | null)[][] {
  return Array.from({ length: batch.rowCount }, (_, row) =>
    batch.values.map((values) => {
      if (values.kind === 'strings') return values.indices[row]! < 0 ? null : values.distinct[values.indices[row]!]!;
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

  it('refuses a string column without a dictionary to hold its values', () => {
    expect(() => new ColumnBatchBuilder(COLUMNS, [], 1)).toThrow(/device_id needs a dictionary/);
  });
});
