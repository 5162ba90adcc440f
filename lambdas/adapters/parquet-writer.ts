import { zstdCompressSync } from 'node:zlib';
import type { ColumnChunk, Encoding, FileMetaData, SchemaElement, Statistics } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { ColumnSpec, ColumnType } from '../core/schema.ts';
import { grown } from '../core/typed-arrays.ts';
import type { Codec, ColumnBatch, ColumnValues, ParquetEncoder } from '../ports/parquet.ts';

type Physical = Required<Pick<SchemaElement, 'type'>> & Pick<SchemaElement, 'converted_type' | 'logical_type'>;

const PHYSICAL: Record<ColumnType, Physical> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  double: { type: 'DOUBLE' },
  int: { type: 'INT32' },
  bigint: { type: 'INT64' },
  boolean: { type: 'BOOLEAN' },
  date: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
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
 * (strings and repetitive numbers alike), DELTA_BINARY_PACKED for other 64-bit integers (offsets,
 * timestamps), plain values otherwise, and min/max statistics on every column chunk so engines
 * skip what a filter excludes. `hyparquet-writer` supplies the format's machinery (Thrift page
 * headers and footer, RLE/bit-packing, Snappy); values go from the typed arrays into pages, built
 * one at a time in a reused buffer, without a per-value object. ZSTD comes from Node's zlib.
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

// One page is built at a time, in this buffer (reset for each page).
const page = new ByteWriter(1 << 20);

