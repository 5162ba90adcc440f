import type { OffsetRange } from './checkpoint.ts';
import { nameMapping, sameFields, type IcebergSchema, type PartitionSpec } from './iceberg-schema.ts';
import { shardTag, type Shard } from './shards.ts';

/**
 * Iceberg table metadata (format v2) as the compactor and `streamlake optimize` write it: one
 * metadata file a commit, each commit a snapshot whose summary says, besides Iceberg's own
 * figures, which compactor run it was and which Kafka offsets the table now holds.
 */

/** Snapshot ids are 64-bit: ours fit a double, ones other writers chose are kept as bigints. */
export type SnapshotId = number | bigint;

export interface Snapshot {
  readonly 'snapshot-id': SnapshotId;
  readonly 'parent-snapshot-id'?: SnapshotId;
  readonly 'sequence-number': number;
  readonly 'timestamp-ms': number;
  readonly 'manifest-list': string;
  readonly summary: Readonly<Record<string, string>> & { readonly operation: 'append' | 'replace' | 'overwrite' | 'delete' };
  readonly 'schema-id': number;
}

export interface TableMetadata {
  readonly 'format-version': 2;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number': number;
  readonly 'last-updated-ms': number;
  readonly 'last-column-id': number;
  readonly schemas: readonly IcebergSchema[];
  readonly 'current-schema-id': number;
  readonly 'partition-specs': readonly PartitionSpec[];
  readonly 'default-spec-id': number;
  readonly 'last-partition-id': number;
  readonly properties: Readonly<Record<string, string>>;
  readonly 'current-snapshot-id': SnapshotId;
  readonly snapshots: readonly Snapshot[];
  readonly 'snapshot-log': readonly { readonly 'timestamp-ms': number; readonly 'snapshot-id': SnapshotId }[];
  readonly 'metadata-log': readonly { readonly 'timestamp-ms': number; readonly 'metadata-file': string }[];
  readonly 'sort-orders': readonly { readonly 'order-id': number; readonly fields: readonly unknown[] }[];
  readonly 'default-sort-order-id': number;
  readonly refs: Readonly<Record<string, { readonly 'snapshot-id': SnapshotId; readonly type: 'branch' | 'tag' }>>;
}

/**
 * Summary keys of ours: the last compactor run the snapshot includes, and the Kafka offsets the
 * table holds. A table whose compactor runs in shards has one sequence per shard
 * (`streamlake.sequence.shard-<i>-of-<N>`, see {@link sequenceKey}) and one offsets map, which
 * each shard's commit updates for its own partitions only.
 */
export const SUMMARY = {
  /** The single compactor's run; a shard's is this key with `.shard-<i>-of-<N>` appended. */
  sequence: 'streamlake.sequence',
  runId: 'streamlake.run-id',
  /** JSON object: per partition, the next offset to read (everything before is in the table or the quarantine). */
  offsets: 'streamlake.kafka-offsets',
  /** JSON array of the offset ranges the snapshot's own run read (append snapshots only). */
  ranges: 'streamlake.kafka-ranges',
  /** The last redrive run (`streamlake redrive`) whose records the table holds: its sequence in the redrive ledger, and its id. Every commit carries them forward. */
  redriveSequence: 'streamlake.redrive-sequence',
  redriveRunId: 'streamlake.redrive-run-id',
} as const;

const NO_SNAPSHOT = -1;
const NAME_MAPPING = 'schema.name-mapping.default';

export class IcebergMetadataError extends Error {
  override name = 'IcebergMetadataError';
}

