import type { ColumnSpec } from '../core/schema.ts';

/** Parquet compression codecs the pipeline writes. */
export const CODECS = ['snappy', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

/**
 * The values of one column, typed so no row needs an object of its own:
 * strings as indices into the distinct values seen (-1 for null), numbers in a Float64Array
 * (NaN for null: the decoder never admits NaN, so it is free to mark a missing value).
 */
export type ColumnValues =
  | { readonly kind: 'strings'; readonly distinct: readonly string[]; readonly indices: Int32Array }
  | { readonly kind: 'numbers'; readonly values: Float64Array };

/** Column-oriented rows: one `ColumnValues` per entry of `columns`, in that order, each `rowCount` long. */
export interface ColumnBatch {
  readonly columns: readonly ColumnSpec[];
  readonly values: readonly ColumnValues[];
  readonly rowCount: number;
}

/** Turns a batch into the bytes of one Parquet file. */
export interface ParquetEncoder {
  encode(batch: ColumnBatch, codec: Codec): Uint8Array;
}
