import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeManifest, decodeManifestList, DeleteFilesError, encodeManifest, encodeManifestList, EntryStatus } from '../../../lambdas/adapters/iceberg-avro.ts';
import { backoffMs, CheckpointTableMismatchError, IcebergCommitConflictError, IcebergTable } from '../../../lambdas/adapters/iceberg-table.ts';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { StoreCatalog } from '../../../lambdas/adapters/store-catalog.ts';
import { currentSchema, currentSnapshot, parseMetadata, sequenceOf, serializeMetadata, snapshotAt, SUMMARY } from '../../../lambdas/core/iceberg-metadata.ts';
import { icebergSchema, nameMapping, partitionPathValue, partitionSpec, type IcebergField, type IcebergStruct, type IcebergType } from '../../../lambdas/core/iceberg-schema.ts';
import { parseTableDeclaration, tableColumns, type TableSpec } from '../../../lambdas/core/table-declaration.ts';
import type { PendingRun } from '../../../lambdas/core/checkpoint.ts';
import type { TableCatalog } from '../../../lambdas/ports/table-catalog.ts';
import type { RunOffsets } from '../../../lambdas/ports/table-format.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const NESTED = parseTableDeclaration(
  {
    type: 'object',
    'x-streamlake': { table: 'orders', topic: 'orders', eventTime: 'placed_at', partitionBy: 'day', format: 'iceberg' },
    properties: {
      placed_at: { type: 'string', format: 'date-time' },
      address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } } },
      lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1, maximum: 100 } }, required: ['sku'] } },
      tags: { type: 'object', additionalProperties: { type: 'string' } },
    },
    required: ['placed_at'],
  },
  'orders.schema.json',
);

/** Every field id of a type, nested ones included. */
function ids(type: IcebergType): number[] {
  if (typeof type === 'string') return [];
  if (type.type === 'struct') return type.fields.flatMap((f: IcebergField) => [f.id, ...ids(f.type)]);
  if (type.type === 'list') return [type['element-id'], ...ids(type.element)];
  return [type['key-id'], type['value-id'], ...ids(type.value)];
}

describe('Iceberg schemas of declared tables', () => {
  it('numbers every column and nested part once, top-level columns first, timestamps as timestamptz', () => {
    const { schema, lastColumnId } = icebergSchema(tableColumns(NESTED), 0);
    const all = ids(schema);
    expect(new Set(all).size).toBe(all.length);
    expect(Math.max(...all)).toBe(lastColumnId);
    expect(schema.fields.map((f) => f.id)).toEqual(schema.fields.map((_, i) => i + 1));
    expect(schema.fields.find((f) => f.name === 'placed_at')).toMatchObject({ type: 'timestamptz', required: true });
    expect(schema.fields.find((f) => f.name === 'lines')!.type).toMatchObject({ type: 'list', 'element-required': true, element: { type: 'struct' } });
    expect(schema.fields.find((f) => f.name === 'tags')!.type).toMatchObject({ type: 'map', key: 'string', value: 'string', 'value-required': true });
  });

  it('keeps every id when the declaration grows, and gives new fields, nested ones too, ids above the last', () => {
    const v1 = icebergSchema(tableColumns(NESTED), 0);
    const grown: TableSpec = {
      ...NESTED,
      fields: [
        ...NESTED.fields.map((f) => (f.name === 'address' ? { ...f, fields: [...f.fields!, { name: 'country', type: 'string' as const, nullable: true, description: '' }] } : f)),
        { name: 'coupon', type: 'string', nullable: true, description: '' },
      ],
    };
    const v2 = icebergSchema(tableColumns(grown), 1, v1.schema, v1.lastColumnId);
    const byName = (schema: typeof v1.schema) => new Map(schema.fields.map((f) => [f.name, f.id]));
    for (const [name, id] of byName(v1.schema)) expect(byName(v2.schema).get(name), name).toBe(id);
    const address = (schema: typeof v1.schema) => (schema.fields.find((f) => f.name === 'address')!.type as IcebergStruct).fields;
    expect(address(v2.schema).slice(0, 2)).toEqual(address(v1.schema));
    const added = [address(v2.schema)[2]!.id, byName(v2.schema).get('coupon')!];
    expect(Math.min(...added)).toBeGreaterThan(v1.lastColumnId);
    expect(v2.lastColumnId).toBe(v1.lastColumnId + 2);
  });

  it('maps each id to its column name in the Parquet files, lists by element and maps by key and value', () => {
    const { schema } = icebergSchema(tableColumns(NESTED), 0);
    const mapping = nameMapping(schema);
    expect(mapping.find((m) => m.names[0] === 'lines')!.fields![0]).toMatchObject({ names: ['element'], fields: [{ names: ['sku'] }, { names: ['qty'] }] });
    expect(mapping.find((m) => m.names[0] === 'tags')!.fields!.map((m) => m.names[0])).toEqual(['key', 'value']);
  });

  it('partitions by the event time hour or day, named and valued as Iceberg does', () => {
    const { schema } = icebergSchema(tableColumns(DEVICE_LOGS), 0);
    expect(partitionSpec(schema, 'event_time', 'hour').fields).toEqual([{ name: 'event_time_hour', transform: 'hour', 'source-id': 5, 'field-id': 1000 }]);
    expect(partitionPathValue(Date.parse('2026-11-27T10:59:59Z') / 3_600_000 | 0, 'hour')).toBe('2026-11-27-10');
    expect(partitionPathValue(Math.floor(Date.parse('2026-11-27T10:00:00Z') / 86_400_000), 'day')).toBe('2026-11-27');
  });
});