function writeChunk(writer: ByteWriter, column: ColumnSpec, values: ColumnValues, rows: { start: number; end: number; pageRows: number }, codec: Codec) {
  const { start, end, pageRows } = rows;
  const physical = PHYSICAL[column.type];
  const chunkStart = writer.offset;
  const dictionary = values.kind === 'strings' ? stringDictionary(values, start, end) : numberDictionary(values.values, start, end, physical);
  const encodings = new Set<Encoding>(column.nullable ? ['RLE'] : []);
  let uncompressedBytes = 0;
  let dictionaryPageOffset: bigint | undefined;
  if (dictionary) {
    dictionaryPageOffset = BigInt(writer.offset);
    resetPage();
    writePlainValues(dictionary.entries, physical);
    uncompressedBytes += writePage(writer, codec, (size, compressedSize) => ({
      type: 'DICTIONARY_PAGE',
      uncompressed_page_size: size,
      compressed_page_size: compressedSize,
      dictionary_page_header: { num_values: dictionary.entries.length, encoding: 'PLAIN_DICTIONARY' },
    }));
  }
  const dataPageOffset = BigInt(writer.offset);
  let nulls = 0;
  for (let pageStart = start; pageStart < end; pageStart += pageRows) {
    const pageEnd = Math.min(end, pageStart + pageRows);
    resetPage();
    if (column.nullable) nulls += writeDefinitionLevels(values, pageStart, pageEnd);
    const encoding = dictionary ? writeDictionaryIds(dictionary, pageStart - start, pageEnd - start) : writeValues(values, pageStart, pageEnd, physical);
    encodings.add(encoding);
    uncompressedBytes += writePage(writer, codec, (size, compressedSize) => ({
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
      encodings: [...encodings],
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

function resetPage(): void {
  page.index = 0;
  page.offset = 0;
}

/** Compresses the page built in `page` and writes it behind its header; returns its uncompressed size with the header. */
function writePage(writer: ByteWriter, codec: Codec, header: PageHeaderOf): number {
  const body = page.getBytes();
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
  // Booleans pack into one bit a value: no dictionary beats that.
  if (physical.type === 'BOOLEAN') return undefined;
  const rows = end - start;
  const width = physical.type === 'INT32' ? 4 : 8;
  const limit = Math.min(rows / 2, MAX_DICTIONARY_BYTES / width);
  const distinct = new DistinctNumbers();
  const ids = new Int32Array(rows);
  for (let row = start; row < end; row++) {
    const value = values[row]!;
    if (Number.isNaN(value)) {
      ids[row - start] = -1;
      continue;
    }
    const known = distinct.size;
    ids[row - start] = distinct.idOf(value);
    // Too many distinct values, or nearly all unique in the first rows: not a dictionary, and cheaper to find out early.
    if (distinct.size > known && (known >= limit || (row - start >= SAMPLE_ROWS && known > (row - start) * 0.95))) return undefined;
  }
  return pays(distinct.size, distinct.size * width, rows) ? { entries: distinct.entries, ids } : undefined;
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/** Distinct doubles by their bits (so 0 and -0 stay apart), numbered in order of first sight. */
class DistinctNumbers {
  readonly entries: number[] = [];
  private keys = new Float64Array(512);
  private slots = new Int32Array(1024); // id + 1, 0 for an empty slot

  get size(): number {
    return this.entries.length;
  }

  idOf(value: number): number {
    const mask = this.slots.length - 1;
    bits[0] = value;
    const low = words[0]!;
    const high = words[1]!;
    for (let slot = hashWords(low, high) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return this.add(value, slot);
      bits[0] = this.keys[entry - 1]!;
      if (words[0] === low && words[1] === high) return entry - 1;
    }
  }

  private add(value: number, slot: number): number {
    const id = this.entries.length;
    this.entries.push(value);
    if (id === this.keys.length) this.keys = grown(this.keys, id + 1);
    this.keys[id] = value;
    this.slots[slot] = id + 1;
    if (2 * this.entries.length > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let id = 0; id < this.entries.length; id++) {
      bits[0] = this.keys[id]!;
      let slot = hashWords(words[0]!, words[1]!) & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = id + 1;
    }
  }
}

function hashWords(low: number, high: number): number {
  const mixed = Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
  return mixed ^ (mixed >>> 15);
}

// A dictionary pays when it holds at most half as many values as the rows and fits one dictionary page.
function pays(entries: number, bytes: number, rows: number): boolean {
  return entries <= rows / 2 && bytes <= MAX_DICTIONARY_BYTES;
}

/** Definition levels (1: value, 0: null) as RLE/bit-packed hybrid with their length; returns the nulls. */
function writeDefinitionLevels(values: ColumnValues, start: number, end: number): number {
  const levels = new Int32Array(end - start);
  let nulls = 0;
  for (let row = start; row < end; row++) {
    const present = values.kind === 'strings' ? values.indices[row]! >= 0 : !Number.isNaN(values.values[row]!);
    levels[row - start] = present ? 1 : 0;
    if (!present) nulls++;
  }
  const lengthAt = page.index;
  page.appendUint32(0);
  const length = writeRleBitPackedHybrid(page, levels, 1);
  page.view.setUint32(lengthAt, length, true);
  return nulls;
}

/** The non-null ids of dictionary rows [from, to) (relative to the chunk), bit-packed at the dictionary's width. */
function writeDictionaryIds(dictionary: Dictionary, from: number, to: number): Encoding {
  const present = new Int32Array(to - from);
  let count = 0;
  for (let i = from; i < to; i++) {
    const id = dictionary.ids[i]!;
    if (id >= 0) present[count++] = id;
  }
  const bitWidth = Math.max(1, Math.ceil(Math.log2(dictionary.entries.length)));
  page.appendUint8(bitWidth);
  writeRleBitPackedHybrid(page, present.subarray(0, count), bitWidth);
  return 'PLAIN_DICTIONARY';
}

/** The non-null values of rows [start, end) without a dictionary: 64-bit integers delta-encoded where they can be, plain otherwise. */
function writeValues(values: ColumnValues, start: number, end: number, physical: Physical): Encoding {
  if (values.kind === 'strings') {
    const present: string[] = [];
    for (let row = start; row < end; row++) if (values.indices[row]! >= 0) present.push(values.distinct[values.indices[row]!]!);
    writePlainValues(present, physical);
    return 'PLAIN';
  }
  const present = presentNumbers(values.values, start, end);
  if (physical.type === 'INT64') {
    const before = page.index;
    if (writeDeltaBinaryPacked(present)) return 'DELTA_BINARY_PACKED';
    page.index = page.offset = before;
  }
  writePlainValues(present, physical);
  return 'PLAIN';
}

function presentNumbers(values: Float64Array, start: number, end: number): Float64Array {
  let nulls = 0;
  for (let row = start; row < end; row++) if (Number.isNaN(values[row]!)) nulls++;
  if (nulls === 0) return values.subarray(start, end);
  const present = new Float64Array(end - start - nulls);
  let count = 0;
  for (let row = start; row < end; row++) if (!Number.isNaN(values[row]!)) present[count++] = values[row]!;
  return present;
}

/** PLAIN encoding: little-endian numbers of the column's width, booleans as bits, strings as length + UTF-8 bytes. */
function writePlainValues(values: ArrayLike<string | number>, physical: Physical): void {
  switch (physical.type) {
    case 'BYTE_ARRAY':
      for (let i = 0; i < values.length; i++) appendString(values[i] as string);
      return;
    case 'DOUBLE':
      page.appendBytes(new Uint8Array(Float64Array.from(values as ArrayLike<number>).buffer));
      return;
    case 'INT32':
      page.appendBytes(new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer));
      return;
    case 'BOOLEAN': {
      // One bit a value, least significant bit first.
      const packed = new Uint8Array(Math.ceil(values.length / 8));
      for (let i = 0; i < values.length; i++) if (values[i] === 1) packed[i >> 3] = packed[i >> 3]! | (1 << (i & 7));
      page.appendBytes(packed);
      return;
    }
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

// A Buffer over the page's memory, for writing UTF-8 in place (renewed when the page grows).
let pageText = Buffer.alloc(0);

/** A BYTE_ARRAY value: its UTF-8 length, then its UTF-8 bytes, encoded straight into the page. */
function appendString(text: string): void {
  page.ensure(4 + 3 * text.length);
  if (pageText.buffer !== page.buffer) pageText = Buffer.from(page.buffer);
  const length = pageText.write(text, page.index + 4);
  page.view.setUint32(page.index, length, true);
  page.index += 4 + length;
  page.offset += 4 + length;
}

const BLOCK_VALUES = 128;
const MINIBLOCKS = 4;
const MINIBLOCK_VALUES = BLOCK_VALUES / MINIBLOCKS;
/** Values and deltas up to 2^52 in magnitude keep every step below exact in doubles. */
const DELTA_LIMIT = 2 ** 52;
const deltas = new Float64Array(BLOCK_VALUES);
const widths = new Uint8Array(MINIBLOCKS);

/**
 * DELTA_BINARY_PACKED (blocks of 128 values in 4 miniblocks), for 64-bit integers: steady
 * sequences (offsets, timestamps in arrival order) shrink to a few bits a value. Returns false,
 * leaving a partial page, when a value or a block's spread is beyond what doubles and 32-bit
 * packing represent exactly; the caller writes the page plain instead.
 */
function writeDeltaBinaryPacked(values: Float64Array): boolean {
  const count = values.length;
  if (count === 0 || Math.abs(values[0]!) > DELTA_LIMIT) return false;
  page.appendVarInt(BLOCK_VALUES);
  page.appendVarInt(MINIBLOCKS);
  page.appendVarInt(count);
  appendZigZag(values[0]!);
  for (let first = 1; first < count; first += BLOCK_VALUES) {
    const size = Math.min(BLOCK_VALUES, count - first);
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < size; i++) {
      const value = values[first + i]!;
      const delta = value - values[first + i - 1]!;
      if (Math.abs(value) > DELTA_LIMIT || Math.abs(delta) > DELTA_LIMIT) return false;
      deltas[i] = delta;
      if (delta < min) min = delta;
    }
    appendZigZag(min);
    widths.fill(0);
    for (let m = 0; m * MINIBLOCK_VALUES < size; m++) {
      let max = 0;
      for (let i = m * MINIBLOCK_VALUES; i < Math.min(size, (m + 1) * MINIBLOCK_VALUES); i++) max = Math.max(max, deltas[i]! - min);
      if (max >= 4_294_967_296) return false;
      widths[m] = max === 0 ? 0 : 32 - Math.clz32(max);
    }
    for (const width of widths) page.appendUint8(width);
    for (let m = 0; m * MINIBLOCK_VALUES < size; m++) packMiniblock(m * MINIBLOCK_VALUES, size, min, widths[m]!);
  }
  return true;
}

/** Bit-packs the 32 adjusted deltas from `from` (zero past `size`) at `width` bits each, least significant bit first. */
function packMiniblock(from: number, size: number, min: number, width: number): void {
  let word = 0;
  let used = 0;
  for (let i = from; i < from + MINIBLOCK_VALUES; i++) {
    const value = i < size ? (deltas[i]! - min) >>> 0 : 0;
    word = (word | (value << used)) >>> 0;
    used += width;
    if (used >= 32) {
      page.appendUint32(word);
      used -= 32;
      word = used > 0 ? value >>> (width - used) : 0;
    }
  }
}

/** A zigzag varint of an integer up to 2^52 in magnitude. */
function appendZigZag(value: number): void {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= 128) {
    page.appendUint8((zigzag % 128) | 0x80);
    zigzag = Math.floor(zigzag / 128);
  }
  page.appendUint8(zigzag);
}

/** The distinct non-null strings of rows [start, end). */
function usedStrings(values: Extract<ColumnValues, { kind: 'strings' }>, start: number, end: number): string[] {
  const used = new Set<number>();
  for (let row = start; row < end; row++) if (values.indices[row]! >= 0) used.add(values.indices[row]!);
  return [...used].map((index) => values.distinct[index]!);
}

/** Chunk min/max (by UTF-8 bytes for strings, signed zero normalized for numbers) and null count. */
function statisticsOf(values: ColumnValues, dictionary: Dictionary | undefined, start: number, end: number, nulls: number): Statistics {
  let min: string | number | undefined;
  let max: string | number | undefined;
  if (values.kind === 'strings') {
    const used = dictionary ? (dictionary.entries as string[]) : usedStrings(values, start, end);
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
