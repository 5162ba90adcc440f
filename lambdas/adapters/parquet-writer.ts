import packageJson from '../../package.json' with { type: 'json' };
import type { ColumnChunk, Encoding, FileMetaData } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { schemaPathResolver } from 'hyparquet-writer/src/schema.js';
import type { ColumnSpec } from '../core/schema.ts';
import type { Codec, ColumnBatch, ColumnValues, EncodedParquet, NestedValue, ParquetEncoder, TimestampUnit } from '../ports/parquet.ts';
import { writeDeltaBinaryPacked } from './parquet-delta.ts';
import { numberDictionary, stringDictionary, writeDictionaryIds } from './parquet-dictionary.ts';
import { writeNestedColumn } from './parquet-nested.ts';
import { CODEC_NAME, page, presentNumbers, resetPage, writeDefinitionLevels, writePage, writePlainValues, type FlatValues } from './parquet-page.ts';
import { physicalOf, schemaOf, type Physical } from './parquet-schema.ts';
import { fileStatistics, statisticsOf } from './parquet-statistics.ts';

// In the form parquet-mr parses (`<app> version <semver> (build <id>)`), so its tools trust the statistics.
const CREATED_BY = `streamlake version ${packageJson.version} (build none)`;

const MAGIC = 0x31524150; // "PAR1", little-endian

/** How rows are cut into row groups and pages. */
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
 * skip what a filter excludes; the file's statistics by column come back with its bytes, for a
 * table format's metrics. `hyparquet-writer` supplies the format's machinery (Thrift page
 * headers and footer, RLE/bit-packing, Snappy); values go from the typed arrays into pages, built
 * one at a time in a reused buffer, without a per-value object. ZSTD comes from Node's zlib.
 *
 * Decimal and nested columns (structs, LISTs, MAPs) are written by hyparquet-writer's own column
 * writer, levels and all (`parquet-nested.ts`), into the same file: a table with one such column
 * keeps this encoder for all its others.
 */
export function parquetEncoder(layout: ParquetLayout = {}): ParquetEncoder {
  const { rowGroupRows = 1_000_000, pageRows = 131_072 } = layout;
  return {
    encode(input: ColumnBatch, codec: Codec, timestampUnit: TimestampUnit = 'millis'): EncodedParquet {
      const batch = timestampUnit === 'micros' ? inMicroseconds(input) : input;
      const writer = new ByteWriter();
      writer.appendUint32(MAGIC);
      const schema = schemaOf(batch.columns, timestampUnit);
      const pathOf = schemaPathResolver(schema);
      const rowGroups: FileMetaData['row_groups'] = [];
      for (let start = 0; start < batch.rowCount || start === 0; start += rowGroupRows) {
        const end = Math.min(batch.rowCount, start + rowGroupRows);
        const groupStart = writer.offset;
        let uncompressed = 0;
        const columns = batch.columns.flatMap((column, i) => {
          const values = batch.values[i]!;
          if (values.kind === 'values') {
            const nested = writeNestedColumn(writer, pathOf([column.name]), values.values.slice(start, end), codec);
            uncompressed += nested.uncompressedBytes;
            return nested.chunks;
          }
          const chunk = writeChunk(writer, column, values, { start, end, pageRows }, codec, timestampUnit);
          uncompressed += chunk.uncompressedBytes;
          return [chunk.chunk];
        });
        rowGroups.push({
          columns,
          num_rows: BigInt(end - start),
          total_byte_size: BigInt(uncompressed),
          file_offset: BigInt(groupStart),
          total_compressed_size: BigInt(writer.offset - groupStart),
        });
      }
      writeMetadata(writer, { version: 1, schema, num_rows: BigInt(batch.rowCount), row_groups: rowGroups, created_by: CREATED_BY, metadata_length: 0 });
      writer.appendUint32(MAGIC);
      return { bytes: writer.getBytes(), columns: fileStatistics(rowGroups) };
    },
  };
}

function writeChunk(writer: ByteWriter, column: ColumnSpec, values: FlatValues, rows: { start: number; end: number; pageRows: number }, codec: Codec, timestampUnit: TimestampUnit) {
  const { start, end, pageRows } = rows;
  const physical = physicalOf(column, timestampUnit);
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

/** The non-null values of rows [start, end) without a dictionary: 64-bit integers delta-encoded where they can be, plain otherwise. */
function writeValues(values: FlatValues, start: number, end: number, physical: Physical): Encoding {
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

/**
 * The batch with every timestamp, nested ones included, in microseconds: epoch milliseconds times
 * 1000 stay exact integers in a double (below 2^53 until the year 2255).
 */
function inMicroseconds(batch: ColumnBatch): ColumnBatch {
  if (!batch.columns.some(holdsTimestamp)) return batch;
  return { ...batch, values: batch.values.map((values, i) => (holdsTimestamp(batch.columns[i]!) ? scaledColumn(values, batch.columns[i]!) : values)) };
}

function holdsTimestamp(column: ColumnSpec): boolean {
  return column.type === 'timestamp' || [...(column.fields ?? []), ...(column.items ? [column.items] : []), ...(column.values ? [column.values] : [])].some(holdsTimestamp);
}

function scaledColumn(values: ColumnValues, column: ColumnSpec): ColumnValues {
  if (values.kind === 'numbers') return { kind: 'numbers', values: inMicros(values.values) };
  if (values.kind === 'values') return { kind: 'values', values: values.values.map((value) => scaledValue(value, column)) };
  return values;
}

// A plain loop: a typed array's `map` calls its callback per value, several times slower on a million rows.
function inMicros(millis: Float64Array): Float64Array {
  const micros = new Float64Array(millis.length);
  for (let i = 0; i < millis.length; i++) micros[i] = millis[i]! * 1000;
  return micros;
}

function scaledValue(value: NestedValue, column: ColumnSpec): NestedValue {
  if (value === null) return null;
  switch (column.type) {
    case 'timestamp':
      return (value as number) * 1000;
    case 'struct': {
      const struct = value as Record<string, NestedValue>;
      return Object.fromEntries(column.fields!.map((field) => [field.name, holdsTimestamp(field) ? scaledValue(struct[field.name] ?? null, field) : (struct[field.name] ?? null)]));
    }
    case 'array':
      return (value as readonly NestedValue[]).map((item) => scaledValue(item, column.items!));
    case 'map':
      return (value as readonly (readonly [string, NestedValue])[]).map(([key, item]) => [key, scaledValue(item, column.values!)]);
    default:
      return value;
  }
}
