import { zstdDecompressSync } from 'node:zlib';
import { parquetMetadata, parquetRead, type FileMetaData } from 'hyparquet';
import type { ColumnSpec } from '../core/schema.ts';
import { heldAsValue } from '../core/schema.ts';
import type { ColumnBatch, ColumnValues, NestedValue } from '../ports/parquet.ts';

/**
 * Parquet files read back into the `ColumnBatch` the encoder takes, so that files can be merged
 * without a value changing on the way: timestamps stay epoch milliseconds, dates days since 1970,
 * int64 values bigints inside nested values, and decimals their unscaled bigints (hyparquet would
 * turn a decimal into a double, which loses digits beyond 15: its annotation is taken off the
 * schema before the read, so the stored integer comes through).
 */

// Values as they stay in the files: no Date objects, no rounding.
const PARSERS = {
  timestampFromMilliseconds: (millis: bigint) => Number(millis),
  // An Iceberg table's files hold microseconds; the batch holds milliseconds, as the compactor's.
  timestampFromMicroseconds: (micros: bigint) => Number(micros / 1000n),
  dateFromDays: (days: number) => days,
};

// hyparquet decompresses Snappy itself; ZSTD, the other codec the pipeline writes, comes from Node's zlib as it does for the writer.
const COMPRESSORS = { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) };

/** A file's schema is not the table's: the message names the file and the column. */
export class ParquetReadError extends Error {
  override name = 'ParquetReadError';
}

/**
 * The rows of `files`, one after the other, as one batch of `columns` (a table's columns, in file
 * order). A column a file lacks (added to the table after the file was written) is null in its
 * rows; a column of the file the table does not have is not read.
 */
export async function readColumnBatch(files: readonly { name: string; body: Uint8Array }[], columns: readonly ColumnSpec[]): Promise<ColumnBatch> {
  const read = await Promise.all(files.map((file) => readColumns(file.name, file.body, columns)));
  const rowCount = read.reduce((sum, file) => sum + file.rows, 0);
  const values = columns.map((column, i) => concatenate(column, read.map((file) => ({ rows: file.rows, data: file.columns[i] })), rowCount));
  return { columns, values, rowCount };
}

/** What one file holds of each column: its decoded values in row order, or undefined when it lacks the column. */
interface FileColumns {
  readonly rows: number;
  readonly columns: readonly (ArrayLike<unknown> | undefined)[];
}

/** The names of the schema's top-level columns: a nested column's parts (a struct's `city`, a map's `key`) are not columns of the table. */
function topLevelNames(schema: FileMetaData['schema']): Set<string> {
  const names = new Set<string>();
  // Depth first: each element is followed by its num_children subtrees.
  const skip = (index: number): number => {
    let next = index + 1;
    for (let child = 0; child < (schema[index]!.num_children ?? 0); child++) next = skip(next);
    return next;
  };
  for (let index = 1; index < schema.length; index = skip(index)) names.add(schema[index]!.name);
  return names;
}

async function readColumns(name: string, body: Uint8Array, columns: readonly ColumnSpec[]): Promise<FileColumns> {
  const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(buffer);
  } catch (error) {
    throw new ParquetReadError(`${name} is not a Parquet file (${(error as Error).message})`);
  }
  const present = topLevelNames(metadata.schema);
  const wanted = columns.filter((column) => present.has(column.name)).map((column) => column.name);
  const chunks = new Map<string, { rowStart: number; data: ArrayLike<unknown> }[]>();
  await parquetRead({
    file: buffer,
    metadata: withoutDecimalAnnotations(metadata),
    columns: wanted,
    parsers: PARSERS,
    compressors: COMPRESSORS,
    onChunk: ({ columnName, columnData, rowStart }) => {
      const list = chunks.get(columnName) ?? [];
      list.push({ rowStart, data: columnData });
      chunks.set(columnName, list);
    },
  });
  const rows = Number(metadata.num_rows);
  return { rows, columns: columns.map((column) => (present.has(column.name) ? joined(name, column.name, chunks.get(column.name) ?? [], rows) : undefined)) };
}