/** A new, empty table. */
export function newTableMetadata(init: { uuid: string; location: string; schema: IcebergSchema; lastColumnId: number; spec: PartitionSpec; now: number; properties?: Record<string, string> }): TableMetadata {
  return {
    'format-version': 2, 'table-uuid': init.uuid, location: init.location, 'last-sequence-number': 0, 'last-updated-ms': init.now,
    'last-column-id': init.lastColumnId, schemas: [init.schema], 'current-schema-id': init.schema['schema-id'],
    'partition-specs': [init.spec], 'default-spec-id': init.spec['spec-id'], 'last-partition-id': Math.max(999, ...init.spec.fields.map((f) => f['field-id'])),
    properties: { ...init.properties, [NAME_MAPPING]: JSON.stringify(nameMapping(init.schema)) },
    'current-snapshot-id': NO_SNAPSHOT, snapshots: [], 'snapshot-log': [], 'metadata-log': [],
    'sort-orders': [{ 'order-id': 0, fields: [] }], 'default-sort-order-id': 0, refs: {},
  };
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (!schema) throw new IcebergMetadataError(`table ${metadata.location}: current schema ${metadata['current-schema-id']} is not among its schemas`);
  return schema;
}

/** The metadata with `schema` current: unchanged when the current schema has the same fields, otherwise with it added. */
export function withSchema(metadata: TableMetadata, schema: IcebergSchema, lastColumnId: number): TableMetadata {
  if (sameFields(currentSchema(metadata), schema)) return metadata;
  const schemaId = Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1;
  const added: IcebergSchema = { ...schema, 'schema-id': schemaId };
  return {
    ...metadata, schemas: [...metadata.schemas, added], 'current-schema-id': schemaId, 'last-column-id': Math.max(metadata['last-column-id'], lastColumnId),
    properties: { ...metadata.properties, [NAME_MAPPING]: JSON.stringify(nameMapping(added)) },
  };
}

export function currentSnapshot(metadata: TableMetadata): Snapshot | undefined {
  return snapshotById(metadata, metadata['current-snapshot-id']);
}

export function snapshotById(metadata: TableMetadata, id: SnapshotId | string): Snapshot | undefined {
  return metadata.snapshots.find((s) => String(s['snapshot-id']) === String(id));
}

/** The snapshot that was current at `timestampMs` (the newest one committed at or before it). */
export function snapshotAt(metadata: TableMetadata, timestampMs: number): Snapshot | undefined {
  const entry = metadata['snapshot-log'].filter((e) => e['timestamp-ms'] <= timestampMs).at(-1);
  return entry ? snapshotById(metadata, entry['snapshot-id']) : undefined;
}

/** `snapshot` (the current one by default), then its parent, and so on back to the first snapshot still kept. */
export function* ancestry(metadata: TableMetadata, snapshot: Snapshot | undefined = currentSnapshot(metadata)): Generator<Snapshot> {
  for (let at = snapshot; at; at = at['parent-snapshot-id'] === undefined ? undefined : snapshotById(metadata, at['parent-snapshot-id'])) yield at;
}

/**
 * The newest snapshot streamlake wrote among `snapshot` (the current one by default) and its
 * ancestors: a snapshot another writer committed (Athena's OPTIMIZE, a Glue table optimizer)
 * carries no compactor run, and the table still holds the runs of the streamlake snapshot before it.
 */
export function lastRunSnapshot(metadata: TableMetadata, snapshot: Snapshot | undefined = currentSnapshot(metadata)): Snapshot | undefined {
  for (const at of ancestry(metadata, snapshot)) if (Object.keys(at.summary).some(isSequenceKey)) return at;
  return undefined;
}

/** The summary key of a shard's run sequence: {@link SUMMARY.sequence} for the single compactor (every table before shards). */
export function sequenceKey(shard: Shard | undefined): string {
  const tag = shard === undefined ? undefined : shardTag(shard);
  return tag === undefined ? SUMMARY.sequence : `${SUMMARY.sequence}.${tag}`;
}

/** The shard a compactor sequence key belongs to (`shard-1-of-3`), as {@link sequenceKey} tags it; undefined for any other key. */
export function shardTagOf(key: string): string | undefined {
  return key.startsWith(`${SUMMARY.sequence}.`) ? key.slice(SUMMARY.sequence.length + 1) : undefined;
}

function isSequenceKey(key: string): boolean {
  return key === SUMMARY.sequence || shardTagOf(key) !== undefined;
}

