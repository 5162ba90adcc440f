import type { ColumnStatistics } from '../ports/parquet.ts';
import { lowerBound, upperBound } from './iceberg-bounds.ts';
import type { IcebergField, IcebergStruct } from './iceberg-schema.ts';

/**
 * A data file's metrics as its manifest entry lists them, each by Iceberg field id: what lets
 * engines (Athena/Trino, Spark, pyiceberg) skip the file when a filter's values lie outside its
 * bounds, or count rows without reading it.
 */
export interface DataFileMetrics {
  /** Bytes of the column's chunks, compressed. */
  readonly columnSizes: ReadonlyMap<number, number>;
  /** Values, nulls and NaN included. */
  readonly valueCounts: ReadonlyMap<number, number>;
  readonly nullValueCounts: ReadonlyMap<number, number>;
  /** For double columns only. */
  readonly nanValueCounts: ReadonlyMap<number, number>;
  /** Iceberg's single-value serialization of a bound at or below (above) every non-null, non-NaN value (`iceberg-bounds.ts`). */
  readonly lowerBounds: ReadonlyMap<number, Uint8Array>;
  readonly upperBounds: ReadonlyMap<number, Uint8Array>;
}

/**
 * The metrics of a data file of `schema` from its Parquet statistics: every primitive column and
 * struct field the schema names. Leaves inside a list or map get none: Iceberg keeps no bounds
 * for repeated fields, and their counts count elements, not rows.
 */
export function dataFileMetrics(schema: IcebergStruct, columns: readonly ColumnStatistics[]): DataFileMetrics {
  const metrics = { columnSizes: new Map(), valueCounts: new Map(), nullValueCounts: new Map(), nanValueCounts: new Map(), lowerBounds: new Map(), upperBounds: new Map() };
  for (const column of columns) {
    const field = primitiveField(schema, column.path);
    if (!field) continue;
    metrics.columnSizes.set(field.id, column.bytes);
    metrics.valueCounts.set(field.id, column.values);
    metrics.nullValueCounts.set(field.id, column.nulls);
    if (field.type === 'double') metrics.nanValueCounts.set(field.id, column.nans);
    const lower = column.min === undefined ? undefined : lowerBound(field.type, column.min);
    const upper = column.max === undefined ? undefined : upperBound(field.type, column.max);
    if (lower) metrics.lowerBounds.set(field.id, lower);
    if (upper) metrics.upperBounds.set(field.id, upper);
  }
  return metrics;
}

/** The primitive field at `path` (column name, then struct field names), if the schema has one there outside any list or map. */
function primitiveField(struct: IcebergStruct, path: readonly string[]): (IcebergField & { readonly type: string }) | undefined {
  const [name, ...rest] = path;
  const field = struct.fields.find((candidate) => candidate.name === name);
  if (!field) return undefined;
  if (typeof field.type === 'string') return rest.length === 0 ? { ...field, type: field.type } : undefined;
  return field.type.type === 'struct' ? primitiveField(field.type, rest) : undefined;
}
