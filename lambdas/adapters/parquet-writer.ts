import { zstdCompressSync } from 'node:zlib';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import type { ColumnSpec, ColumnType } from '../core/schema.ts';
import type { Codec, ColumnBatch, ParquetEncoder } from '../ports/parquet.ts';

const PHYSICAL: Record<ColumnType, Pick<SchemaElement, 'type' | 'converted_type' | 'logical_type'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  double: { type: 'DOUBLE' },
  int: { type: 'INT32' },
  bigint: { type: 'INT64' },
  // Legacy TIMESTAMP_MILLIS: Athena (Trino) and DuckDB both read it as a plain `timestamp`.
  timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
};

function schemaOf(columns: readonly ColumnSpec[]): SchemaElement[] {
  return [
    { name: 'root', num_children: columns.length },
    ...columns.map((column) => ({
      name: column.name,
      repetition_type: column.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const),
      ...PHYSICAL[column.type],
    })),
  ];
}

function physicalValues(column: ColumnSpec, values: readonly (string | number | null)[]): ColumnSource['data'] {
  if (column.type === 'bigint' && !column.nullable) return BigInt64Array.from(values as number[], BigInt);
  return values as ColumnSource['data'];
}

/**
 * Parquet through `hyparquet-writer` (pure JS, small bundle): Snappy built in, ZSTD from Node's zlib.
 * Low-cardinality strings are dictionary-encoded (the writer keeps a dictionary wherever it at
 * least halves the column) and every column chunk carries min/max statistics.
 */
export function hyparquetEncoder(): ParquetEncoder {
  return {
    encode(batch: ColumnBatch, codec: Codec): Uint8Array {
      const buffer = parquetWriteBuffer({
        schema: schemaOf(batch.columns),
        columnData: batch.columns.map((column) => ({
          name: column.name,
          data: physicalValues(column, batch.data.get(column.name) ?? []),
          nullable: column.nullable,
        })),
        codec: codec === 'zstd' ? 'ZSTD' : 'SNAPPY',
        compressors: { ZSTD: (input: Uint8Array) => zstdCompressSync(input) },
        statistics: true,
        rowGroupSize: 1_000_000,
        createdBy: 'streamlake',
      });
      return new Uint8Array(buffer);
    },
  };
}
