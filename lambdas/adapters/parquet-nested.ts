import type { ColumnChunk, SchemaTree } from 'hyparquet';
import type { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeColumn } from 'hyparquet-writer/src/column.js';
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js';
import type { Codec, NestedValue } from '../ports/parquet.ts';
import { CODEC_NAME, COMPRESS } from './parquet-page.ts';

/** Target bytes of a data page, as the flat encoder's pages of 8-byte values. */
const PAGE_BYTES = 1_048_576;
const COMPRESSORS = { SNAPPY: COMPRESS.snappy, ZSTD: COMPRESS.zstd };

/**
 * Writes the column chunks of one decimal or nested column for `rows` (one value a row, null for
 * null) with hyparquet-writer's own machinery: `encodeNestedValues` (Dremel definition and
 * repetition levels, struct, LIST and MAP aware) and `writeColumn` (dictionary when it pays,
 * v2 data pages, min/max statistics per leaf). `column` is the column's path in the file schema,
 * root first; a nested column is stored as one chunk per leaf field, in schema order.
 */
export function writeNestedColumn(writer: ByteWriter, column: readonly SchemaTree[], rows: readonly NestedValue[], codec: Codec): { chunks: ColumnChunk[]; uncompressedBytes: number } {
  const chunks: ColumnChunk[] = [];
  let uncompressedBytes = 0;
  for (const leaf of leavesOf([...column])) {
    const schemaPath = leaf.map((node) => node.element);
    const { chunk } = writeColumn({
      writer,
      column: {
        columnName: schemaPath.slice(1).map((element) => element.name).join('.'),
        element: schemaPath.at(-1)!,
        schemaPath,
        codec: CODEC_NAME[codec],
        compressors: COMPRESSORS,
        stats: true,
        pageSize: PAGE_BYTES,
        columnIndex: false,
        offsetIndex: false,
      },
      pageData: encodeNestedValues(leaf, rows as NestedValue[]),
    });
    chunks.push(chunk);
    uncompressedBytes += Number(chunk.meta_data!.total_uncompressed_size);
  }
  return { chunks, uncompressedBytes };
}

/** The paths from the root to every leaf under the last node of `path`, in schema order. */
function leavesOf(path: SchemaTree[]): SchemaTree[][] {
  const node = path.at(-1)!;
  return node.children.length === 0 ? [path] : node.children.flatMap((child) => leavesOf([...path, child]));
}
