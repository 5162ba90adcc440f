import { afterAll, describe, expect, it } from 'vitest';
import { IcebergTable } from '../../../lambdas/adapters/iceberg-table.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { compact } from '../../../lambdas/core/compactor.ts';
import { currentSchema, currentSnapshot } from '../../../lambdas/core/iceberg-metadata.ts';
import { dataFileMetrics } from '../../../lambdas/core/iceberg-metrics.ts';
import { icebergSchema, type IcebergField, type IcebergStruct } from '../../../lambdas/core/iceberg-schema.ts';
import { tableColumns, type TableSpec } from '../../../lambdas/core/table-declaration.ts';
import type { ColumnStatistics } from '../../../lambdas/ports/parquet.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { purchasesTopic } from '../../../bench/purchases.ts';
import { expectMetricsOfRows } from '../../helpers/iceberg-metrics.ts';
import { tempDir } from '../../helpers/lake.ts';
import { fixtureTables } from '../../helpers/synth.ts';

const PURCHASES: TableSpec = { ...tableNamed(loadTables(fixtureTables('tables-nested')), 'purchases'), format: 'iceberg' };

/** The id of the field at a dotted path of struct field names (`address.location.lat`). */
function idOf(schema: IcebergStruct, path: string): number {
  const [name, ...rest] = path.split('.');
  const field = schema.fields.find((f) => f.name === name) as IcebergField;
  return rest.length === 0 ? field.id : idOf(field.type as IcebergStruct, rest.join('.'));
}

describe('dataFileMetrics', () => {
  const { schema } = icebergSchema(tableColumns(PURCHASES), 0);
  const leaf = (path: string[], extra: Partial<ColumnStatistics> = {}): ColumnStatistics => ({ path, bytes: 10, values: 3, nulls: 1, nans: 0, min: 1, max: 2, ...extra });

  it('keys the counts and bounds of top-level columns and struct fields by field id, NaN counts for doubles only', () => {
    const metrics = dataFileMetrics(schema, [leaf(['gift']), leaf(['address', 'location', 'lat'], { min: -1.5, max: 2.5, nans: 1 }), leaf(['address', 'city'], { min: 'Lisbon', max: 'Oslo' })]);
    const gift = idOf(schema, 'gift');
    const lat = idOf(schema, 'address.location.lat');
    const city = idOf(schema, 'address.city');
    expect([...metrics.valueCounts.keys()]).toEqual([gift, lat, city]);
    expect([...metrics.nanValueCounts]).toEqual([[lat, 1]]);
    expect(Buffer.from(metrics.lowerBounds.get(lat)!).readDoubleLE()).toBe(-1.5);
    expect(Buffer.from(metrics.upperBounds.get(lat)!).readDoubleLE()).toBe(2.5);
    expect(Buffer.from(metrics.upperBounds.get(city)!).toString()).toBe('Oslo');
  });

  it('gives leaves inside lists and maps, and columns the schema does not have, none', () => {
    const inside = [leaf(['items', 'list', 'element', 'sku']), leaf(['tags', 'list', 'element']), leaf(['attributes', 'key_value', 'key']), leaf(['not_declared'])];
    expect(dataFileMetrics(schema, inside).valueCounts.size).toBe(0);
  });

  it('counts a column whose values are all null, with no bounds', () => {
    const metrics = dataFileMetrics(schema, [leaf(['fx_rate'], { nulls: 3, min: undefined, max: undefined })]);
    expect([...metrics.nullValueCounts.values(), metrics.lowerBounds.size, metrics.upperBounds.size]).toEqual([3, 0, 0]);
  });
});

describe('the column metrics of a compactor run into an Iceberg table', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('list each file with the counts and bounds of its rows: decimals, dates, booleans, timestamps in micros and struct fields included', { timeout: 60_000 }, async () => {
    const topic = await purchasesTopic(1_500, Date.UTC(2026, 0, 5, 9), 3);
    const lake = new LocalLake(dir.path);
    const clock = { now: () => Date.UTC(2026, 0, 8) };
    const table = new IcebergTable({ store: lake.store, catalog: lake.catalog, lakeUri: lake.lakeUri, clock }, PURCHASES);
    const options = { ...compactorOptions(DEFAULTS, PURCHASES), maxRecordsPerRun: 500 };
    while ((await compact({ topic, store: lake.store, encoder: parquetEncoder(), clock, format: table }, options)).runId !== null);
    expect(await expectMetricsOfRows(table, lake.store)).toBeGreaterThan(3);

    const { metadata } = (await table.load())!;
    const [first] = await table.dataFiles(currentSnapshot(metadata));
    const schema = currentSchema(metadata);
    const kept = new Set(first!.file.metrics!.upperBounds.keys());
    for (const path of ['total', 'fx_rate', 'delivery_date', 'gift', 'placed_at', 'address.city', 'address.location.lon', 'kafka_offset']) expect(kept.has(idOf(schema, path)), path).toBe(true);
  });
});
