import { randomBytes } from 'node:crypto';
import avro from 'avsc';
import type { IcebergSchema, PartitionSpec } from '../core/iceberg-schema.ts';
import type { SnapshotId } from '../core/iceberg-metadata.ts';
import type { DataFileMetrics } from '../core/iceberg-metrics.ts';
import type { PartitionBy } from '../core/table-declaration.ts';

/**
 * Iceberg's manifests and manifest lists (format v2): Avro object container files, written and
 * read with avsc. The schemas follow the Iceberg spec, field ids included, which readers match
 * fields by.
 */

/** A data file as a manifest lists it. */
export interface DataFile {
  /** Absolute URI (`s3://…` or `file:///…`). */
  readonly path: string;
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  /** The partition value: hours or days since 1970 (the spec's one field). */
  readonly partition: number;
  /** Its column metrics; absent for files listed before streamlake wrote them. */
  readonly metrics?: DataFileMetrics;
}

/** Whether a manifest entry's file was in the table before its snapshot, added by it, or removed by it. */
export const EntryStatus = { Existing: 0, Added: 1, Deleted: 2 } as const;
export type EntryStatus = (typeof EntryStatus)[keyof typeof EntryStatus];

/** An entry of a manifest. Added entries leave their sequence numbers null: they inherit the snapshot's. */
export interface ManifestEntry {
  readonly status: EntryStatus;
  readonly snapshotId: SnapshotId | null;
  readonly sequenceNumber: number | null;
  readonly fileSequenceNumber: number | null;
  readonly file: DataFile;
}

/** A manifest as a manifest list describes it. */
export interface ManifestFile {
  readonly path: string;
  /** 0: data files (all streamlake writes); 1: delete files, which {@link decodeManifestList} refuses. @default 0 */
  readonly content?: 0 | 1;
  readonly length: number;
  readonly specId: number;
  readonly sequenceNumber: number;
  readonly minSequenceNumber: number;
  readonly addedSnapshotId: SnapshotId;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  /** The lowest and highest partition value among its files; absent when it lists none. */
  readonly partitionRange?: readonly [number, number];
}

// Avro longs as numbers while a double holds them exactly, as bigints beyond (snapshot ids of other writers).
const LONG = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => {
    const value = buffer.readBigInt64LE();
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  },
  toBuffer: (value: number | bigint) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(value));
    return buffer;
  },
  fromJSON: (value: number | bigint) => value,
  toJSON: (value: number | bigint) => Number(value),
  isValid: (value: unknown) => typeof value === 'bigint' || Number.isSafeInteger(value),
  compare: (a: number | bigint, b: number | bigint) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0),
});

// Built once per schema: every manifest of a table has the same one, and building a type is costly.
const TYPES = new Map<string, avro.Type>();

function typeOf(schema: object): avro.Type {
  const text = JSON.stringify(schema);
  let type = TYPES.get(text);
  if (!type) TYPES.set(text, (type = avro.Type.forSchema(schema as avro.Schema, { registry: { long: LONG }, wrapUnions: false })));
  return type;
}

const optional = (type: unknown) => ['null', type];

function intMap(name: string, id: number, keyId: number, valueId: number, value: 'long' | 'bytes') {
  return {
    name, type: optional({ type: 'array', logicalType: 'map', items: { type: 'record', name: `k${keyId}_v${valueId}`, fields: [{ name: 'key', type: 'int', 'field-id': keyId }, { name: 'value', type: value, 'field-id': valueId }] } }),
    default: null, 'field-id': id,
  };
}

function partitionFieldType(partitionBy: PartitionBy): unknown {
  // The day transform's values are dates (days since 1970); the hour transform's plain ints.
  return partitionBy === 'day' ? { type: 'int', logicalType: 'date' } : 'int';
}

function manifestEntrySchema(spec: PartitionSpec, partitionBy: PartitionBy): object {
  const partition = {
    type: 'record', name: 'r102',
    fields: spec.fields.map((field) => ({ name: field.name, type: optional(partitionFieldType(partitionBy)), default: null, 'field-id': field['field-id'] })),
  };
  return {
    type: 'record', name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file', 'field-id': 2,
        type: {
          type: 'record', name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partition, 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            intMap('column_sizes', 108, 117, 118, 'long'),
            intMap('value_counts', 109, 119, 120, 'long'),
            intMap('null_value_counts', 110, 121, 122, 'long'),
            intMap('nan_value_counts', 137, 138, 139, 'long'),
            intMap('lower_bounds', 125, 126, 127, 'bytes'),
            intMap('upper_bounds', 128, 129, 130, 'bytes'),
            { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 131 },
            { name: 'split_offsets', type: optional({ type: 'array', items: 'long', 'element-id': 133 }), default: null, 'field-id': 132 },
            { name: 'equality_ids', type: optional({ type: 'array', items: 'int', 'element-id': 136 }), default: null, 'field-id': 135 },
            { name: 'sort_order_id', type: optional('int'), default: null, 'field-id': 140 },
          ],
        },
      },
    ],
  };
}

