import { zstdCompressSync } from 'node:zlib';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { Codec, ColumnValues } from '../ports/parquet.ts';
import type { Physical } from './parquet-schema.ts';

/**
 * The pages of the flat encoder: built one at a time in one reused buffer (definition levels,
 * then values), compressed and framed behind their Thrift header, and the PLAIN encoding of values.
 */

/** The values of a column the flat encoder writes: one number or string id a row. */
export type FlatValues = Extract<ColumnValues, { kind: 'strings' | 'numbers' }>;

/** Each codec's compressor, by our name. */
export const COMPRESS: Record<Codec, (page: Uint8Array) => Uint8Array> = {
  snappy: snappyCompress,
  zstd: (page) => zstdCompressSync(page),
};
/** Each codec's name in Parquet metadata. */
export const CODEC_NAME = { snappy: 'SNAPPY', zstd: 'ZSTD' } as const;

/** The page being built (reset for each page): one buffer for every page of every file, so a page costs no allocation. */
export const page = new ByteWriter(1 << 20);

/** The header of the page in `page`, given its sizes before and after compression. */
export type PageHeaderOf = (uncompressedSize: number, compressedSize: number) => Parameters<typeof writePageHeader>[1];

/** Empties `page` for the next page. */
export function resetPage(): void {
  page.index = 0;
  page.offset = 0;
}

/** Compresses the page built in `page` and writes it behind its header; returns its uncompressed size with the header. */
export function writePage(writer: ByteWriter, codec: Codec, header: PageHeaderOf): number {
  const body = page.getBytes();
  const compressed = COMPRESS[codec](body);
  const headerStart = writer.offset;
  writePageHeader(writer, header(body.byteLength, compressed.byteLength));
  const headerBytes = writer.offset - headerStart;
  writer.appendBytes(compressed);
  return headerBytes + body.byteLength;
}

/** Definition levels (1: value, 0: null) as RLE/bit-packed hybrid with their length; returns the nulls. */
export function writeDefinitionLevels(values: FlatValues, start: number, end: number): number {
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

/** The non-null numbers of rows [start, end): a view when there is no null, a copy without them otherwise. */
export function presentNumbers(values: Float64Array, start: number, end: number): Float64Array {
  let nulls = 0;
  for (let row = start; row < end; row++) if (Number.isNaN(values[row]!)) nulls++;
  if (nulls === 0) return values.subarray(start, end);
  const present = new Float64Array(end - start - nulls);
  let count = 0;
  for (let row = start; row < end; row++) if (!Number.isNaN(values[row]!)) present[count++] = values[row]!;
  return present;
}

/** PLAIN encoding: little-endian numbers of the column's width, booleans as bits, strings as length + UTF-8 bytes. */
export function writePlainValues(values: ArrayLike<string | number>, physical: Physical): void {
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
