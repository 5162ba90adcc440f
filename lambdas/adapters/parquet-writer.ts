import { zstdCompressSync } from 'node:zlib';
import type { ColumnChunk, Encoding, FileMetaData, SchemaElement, Statistics } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { ColumnSpec, ColumnType } from '../core/schema.ts';
import type { Codec, ColumnBatch, ColumnValues, ParquetEncoder } from '../ports/parquet.ts';

type Physical = Required<Pick<SchemaElement, 'type'>> & Pick<SchemaElement, 'converted_type' | 'logical_type'>;

const PHYSICAL: Record<ColumnType, Physical> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  double: { type: 'DOUBLE' },
  int: { type: 'INT32' },
  bigint: { type: 'INT64' },
  // Legacy TIMESTAMP_MILLIS: Athena (Trino) and DuckDB both read it as a plain `timestamp`.
  timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
};

const MAGIC = 0x31524150; // "PAR1", little-endian
/** The largest dictionary kept, in plain-encoded bytes (parquet-mr's default dictionary page size). */
const MAX_DICTIONARY_BYTES = 1_048_576;

/** Rows after which a numeric column whose values were nearly all distinct is written plain without looking further. */
const SAMPLE_ROWS = 1_024;

const COMPRESS: Record<Codec, (page: Uint8Array) => Uint8Array> = {
  snappy: snappyCompress,
  zstd: (page) => zstdCompressSync(page),
};
const CODEC_NAME = { snappy: 'SNAPPY', zstd: 'ZSTD' } as const;
const utf8 = new TextEncoder();

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

export interface ParquetLayout {
  /** Rows per row group. @default 1_000_000 */
  readonly rowGroupRows?: number;
  /** Rows per data page. @default 131_072 (1 MiB of 8-byte values, the usual page size) */
  readonly pageRows?: number;
}

/**
 * Parquet from typed columns, written the way DuckDB and parquet-mr write flat tables: one row
 * group per million rows, v1 data pages, a dictionary wherever it at most halves the column
 * (strings and repetitive numbers alike), plain values otherwise, and min/max statistics on every
 * column chunk so engines skip what a filter excludes. `hyparquet-writer` supplies the format's
 * machinery (Thrift page headers and footer, RLE/bit-packing, Snappy); values go from the typed
 * arrays into pages without a per-value object. ZSTD comes from Node's zlib.
 */
export function parquetEncoder(layout: ParquetLayout = {}): ParquetEncoder {
  const { rowGroupRows = 1_000_000, pageRows = 131_072 } = layout;
  return {
    encode(batch: ColumnBatch, codec: Codec): Uint8Array {
      const writer = new ByteWriter();
      writer.appendUint32(MAGIC);
      const schema = schemaOf(batch.columns);
      const rowGroups: FileMetaData['row_groups'] = [];
      for (let start = 0; start < batch.rowCount || start === 0; start += rowGroupRows) {
        const end = Math.min(batch.rowCount, start + rowGroupRows);
        const groupStart = writer.offset;
        let uncompressed = 0;
        const columns = batch.columns.map((column, i) => {
          const chunk = writeChunk(writer, column, batch.values[i]!, { start, end, pageRows }, codec);
          uncompressed += chunk.uncompressedBytes;
          return chunk.chunk;
        });
        rowGroups.push({
          columns,
          num_rows: BigInt(end - start),
          total_byte_size: BigInt(uncompressed),
          file_offset: BigInt(groupStart),
          total_compressed_size: BigInt(writer.offset - groupStart),
        });
      }
      writeMetadata(writer, { version: 1, schema, num_rows: BigInt(batch.rowCount), row_groups: rowGroups, created_by: 'streamlake', metadata_length: 0 });
      writer.appendUint32(MAGIC);
      return writer.getBytes();
    },
  };
}

/** A column's rows in [start, end) as dictionary ids (-1 for null) over its distinct values, if a dictionary pays. */
interface Dictionary {
  readonly entries: (string | number)[];
  readonly ids: Int32Array;
}