describe('Iceberg metadata and manifests', () => {
  it('reads and writes back snapshot ids beyond a double exactly', () => {
    const text = '{"format-version": 2, "current-snapshot-id": 9223372036854775807, "snapshots": [{"snapshot-id": 9223372036854775807, "timestamp-ms": 1}]}';
    const metadata = parseMetadata(text, 'm.json');
    expect(metadata['current-snapshot-id']).toBe(9223372036854775807n);
    expect(new TextDecoder().decode(serializeMetadata(metadata))).toContain('"current-snapshot-id": 9223372036854775807');
    expect(() => parseMetadata('{"format-version": 1}', 'm.json')).toThrow(/only Iceberg format version 2/);
  });

  it('round-trips manifest entries and manifest lists through Avro, with the field ids readers match on', async () => {
    const { schema } = icebergSchema(tableColumns(DEVICE_LOGS), 0);
    const spec = partitionSpec(schema, 'event_time', 'hour');
    const file = { path: 's3://b/curated/device_logs/data/x.parquet', recordCount: 7, fileSizeInBytes: 1234, partition: 494_000 };
    const manifest = await encodeManifest([{ status: EntryStatus.Added, snapshotId: 2n ** 62n, sequenceNumber: null, fileSequenceNumber: null, file }], schema, spec, 'hour');
    expect(await decodeManifest(manifest)).toEqual([{ status: EntryStatus.Added, snapshotId: 2n ** 62n, sequenceNumber: null, fileSequenceNumber: null, file }]);
    expect(Buffer.from(manifest).toString('latin1')).toContain('"field-id":100');

    expect((await decodeManifest(manifest))[0]!.file, 'a file listed without metrics, as before streamlake wrote them').not.toHaveProperty('metrics');

    const listed = {
      path: 's3://b/m.avro', length: manifest.byteLength, specId: 0, sequenceNumber: 3, minSequenceNumber: 3, addedSnapshotId: 17, addedFilesCount: 1, existingFilesCount: 0,
      deletedFilesCount: 0, addedRowsCount: 7, existingRowsCount: 0, deletedRowsCount: 0, partitionRange: [494_000, 494_002] as const,
    };
    expect(await decodeManifestList(await encodeManifestList([listed], { id: 17, sequenceNumber: 3 }))).toEqual([listed]);
    // Another engine's row-level DELETE adds a manifest of delete files: refused, not rewritten as data.
    await expect(decodeManifestList(await encodeManifestList([{ ...listed, content: 1 }], { id: 17, sequenceNumber: 3 }))).rejects.toThrow(DeleteFilesError);
  });
});

