import type { ColumnSpec } from '../core/schema.ts';

/** Parquet compression codecs the pipeline writes. */
export const CODECS = ['snappy', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

/** Column-oriented rows: one array per column of `columns`, all `rowCount` long. */
export interface ColumnBatch {
  readonly columns: readonly ColumnSpec[];
  readonly data: ReadonlyMap<string, readonly (string | number | null)[]>;
  readonly rowCount: number;
}

/** Turns a batch into the bytes of one Parquet file. */
export interface ParquetEncoder {
  encode(batch: ColumnBatch, codec: Codec): Uint8Array;
}