/** Every compactor sequence a snapshot carries (the single compactor's and each shard's), by summary key. */
export function sequencesOf(snapshot: Snapshot | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(snapshot?.summary ?? {}).flatMap(([key, value]) => (isSequenceKey(key) ? [[key, Number(value)]] : [])));
}

/**
 * How far the compactor got, as of `snapshot` (the current one by default): the summary keys a
 * commit that is not a compactor run (a merge by optimize, a redrive) carries forward, so the
 * compactor's next commit finds the table where its checkpoint says it left it.
 */
export function progressSummary(metadata: TableMetadata, snapshot: Snapshot | undefined = currentSnapshot(metadata)): Record<string, string> {
  const last = lastRunSnapshot(metadata, snapshot);
  const redrive = lastRedrive(metadata, snapshot);
  return {
    ...Object.fromEntries(Object.entries(last?.summary ?? {}).filter(([key]) => key === SUMMARY.offsets || isSequenceKey(key))),
    ...(redrive.sequence > 0 ? { [SUMMARY.redriveSequence]: String(redrive.sequence), [SUMMARY.redriveRunId]: redrive.runId! } : {}),
  };
}

/**
 * The last redrive run the table holds as of `snapshot` (sequence 0 when none), from the newest
 * snapshot of ours that says: every commit carries it, so it outlives expired snapshots.
 */
export function lastRedrive(metadata: TableMetadata, snapshot: Snapshot | undefined = currentSnapshot(metadata)): { sequence: number; runId: string | null } {
  for (const at of ancestry(metadata, snapshot)) {
    const sequence = at.summary[SUMMARY.redriveSequence];
    if (sequence !== undefined) return { sequence: Number(sequence), runId: at.summary[SUMMARY.redriveRunId] ?? null };
  }
  return { sequence: 0, runId: null };
}

/** The last compactor run (of `shard`, the single compactor by default) a snapshot of ours includes (0 when none). */
export function sequenceOf(snapshot: Snapshot | undefined, shard?: Shard): number {
  return snapshot ? Number(snapshot.summary[sequenceKey(shard)] ?? 0) : 0;
}

/** Per partition, the next offset the snapshot's table would read: everything before is in the table or the quarantine. */
export function offsetsOf(snapshot: Snapshot | undefined): Record<string, number> {
  return snapshot ? (JSON.parse(snapshot.summary[SUMMARY.offsets] ?? '{}') as Record<string, number>) : {};
}

/** A new random snapshot id: positive and within a double's exact integers, as Iceberg ids must be unique in the table. */
export function newSnapshotId(random: () => number = Math.random): number {
  return Math.floor(random() * Number.MAX_SAFE_INTEGER) + 1;
}

/** What a commit adds: one snapshot. */
export interface NewSnapshot {
  readonly id: SnapshotId;
  readonly operation: Snapshot['summary']['operation'];
  readonly manifestList: string;
  readonly summary: Record<string, string>;
  readonly now: number;
}

/** The metadata after committing `snapshot` on the `main` branch; `previousFile` is the metadata file it replaces. */
export function withSnapshot(metadata: TableMetadata, newSnapshot: NewSnapshot, previousFile: string | undefined): TableMetadata {
  const parent = currentSnapshot(metadata);
  const sequence = metadata['last-sequence-number'] + 1;
  // The snapshot log must be in time order (Iceberg's Java, Go and Rust readers refuse it otherwise): a clock behind the last commit (another host's, or a local run's simulated one) commits at the last commit's time.
  const snapshot = { ...newSnapshot, now: Math.max(newSnapshot.now, metadata['last-updated-ms']) };
  const added: Snapshot = {
    'snapshot-id': snapshot.id, ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}), 'sequence-number': sequence,
    'timestamp-ms': snapshot.now, 'manifest-list': snapshot.manifestList, summary: { ...snapshot.summary, operation: snapshot.operation }, 'schema-id': metadata['current-schema-id'],
  };
  return {
    ...metadata, 'last-sequence-number': sequence, 'last-updated-ms': snapshot.now, 'current-snapshot-id': snapshot.id,
    snapshots: [...metadata.snapshots, added], 'snapshot-log': [...metadata['snapshot-log'], { 'timestamp-ms': snapshot.now, 'snapshot-id': snapshot.id }],
    'metadata-log': previousFile ? [...metadata['metadata-log'], { 'timestamp-ms': metadata['last-updated-ms'], 'metadata-file': previousFile }] : metadata['metadata-log'],
    refs: { ...metadata.refs, main: { 'snapshot-id': snapshot.id, type: 'branch' } },
  };
}