describe('column metrics in manifests', () => {
  it('round-trips each metric by field id, bounds byte for byte, and keeps a file listed without them without', async () => {
    const { schema } = icebergSchema(tableColumns(DEVICE_LOGS), 0);
    const spec = partitionSpec(schema, 'event_time', 'hour');
    const metrics = {
      columnSizes: new Map([[1, 4_000], [7, 800]]), valueCounts: new Map([[1, 7], [7, 7]]), nullValueCounts: new Map([[1, 0], [7, 2]]), nanValueCounts: new Map([[7, 0]]),
      lowerBounds: new Map([[1, Uint8Array.from(Buffer.from('dev-00001'))], [7, Uint8Array.of(0, 0, 0, 0, 0, 0, 0x34, 0xc0)]]),
      upperBounds: new Map([[1, Uint8Array.from(Buffer.from('dev-00042'))], [7, Uint8Array.of(0, 0, 0, 0, 0, 0, 0x3e, 0x40)]]),
    };
    const entry = (path: string, extra: object) => ({ status: EntryStatus.Existing, snapshotId: 5, sequenceNumber: 2, fileSequenceNumber: 2, file: { path, recordCount: 7, fileSizeInBytes: 5_000, partition: 494_000, ...extra } });
    const entries = [entry('s3://b/new.parquet', { metrics }), entry('s3://b/old.parquet', {})];
    const decoded = await decodeManifest(await encodeManifest(entries, schema, spec, 'hour'));
    expect(decoded).toEqual(entries);
    expect(decoded[1]!.file).not.toHaveProperty('metrics');
  });
});