function writeChunk(writer: ByteWriter, column: ColumnSpec, values: ColumnValues, rows: { start: number; end: number; pageRows: number }, codec: Codec) {
  const { start, end, pageRows } = rows;
  const physical = PHYSICAL[column.type];
  const chunkStart = writer.offset;
  const dictionary = values.kind === 'strings' ? stringDictionary(values, start, end) : numberDictionary(values.values, start, end, physical);
  let uncompressedBytes = 0;
  let dictionaryPageOffset: bigint | undefined;
  if (dictionary) {
    dictionaryPageOffset = BigInt(writer.offset);
    const page = new ByteWriter();
    writePlainValues(page, dictionary.entries, physical);
    uncompressedBytes += writePage(writer, page.getBytes(), codec, (size, compressedSize) => ({
      type: 'DICTIONARY_PAGE',
      uncompressed_page_size: size,
      compressed_page_size: compressedSize,
      dictionary_page_header: { num_values: dictionary.entries.length, encoding: 'PLAIN_DICTIONARY' },
    }));
  }
  const dataPageOffset = BigInt(writer.offset);
  const encoding: Encoding = dictionary ? 'PLAIN_DICTIONARY' : 'PLAIN';
  let nulls = 0;
  for (let pageStart = start; pageStart < end; pageStart += pageRows) {
    const pageEnd = Math.min(end, pageStart + pageRows);
    const page = new ByteWriter();
    if (column.nullable) nulls += writeDefinitionLevels(page, values, pageStart, pageEnd);
    if (dictionary) writeDictionaryIds(page, dictionary, pageStart - start, pageEnd - start);
    else writePlainValues(page, presentValues(values, pageStart, pageEnd), physical);
    uncompressedBytes += writePage(writer, page.getBytes(), codec, (size, compressedSize) => ({
      type: 'DATA_PAGE',
      uncompressed_page_size: size,
      compressed_page_size: compressedSize,
      data_page_header: { num_values: pageEnd - pageStart, encoding, definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
    }));
  }
  const chunk: ColumnChunk = {
    file_offset: BigInt(chunkStart),
    meta_data: {
      type: physical.type,
      encodings: column.nullable ? [encoding, 'RLE'] : [encoding],
      path_in_schema: [column.name],
      codec: CODEC_NAME[codec],
      num_values: BigInt(end - start),
      total_uncompressed_size: BigInt(uncompressedBytes),
      total_compressed_size: BigInt(writer.offset - chunkStart),
      data_page_offset: dataPageOffset,
      dictionary_page_offset: dictionaryPageOffset,
      statistics: statisticsOf(values, dictionary, start, end, nulls),
    },
  };
  return { chunk, uncompressedBytes };
}

type PageHeaderOf = (uncompressedSize: number, compressedSize: number) => Parameters<typeof writePageHeader>[1];

/** Compresses a page and writes it behind its header; returns its uncompressed size with the header. */
function writePage(writer: ByteWriter, body: Uint8Array, codec: Codec, header: PageHeaderOf): number {
  const compressed = COMPRESS[codec](body);
  const headerStart = writer.offset;
  writePageHeader(writer, header(body.byteLength, compressed.byteLength));
  const headerBytes = writer.offset - headerStart;
  writer.appendBytes(compressed);
  return headerBytes + body.byteLength;
}

function stringDictionary(values: Extract<ColumnValues, { kind: 'strings' }>, start: number, end: number): Dictionary | undefined {
  // Renumber the distinct values in order of first use, so a row group's dictionary holds only its own.
  const local = new Int32Array(values.distinct.length).fill(-1);
  const entries: string[] = [];
  const ids = new Int32Array(end - start);
  let bytes = 0;
  for (let row = start; row < end; row++) {
    const index = values.indices[row]!;
    if (index < 0) {
      ids[row - start] = -1;
      continue;
    }
    let id = local[index]!;
    if (id < 0) {
      id = local[index] = entries.length;
      const entry = values.distinct[index]!;
      entries.push(entry);
      bytes += 4 + Buffer.byteLength(entry);
    }
    ids[row - start] = id;
  }
  return pays(entries.length, bytes, end - start) ? { entries, ids } : undefined;
}

function numberDictionary(values: Float64Array, start: number, end: number, physical: Physical): Dictionary | undefined {
  const rows = end - start;
  const width = physical.type === 'INT32' ? 4 : 8;
  const limit = Math.min(rows / 2, MAX_DICTIONARY_BYTES / width);
  const positions = new Map<number, number>();
  const entries: number[] = [];
  const ids = new Int32Array(rows);
  for (let row = start; row < end; row++) {
    const value = values[row]!;
    if (Number.isNaN(value)) {
      ids[row - start] = -1;
      continue;
    }
    let id = positions.get(value);
    if (id === undefined) {
      // Too many distinct values, or nearly all unique in the first rows: plain is smaller, and cheaper to find out early.
      if (entries.length >= limit || (row - start >= SAMPLE_ROWS && entries.length > (row - start) * 0.95)) return undefined;
      id = entries.length;
      positions.set(value, id);
      entries.push(value);
    }
    ids[row - start] = id;
  }
  return pays(entries.length, entries.length * width, rows) ? { entries, ids } : undefined;
}

// A dictionary pays when it holds at most half as many values as the rows and fits one dictionary page.
function pays(entries: number, bytes: number, rows: number): boolean {
  return entries <= rows / 2 && bytes <= MAX_DICTIONARY_BYTES;
}

/** Definition levels (1: value, 0: null) as RLE/bit-packed hybrid with their length; returns the nulls. */
function writeDefinitionLevels(page: ByteWriter, values: ColumnValues, start: number, end: number): number {
  const levels = new Int32Array(end - start);
  let nulls = 0;
  for (let row = start; row < end; row++) {
    const present = values.kind === 'strings' ? values.indices[row]! >= 0 : !Number.isNaN(values.values[row]!);
    levels[row - start] = present ? 1 : 0;
    if (!present) nulls++;
  }
  const levelWriter = new ByteWriter();
  writeRleBitPackedHybrid(levelWriter, levels, 1);
  page.appendUint32(levelWriter.offset);
  page.appendBytes(levelWriter.getBytes());
  return nulls;
}

/** The non-null ids of dictionary rows [from, to) (relative to the chunk), bit-packed at the dictionary's width. */
function writeDictionaryIds(page: ByteWriter, dictionary: Dictionary, from: number, to: number): void {
  const present = new Int32Array(to - from);
  let count = 0;
  for (let i = from; i < to; i++) {
    const id = dictionary.ids[i]!;
    if (id >= 0) present[count++] = id;
  }
  const bitWidth = Math.max(1, Math.ceil(Math.log2(dictionary.entries.length)));
  page.appendUint8(bitWidth);
  writeRleBitPackedHybrid(page, present.subarray(0, count), bitWidth);
}

/** The non-null values of rows [start, end): numbers as they are, strings by their index into `distinct`. */
function presentValues(values: ColumnValues, start: number, end: number): (string | number)[] {
  const present: (string | number)[] = [];
  for (let row = start; row < end; row++) {
    if (values.kind === 'strings') {
      const index = values.indices[row]!;
      if (index >= 0) present.push(values.distinct[index]!);
    } else if (!Number.isNaN(values.values[row]!)) {
      present.push(values.values[row]!);
    }
  }
  return present;
}

/** PLAIN encoding: little-endian numbers of the column's width, strings as length + UTF-8 bytes. */
function writePlainValues(page: ByteWriter, values: readonly (string | number)[], physical: Physical): void {
  switch (physical.type) {
    case 'BYTE_ARRAY':
      for (const value of values) {
        const bytes = utf8.encode(value as string);
        page.appendUint32(bytes.byteLength);
        page.appendBytes(bytes);
      }
      return;
    case 'DOUBLE':
      page.appendBytes(new Uint8Array(Float64Array.from(values as number[]).buffer));
      return;
    case 'INT32':
      page.appendBytes(new Uint8Array(Int32Array.from(values as number[]).buffer));
      return;
    default: {
      // INT64 from exact integers (|n| < 2^53): low and high 32-bit words, two's complement.
      const words = new Uint32Array(values.length * 2);
      for (let i = 0; i < values.length; i++) {
        const value = values[i] as number;
        const high = Math.floor(value / 4_294_967_296);
        words[2 * i] = value - high * 4_294_967_296;
        words[2 * i + 1] = high;
      }
      page.appendBytes(new Uint8Array(words.buffer));
    }
  }
}

/** Chunk min/max (by UTF-8 bytes for strings, signed zero normalized for numbers) and null count. */
function statisticsOf(values: ColumnValues, dictionary: Dictionary | undefined, start: number, end: number, nulls: number): Statistics {
  let min: string | number | undefined;
  let max: string | number | undefined;
  if (values.kind === 'strings') {
    const used = dictionary ? (dictionary.entries as string[]) : [...new Set(presentValues(values, start, end) as string[])];
    const bytes = used.map((value) => Buffer.from(value));
    let minAt = -1;
    let maxAt = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (minAt < 0 || Buffer.compare(bytes[i]!, bytes[minAt]!) < 0) minAt = i;
      if (maxAt < 0 || Buffer.compare(bytes[i]!, bytes[maxAt]!) > 0) maxAt = i;
    }
    min = used[minAt];
    max = used[maxAt];
  } else {
    for (let row = start; row < end; row++) {
      const value = values.values[row]!;
      if (Number.isNaN(value)) continue;
      if (min === undefined || value < (min as number)) min = value;
      if (max === undefined || value > (max as number)) max = value;
    }
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return { min_value: min, max_value: max, null_count: BigInt(nulls) };
}