const MANIFEST_FILE_SCHEMA = {
  type: 'record', name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions', 'field-id': 507, default: null,
      type: optional({
        type: 'array', 'element-id': 508,
        items: {
          type: 'record', name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), default: null, 'field-id': 511 },
          ],
        },
      }),
    },
    { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 519 },
  ],
};

/** Iceberg's single-value serialization of an int (or date): 4 bytes, little-endian. */
function intBound(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return buffer;
}

/**
 * The bytes of an Avro object container file holding `records` of `schema`, with `metadata` in its
 * header. The header's schema is `schema` as given: avsc would drop the field ids readers need.
 */
async function containerFile(schema: object, records: readonly object[], metadata: Record<string, string>): Promise<Uint8Array> {
  const header = { ...metadata, 'avro.schema': JSON.stringify(schema) };
  const encoder = new avro.streams.BlockEncoder(typeOf(schema), {
    codec: 'null', syncMarker: randomBytes(16), metadata: Object.fromEntries(Object.entries(header).map(([k, v]) => [k, Buffer.from(v)])),
  } as never);
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.on('end', resolve);
    encoder.on('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

async function recordsOf<T>(bytes: Uint8Array): Promise<T[]> {
  const decoder = new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => typeOf(schema as object) } as never);
  const records: T[] = [];
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('data', (record: T) => records.push(record));
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  decoder.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  await done;
  return records;
}

type AvroMap<V> = { key: number; value: V }[] | null;

interface MetricRecords {
  column_sizes: AvroMap<number | bigint>;
  value_counts: AvroMap<number | bigint>;
  null_value_counts: AvroMap<number | bigint>;
  nan_value_counts: AvroMap<number | bigint>;
  lower_bounds: AvroMap<Buffer>;
  upper_bounds: AvroMap<Buffer>;
}

interface EntryRecord {
  status: number;
  snapshot_id: SnapshotId | null;
  sequence_number: number | null;
  file_sequence_number: number | null;
  data_file: { file_path: string; record_count: number; file_size_in_bytes: number; partition: Record<string, number | null> } & MetricRecords;
}

// Avro has no map with int keys: Iceberg writes each as an array of key-value records.
function metricRecords(metrics: DataFileMetrics | undefined): MetricRecords {
  const pairs = <V, A>(map: ReadonlyMap<number, V> | undefined, avro: (value: V) => A) => (map ? [...map].map(([key, value]) => ({ key, value: avro(value) })) : null);
  const bytes = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return {
    column_sizes: pairs(metrics?.columnSizes, Number), value_counts: pairs(metrics?.valueCounts, Number), null_value_counts: pairs(metrics?.nullValueCounts, Number),
    nan_value_counts: pairs(metrics?.nanValueCounts, Number), lower_bounds: pairs(metrics?.lowerBounds, bytes), upper_bounds: pairs(metrics?.upperBounds, bytes),
  };
}

// Files listed before streamlake wrote metrics carry none; another writer may keep some and leave the others null.
function metricsOf(record: MetricRecords): { metrics?: DataFileMetrics } {
  const { column_sizes, value_counts, null_value_counts, nan_value_counts, lower_bounds, upper_bounds } = record;
  if ([column_sizes, value_counts, null_value_counts, nan_value_counts, lower_bounds, upper_bounds].every((pairs) => pairs === null)) return {};
  const map = <A, V>(pairs: AvroMap<A>, value: (avro: A) => V) => new Map((pairs ?? []).map((pair) => [pair.key, value(pair.value)]));
  const bytes = (buffer: Buffer) => new Uint8Array(buffer);
  return {
    metrics: {
      columnSizes: map(column_sizes, Number), valueCounts: map(value_counts, Number), nullValueCounts: map(null_value_counts, Number),
      nanValueCounts: map(nan_value_counts, Number), lowerBounds: map(lower_bounds, bytes), upperBounds: map(upper_bounds, bytes),
    },
  };
}

