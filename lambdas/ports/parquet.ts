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

/**
 * A bound of a leaf column as its chunk statistics hold it: a number (int, double, date in days,
 * timestamp in the file's unit, a flat boolean as 0 or 1), a bigint (an int64 inside a nested
 * column, a decimal's unscaled value), a string, or a boolean inside a nested column.
 */
export type StatisticValue = number | bigint | string | boolean;

/** What the column chunks of one file say of one leaf column, over all its row groups. */
export interface ColumnStatistics {
  /** The leaf's path in the file schema, column name first (`['address', 'city']`, `['tags', 'list', 'element']`). */
  readonly path: readonly string[];
  /** Bytes of its column chunks, compressed, as stored. */
  readonly bytes: number;
  /** Its values, nulls included. */
  readonly values: number;
  readonly nulls: number;
  /** NaN values of a double leaf (never in a flat column, where NaN marks null). */
  readonly nans: number;
  /** The smallest and largest values, nulls and NaN aside (strings in UTF-8 byte order); absent when there are none. */
  readonly min?: StatisticValue;
  readonly max?: StatisticValue;
}

/** The bytes of one Parquet file, and the statistics its footer holds, by leaf column. */
export interface EncodedParquet {
  readonly bytes: Uint8Array;
  readonly columns: readonly ColumnStatistics[];
}

/** Turns a batch into one Parquet file. */
export interface ParquetEncoder {
  encode(batch: ColumnBatch, codec: Codec, timestampUnit?: TimestampUnit): EncodedParquet;
}