/** The metadata of a commit that adds no snapshot (expired snapshots, a trimmed log), logging `previousFile` as the file it replaces. */
export function withPreviousFile(metadata: TableMetadata, previous: TableMetadata, previousFile: string | undefined, now: number): TableMetadata {
  return previousFile
    ? { ...metadata, 'last-updated-ms': Math.max(now, previous['last-updated-ms']), 'metadata-log': [...metadata['metadata-log'], { 'timestamp-ms': previous['last-updated-ms'], 'metadata-file': previousFile }] }
    : { ...metadata, 'last-updated-ms': now };
}

/** The metadata without the snapshots committed before `olderThanMs`, always keeping the current one and what a ref points at. */
export function withoutSnapshotsBefore(metadata: TableMetadata, olderThanMs: number, now: number): TableMetadata {
  const kept = new Set(Object.values(metadata.refs).map((ref) => String(ref['snapshot-id'])));
  kept.add(String(metadata['current-snapshot-id']));
  const snapshots = metadata.snapshots.filter((s) => s['timestamp-ms'] >= olderThanMs || kept.has(String(s['snapshot-id'])));
  if (snapshots.length === metadata.snapshots.length) return metadata;
  const ids = new Set(snapshots.map((s) => String(s['snapshot-id'])));
  return { ...metadata, 'last-updated-ms': now, snapshots, 'snapshot-log': metadata['snapshot-log'].filter((e) => ids.has(String(e['snapshot-id']))) };
}

/** Our summary keys of a compactor run's snapshot: the run (its shard's sequence) and the offsets the table now holds. */
export function runSummary(run: { sequence: number; runId: string; ranges: readonly OffsetRange[]; shard?: Shard }, offsets: Record<string, number>): Record<string, string> {
  return {
    [sequenceKey(run.shard)]: String(run.sequence), [SUMMARY.runId]: run.runId, [SUMMARY.offsets]: JSON.stringify(offsets),
    [SUMMARY.ranges]: JSON.stringify(run.ranges.map((r) => [r.partition, r.from, r.to])),
  };
}

// Integers a double cannot hold exactly (other writers' snapshot ids) are read as bigints and written back digit for digit.
export function parseMetadata(text: string, source: string): TableMetadata {
  let metadata: TableMetadata;
  try {
    metadata = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source) ? BigInt(context.source) : value,
    ) as TableMetadata;
  } catch (error) {
    throw new IcebergMetadataError(`${source} is not Iceberg table metadata JSON (${(error as Error).message})`);
  }
  if (metadata?.['format-version'] !== 2) throw new IcebergMetadataError(`${source}: only Iceberg format version 2 tables are supported, got ${String(metadata?.['format-version'])}`);
  return metadata;
}

export function serializeMetadata(metadata: TableMetadata): Uint8Array {
  const text = JSON.stringify(metadata, (_key, value: unknown) => (typeof value === 'bigint' ? (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(value.toString()) : value), 2);
  return new TextEncoder().encode(text);
}

/** The version a metadata file's name starts with (`00042-<uuid>.metadata.json`), -1 for none. */
export function metadataVersionOf(location: string | undefined): number {
  const match = location === undefined ? null : /(\d+)-[^/]*\.metadata\.json$/.exec(location);
  return match ? Number(match[1]) : -1;
}
