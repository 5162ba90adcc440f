import { expect } from 'vitest';
import type { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import { readColumnBatch } from '../../lambdas/adapters/parquet-reader.ts';
import { lowerBound, upperBound } from '../../lambdas/core/iceberg-bounds.ts';
import { currentSchema, currentSnapshot } from '../../lambdas/core/iceberg-metadata.ts';
import type { IcebergField, IcebergStruct } from '../../lambdas/core/iceberg-schema.ts';
import { tableColumns } from '../../lambdas/core/table-declaration.ts';
import type { ColumnBatch, StatisticValue } from '../../lambdas/ports/parquet.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';

type Cell = StatisticValue | null | Readonly<Record<string, unknown>> | readonly unknown[];

/** The cells of column `index` of a batch, one a row, null for null. */
function cellsOf(batch: ColumnBatch, index: number): Cell[] {
  const values = batch.values[index]!;
  if (values.kind === 'strings') return Array.from(values.indices, (i) => (i < 0 ? null : values.distinct[i]!));
  if (values.kind === 'numbers') return Array.from(values.values, (n) => (Number.isNaN(n) ? null : n));
  return [...values.values] as Cell[];
}

/** Each primitive field under `field` outside lists and maps, with its cells (null under a null struct too). */
function leavesOf(field: IcebergField, cells: readonly Cell[]): [IcebergField & { type: string }, Cell[]][] {
  if (typeof field.type === 'string') return [[{ ...field, type: field.type }, [...cells]]];
  if (field.type.type !== 'struct') return [];
  return field.type.fields.flatMap((child) => leavesOf(child, cells.map((cell) => (cell === null ? null : ((cell as Record<string, Cell>)[child.name] ?? null)))));
}

const before = (a: StatisticValue, b: StatisticValue) => (typeof a === 'string' && typeof b === 'string' ? Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 : a < b);

/**
 * What a data file's metrics must be, computed from its rows: per primitive field, the rows, the
 * nulls and the bounds of the smallest and largest value (timestamps in the microseconds Iceberg
 * stores, where a batch holds milliseconds). Column sizes aside: rows do not tell them.
 */
export function metricsOfRows(schema: IcebergStruct, batch: ColumnBatch) {
  const metrics = { valueCounts: new Map(), nullValueCounts: new Map(), nanValueCounts: new Map(), lowerBounds: new Map(), upperBounds: new Map() };
  for (const [index, column] of batch.columns.entries()) {
    const field = schema.fields.find((candidate) => candidate.name === column.name)!;
    for (const [leaf, cells] of leavesOf(field, cellsOf(batch, index))) {
      const present = cells.filter((cell): cell is StatisticValue => cell !== null).map((value) => (leaf.type === 'timestamptz' ? (value as number) * 1000 : value));
      metrics.valueCounts.set(leaf.id, cells.length);
      metrics.nullValueCounts.set(leaf.id, cells.length - present.length);
      if (leaf.type === 'double') metrics.nanValueCounts.set(leaf.id, 0);
      if (present.length === 0) continue;
      const min = present.reduce((a, b) => (before(b, a) ? b : a));
      const max = present.reduce((a, b) => (before(a, b) ? b : a));
      metrics.lowerBounds.set(leaf.id, lowerBound(leaf.type, min));
      const upper = upperBound(leaf.type, max);
      if (upper) metrics.upperBounds.set(leaf.id, upper);
    }
  }
  return metrics;
}

/** Checks every live data file of `table`'s current snapshot against {@link metricsOfRows} of its rows; returns the files checked. */
export async function expectMetricsOfRows(table: IcebergTable, store: ObjectStore): Promise<number> {
  const { metadata } = (await table.load())!;
  const schema = currentSchema(metadata);
  const entries = await table.dataFiles(currentSnapshot(metadata));
  for (const entry of entries) {
    const body = (await store.get(table.keyOf(entry.file.path)))!.body;
    const batch = await readColumnBatch([{ name: entry.file.path, body }], tableColumns(table.table));
    const { columnSizes, ...metrics } = entry.file.metrics!;
    expect(metrics, entry.file.path).toEqual(metricsOfRows(schema, batch));
    expect([...columnSizes.keys()], entry.file.path).toEqual([...metrics.valueCounts.keys()]);
    expect([...columnSizes.values()].reduce((sum, size) => sum + size, 0), entry.file.path).toBeLessThan(entry.file.fileSizeInBytes);
  }
  return entries.length;
}