describe('IcebergTable', () => {
  let dir: ReturnType<typeof tempDir>;
  let table: IcebergTable;
  let now: number;
  const run = (sequence: number): PendingRun => ({ sequence, runId: `run${sequence}`, ranges: [{ partition: 0, from: (sequence - 1) * 10, to: sequence * 10 }], startedAt: 0 });

  beforeEach(() => {
    dir = tempDir();
    const store = new LocalDirectoryStore(dir.path);
    now = Date.parse('2026-11-27T10:00:00Z');
    table = new IcebergTable({ store, catalog: new StoreCatalog(store), lakeUri: 'file:///lake/', clock: { now: () => now } }, { ...DEVICE_LOGS, format: 'iceberg' });
  });

  afterEach(() => dir.remove());

  const file = (key: string, bucket: number) => ({ key, bucket, rows: 10, bytes: 100, columns: [] });
  // The offsets of run n, as the checkpoint has them: partition 0 from (n - 1) × 10 to n × 10.
  const at = (n: number): RunOffsets => ({ before: n === 1 ? {} : { 0: (n - 1) * 10 }, after: { 0: n * 10 } });

  it('commits a run once: finishing it again after its commit adds no snapshot', async () => {
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    const { metadata } = (await table.load())!;
    expect(metadata.snapshots).toHaveLength(1);
    expect(sequenceOf(metadata.snapshots[0])).toBe(1);
  });

  it('waits a growing, jittered time after each lost swap before planning again, and gives up after 10 attempts', async () => {
    const store = new LocalDirectoryStore(dir.path);
    const catalog = new StoreCatalog(store);
    let losses = 3;
    const losing: TableCatalog = { get: (name) => catalog.get(name), swap: async (...args) => (losses-- > 0 ? false : catalog.swap(...args)) };
    const waits: number[] = [];
    const contended = new IcebergTable({ store, catalog: losing, lakeUri: 'file:///lake/', clock: { now: () => now }, backoff: async (attempt) => void waits.push(attempt) }, { ...DEVICE_LOGS, format: 'iceberg' });
    await contended.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    expect(waits).toEqual([0, 1, 2]);
    expect(sequenceOf(currentSnapshot((await table.load())!.metadata))).toBe(1);

    losses = Infinity;
    waits.length = 0;
    await expect(contended.commitRun(run(2), [file('curated/device_logs/data/b.parquet', 1)], at(2))).rejects.toThrow(IcebergCommitConflictError);
    // No wait after the last attempt: it gives up at once.
    expect(waits).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('draws each wait from a window that doubles from 50 ms up to 2 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 9].map((attempt) => backoffMs(attempt, () => 0.9999))).toEqual([49, 99, 199, 399, 799, 1599, 1999, 1999]);
    expect(backoffMs(4, () => 0)).toBe(0);
    expect(backoffMs(2, () => 0.5)).toBe(100);
  });

  it("knows a run is committed when another writer's snapshot (no streamlake summary) came after it", async () => {
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    // As Athena's OPTIMIZE would commit: a snapshot of the same files, without our summary keys.
    await table.commit(async (loaded) => {
      const parent = currentSnapshot(loaded!.metadata)!;
      return { metadata: loaded!.metadata, snapshot: { id: 42, operation: 'replace', manifestList: parent['manifest-list'], summary: {}, now } };
    });
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    expect((await table.load())!.metadata.snapshots.map((s) => s.summary.operation)).toEqual(['append', 'replace']);
    await table.commitRun(run(2), [file('curated/device_logs/data/b.parquet', 1)], at(2));
    expect((await table.load())!.metadata.snapshots.map((s) => sequenceOf(s))).toEqual([1, 0, 2]);
  });

  it('refuses a run whose checkpoint disagrees with the table, showing both and the checkpoint to write', async () => {
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    await table.commitRun(run(2), [file('curated/device_logs/data/b.parquet', 1)], at(2));
    // The checkpoint was deleted: run 1 again, now reading to the end of the topic.
    const reset = { ...run(1), ranges: [{ partition: 0, from: 0, to: 25 }] };
    await expect(table.commitRun(reset, [], { before: {}, after: { 0: 25 } })).rejects.toThrow(
      /holds compactor run 2 with Kafka offsets \{"0":20\}, but the checkpoint starts run 1 from offsets \{\}.*\{"format": 1, "sequence": 2, "offsets": \{"0":20\}, "pending": null\}/,
    );
    // A checkpoint behind the table by a run it did not commit (restored from an old version).
    await expect(table.commitRun(run(4), [], at(4))).rejects.toThrow(CheckpointTableMismatchError);
    expect((await table.load())!.metadata.snapshots).toHaveLength(2);
  });

  it('keeps the snapshot log in time order when a commit comes from a clock behind the last one', async () => {
    await table.commitRun(run(1), [], at(1));
    now -= 3_600_000;
    await table.commitRun(run(2), [], at(2));
    const log = (await table.load())!.metadata['snapshot-log'].map((entry) => entry['timestamp-ms']);
    expect(log[1]).toBeGreaterThanOrEqual(log[0]!);
  });

  it('refuses to start the table again when its catalog entry is gone after earlier runs committed', async () => {
    await expect(table.commitRun(run(3), [], at(3))).rejects.toThrow(/not in its catalog, yet 2 compactor runs were committed to it: register its last metadata file/);
    expect(await table.load()).toBeUndefined();
  });

  it('appends each run as a snapshot holding every earlier file, with the offsets and running totals in its summary', async () => {
    await table.commitRun(run(1), [file('curated/device_logs/data/a.parquet', 1)], at(1));
    now += 60_000;
    await table.commitRun(run(2), [file('curated/device_logs/data/b.parquet', 2), file('curated/device_logs/data/c.parquet', 3)], at(2));
    const { metadata } = (await table.load())!;
    const [first, second] = metadata.snapshots;
    expect((await table.dataFiles(second)).map((e) => table.keyOf(e.file.path)).sort()).toEqual(['a', 'b', 'c'].map((n) => `curated/device_logs/data/${n}.parquet`));
    expect((await table.dataFiles(first)).map((e) => e.file.path)).toEqual(['file:///lake/curated/device_logs/data/a.parquet']);
    expect(second!.summary).toMatchObject({ operation: 'append', [SUMMARY.offsets]: '{"0":20}', [SUMMARY.sequence]: '2', 'added-records': '20', 'total-records': '30', 'total-data-files': '3' });
    expect(second!['parent-snapshot-id']).toBe(first!['snapshot-id']);
    expect(snapshotAt(metadata, now - 1)).toBe(first);
    expect(snapshotAt(metadata, now)).toBe(second);
  });

  it('adds a schema when the declaration gained a field, keeping the old one for the snapshots written under it', async () => {
    await table.commitRun(run(1), [], at(1));
    const grown = new IcebergTable((table as unknown as { deps: ConstructorParameters<typeof IcebergTable>[0] }).deps, {
      ...table.table, fields: [...table.table.fields, { name: 'firmware_channel', type: 'string', nullable: true, description: '' }],
    });
    await grown.commitRun(run(2), [], at(2));
    const { metadata } = (await grown.load())!;
    expect(metadata.schemas.map((s) => s['schema-id'])).toEqual([0, 1]);
    expect(metadata.snapshots.map((s) => s['schema-id'])).toEqual([0, 1]);
    expect(currentSchema(metadata).fields.find((f) => f.name === 'firmware_channel')!.id).toBe(metadata['last-column-id']);
    expect(JSON.parse(metadata.properties['schema.name-mapping.default']!)).toContainEqual({ 'field-id': metadata['last-column-id'], names: ['firmware_channel'] });
  });
});