// A column's chunks (one per row group) in row order, as one list of `rows` values.
function joined(file: string, column: string, chunks: { rowStart: number; data: ArrayLike<unknown> }[], rows: number): ArrayLike<unknown> {
  if (chunks.length === 1 && chunks[0]!.rowStart === 0 && chunks[0]!.data.length === rows) return chunks[0]!.data;
  const values = new Array<unknown>(rows);
  let filled = 0;
  for (const { rowStart, data } of chunks.sort((a, b) => a.rowStart - b.rowStart)) {
    for (let i = 0; i < data.length && rowStart + i < rows; i++) values[rowStart + i] = data[i];
    filled += data.length;
  }
  if (filled !== rows) throw new ParquetReadError(`${file}: column ${column} holds ${filled} values for ${rows} rows`);
  return values;
}

// DECIMAL columns read as the integers they are stored as (INT32, INT64 or two's-complement bytes).
function withoutDecimalAnnotations(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((element) => {
      if (element.converted_type !== 'DECIMAL' && element.logical_type?.type !== 'DECIMAL') return element;
      const { converted_type: _converted, logical_type: _logical, ...plain } = element;
      return plain;
    }),
  };
}

function concatenate(column: ColumnSpec, parts: readonly { rows: number; data: ArrayLike<unknown> | undefined }[], rowCount: number): ColumnValues {
  if (column.type === 'string') {
    const ids = new Map<string, number>();
    const indices = new Int32Array(rowCount);
    let at = 0;
    for (const { rows, data } of parts) {
      for (let i = 0; i < rows; i++, at++) {
        const value = data?.[i];
        if (value === null || value === undefined) {
          indices[at] = -1;
          continue;
        }
        let id = ids.get(value as string);
        if (id === undefined) ids.set(value as string, (id = ids.size));
        indices[at] = id;
      }
    }
    return { kind: 'strings', distinct: [...ids.keys()], indices };
  }
  if (heldAsValue(column.type)) {
    const values: NestedValue[] = [];
    for (const { rows, data } of parts) for (let i = 0; i < rows; i++) values.push(nestedValue(column, data?.[i]));
    return { kind: 'values', values };
  }
  const values = new Float64Array(rowCount);
  let at = 0;
  for (const { rows, data } of parts) for (let i = 0; i < rows; i++, at++) values[at] = scalarNumber(data?.[i]);
  return { kind: 'numbers', values };
}

// A flat column's slot: NaN for null, booleans as 0/1, int64s (bigints) as the numbers the compactor wrote.
function scalarNumber(value: unknown): number {
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(value);
}

/** A value of a decimal or nested column in the encoder's form (see `NestedValue`). */
function nestedValue(spec: ColumnSpec, value: unknown): NestedValue {
  if (value === null || value === undefined) return null;
  switch (spec.type) {
    case 'decimal':
      return unscaled(value);
    case 'struct': {
      const object = value as Record<string, unknown>;
      return Object.fromEntries(spec.fields!.map((field) => [field.name, nestedValue(field, object[field.name])]));
    }
    case 'array':
      return (value as unknown[]).map((item) => nestedValue(spec.items!, item));
    case 'map':
      // hyparquet gives a map as an object; its keys come back in the order the compactor wrote them from a parsed JSON object.
      return Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, nestedValue(spec.values!, item)]);
    case 'bigint':
      return BigInt(value as bigint | number);
    default:
      return value as NestedValue;
  }
}

// The unscaled integer of a decimal: INT32 and INT64 come as numbers and bigints, wider ones as big-endian two's complement.
function unscaled(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  const bytes = value as Uint8Array;
  let result = 0n;
  for (const byte of bytes) result = (result << 8n) | BigInt(byte);
  return bytes.length > 0 && bytes[0]! >= 0x80 ? result - (1n << BigInt(bytes.length * 8)) : result;
}
