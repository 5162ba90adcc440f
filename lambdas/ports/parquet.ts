import type { ColumnSpec } from '../core/schema.ts';

/** Parquet compression codecs the pipeline writes. */
export const CODECS = ['snappy', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

/**
 * A value of a decimal or nested column, in the form the encoder takes it: a decimal as its
 * unscaled bigint (the value times 10^scale), a struct as an object by field name, an array as an
 * array, a map as its `[key, value]` pairs; inside them, an int64 as a bigint, a boolean as a
 * boolean, a timestamp as epoch milliseconds, a date as days since 1970, null for null.
 */
export type NestedValue = string | number | bigint | boolean | null | readonly NestedValue[] | { readonly [field: string]: NestedValue };

/**
 * The values of one column, typed so no row of a flat column needs an object of its own:
 * strings as indices into the distinct values seen (-1 for null), numbers in a Float64Array
 * (NaN for null: the decoder never admits NaN, so it is free to mark a missing value), decimal and
 * nested columns as one `NestedValue` a row (null for null).
 */
export type ColumnValues =
  | { readonly kind: 'strings'; readonly distinct: readonly string[]; readonly indices: Int32Array }
  | { readonly kind: 'numbers'; readonly values: Float64Array }
  | { readonly kind: 'values'; readonly values: readonly NestedValue[] };

/** Column-oriented rows: one `ColumnValues` per entry of `columns`, in that order, each `rowCount` long. */
export interface ColumnBatch {
  readonly columns: readonly ColumnSpec[];
  readonly values: readonly ColumnValues[];
  readonly rowCount: number;
}

/**
 * How a file stores timestamps: milliseconds (Hive-Parquet tables, which Athena reads as
 * `timestamp(3)`), or microseconds, which the Iceberg spec requires of its `timestamptz`
 * (Trino's Iceberg reader refuses anything else). A batch always holds epoch milliseconds.
 */
export type TimestampUnit = 'millis' | 'micros';

/** Turns a batch into the bytes of one Parquet file. */
export interface ParquetEncoder {
  encode(batch: ColumnBatch, codec: Codec, timestampUnit?: TimestampUnit): Uint8Array;
}