/** The bytes of a manifest of `entries`, for tables of `schema` partitioned by `spec`. */
export function encodeManifest(entries: readonly ManifestEntry[], schema: IcebergSchema, spec: PartitionSpec, partitionBy: PartitionBy): Promise<Uint8Array> {
  const partitionName = spec.fields[0]!.name;
  const records = entries.map((entry) => ({
    status: entry.status, snapshot_id: entry.snapshotId, sequence_number: entry.sequenceNumber, file_sequence_number: entry.fileSequenceNumber,
    data_file: {
      content: 0, file_path: entry.file.path, file_format: 'PARQUET', partition: { [partitionName]: entry.file.partition },
      record_count: entry.file.recordCount, file_size_in_bytes: entry.file.fileSizeInBytes, ...metricRecords(entry.file.metrics),
      key_metadata: null, split_offsets: null, equality_ids: null, sort_order_id: null,
    },
  }));
  return containerFile(manifestEntrySchema(spec, partitionBy), records, {
    schema: JSON.stringify(schema), 'schema-id': String(schema['schema-id']), 'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(spec['spec-id']), 'format-version': '2', content: 'data',
  });
}

/** The entries of a manifest (any writer's; the partition value is its spec's first field). */
export async function decodeManifest(bytes: Uint8Array): Promise<ManifestEntry[]> {
  const records = await recordsOf<EntryRecord>(bytes);
  return records.map((record) => ({
    status: record.status as EntryStatus, snapshotId: record.snapshot_id, sequenceNumber: record.sequence_number, fileSequenceNumber: record.file_sequence_number,
    file: {
      path: record.data_file.file_path, recordCount: Number(record.data_file.record_count), fileSizeInBytes: Number(record.data_file.file_size_in_bytes),
      partition: Object.values(record.data_file.partition)[0] ?? Number.NaN,
      ...metricsOf(record.data_file),
    },
  }));
}

interface ManifestFileRecord {
  manifest_path: string;
  content: number;
  manifest_length: number;
  partition_spec_id: number;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: SnapshotId;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
  partitions: { contains_null: boolean; lower_bound: Buffer | null; upper_bound: Buffer | null }[] | null;
}

/** The bytes of a snapshot's manifest list. */
export function encodeManifestList(manifests: readonly ManifestFile[], snapshot: { id: SnapshotId; parentId?: SnapshotId; sequenceNumber: number }): Promise<Uint8Array> {
  const records = manifests.map((m) => ({
    manifest_path: m.path, manifest_length: m.length, partition_spec_id: m.specId, content: m.content ?? 0, sequence_number: m.sequenceNumber, min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId, added_files_count: m.addedFilesCount, existing_files_count: m.existingFilesCount, deleted_files_count: m.deletedFilesCount,
    added_rows_count: m.addedRowsCount, existing_rows_count: m.existingRowsCount, deleted_rows_count: m.deletedRowsCount,
    partitions: [m.partitionRange
      ? { contains_null: false, contains_nan: null, lower_bound: intBound(m.partitionRange[0]), upper_bound: intBound(m.partitionRange[1]) }
      : { contains_null: false, contains_nan: null, lower_bound: null, upper_bound: null }],
    key_metadata: null,
  }));
  return containerFile(MANIFEST_FILE_SCHEMA, records, {
    'snapshot-id': String(snapshot.id), 'parent-snapshot-id': snapshot.parentId === undefined ? 'null' : String(snapshot.parentId),
    'sequence-number': String(snapshot.sequenceNumber), 'format-version': '2',
  });
}

/** A snapshot lists delete files (an engine's row-level DELETE, UPDATE or MERGE): streamlake tables are append-only, and rewriting them would lose the deletes. */
export class DeleteFilesError extends Error {
  override name = 'DeleteFilesError';
}

export async function decodeManifestList(bytes: Uint8Array): Promise<ManifestFile[]> {
  const records = await recordsOf<ManifestFileRecord>(bytes);
  return records.map((r) => {
    if (r.content !== 0) {
      throw new DeleteFilesError(
        `manifest ${r.manifest_path} lists delete files: another engine deleted or updated rows of this table. streamlake only appends to and merges its tables; ` +
          'roll the table back to a snapshot before that change (Athena: ALTER TABLE … EXECUTE rollback_to_snapshot), or rewrite its data with that engine (OPTIMIZE) so no delete files remain',
      );
    }
    const bounds = r.partitions?.[0];
    return {
      path: r.manifest_path, length: Number(r.manifest_length), specId: r.partition_spec_id, sequenceNumber: Number(r.sequence_number), minSequenceNumber: Number(r.min_sequence_number),
      addedSnapshotId: r.added_snapshot_id, addedFilesCount: r.added_files_count, existingFilesCount: r.existing_files_count, deletedFilesCount: r.deleted_files_count,
      addedRowsCount: Number(r.added_rows_count), existingRowsCount: Number(r.existing_rows_count), deletedRowsCount: Number(r.deleted_rows_count),
      ...(bounds?.lower_bound && bounds.upper_bound ? { partitionRange: [bounds.lower_bound.readInt32LE(), bounds.upper_bound.readInt32LE()] as const } : {}),
    };
  });
}
