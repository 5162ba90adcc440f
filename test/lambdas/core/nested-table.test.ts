import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { DuckDbLake } from '../../../src/local/duckdb-lake.ts';
import { compactOnce } from '../../helpers/compactor.ts';
import { tempDir } from '../../helpers/lake.ts';

const DECLARED = loadTables(fileURLToPath(new URL('../../fixtures/tables-nested', import.meta.url)));
const PURCHASES = tableNamed(DECLARED, 'purchases');
const encoder = new TextEncoder();
const PLACED = Date.parse('2026-03-01T10:00:00Z');

/** A purchase's JSON text, with `total` spliced in as written: a JSON number with more digits than a double holds. */
function purchase(id: string, placedAt: number, total: string, fields: Record<string, unknown>): { key: string; value: Uint8Array; timestamp: number } {
  const text = JSON.stringify({ purchase_id: id, placed_at: placedAt / 1000, ...fields }).replace(/^\{/, `{"total":${total},`);
  return { key: id, value: encoder.encode(text), timestamp: placedAt };
}

describe('a declared table with nested, decimal, date and boolean fields', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: PURCHASES.topic, partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  it('is compacted into real nested Parquet columns that DuckDB queries with exact values', async () => {
    await log.produce([
      purchase('p-1', PLACED, '12345678901234567.89', {
        delivery_date: '2026-03-04', gift: true, fx_rate: '1.080000000000000001',
        address: { street: 'Rua Augusta 1', city: 'Lisbon', zip: '1100-048', location: { lat: 38.7077, lon: -9.1365 }, country: 'PT' },
        items: [
          { sku: 'A-1', quantity: 2, unit_price: '19.99', gift_wrapped: true, shipped_at: '2026-03-02T10:00:00Z' },
          { sku: 'B-2', quantity: 1, unit_price: '5', color: 'red' },
        ],
        tags: ['new', 'promo'], attributes: { channel: 'web', campaign: 'spring' },
      }),
      purchase('p-2', PLACED + 86_400_000, '-0.10', { gift: false, items: [], tags: [], attributes: {} }),
      purchase('p-3', PLACED, '1.00', { address: { zip: '1100' }, items: [] }),
      purchase('p-4', PLACED, '7.5', { items: [{ sku: 'C-3', quantity: 1, unit_price: '2.999' }] }),
    ]);
    const report = await compactOnce(log, new LocalDirectoryStore(join(dir.path, 'lake')), { table: PURCHASES });
    expect(report).toMatchObject({ rowsWritten: 2, quarantined: 2, unknownFields: ['address.country', 'items[*].color'] });

    const lake = await DuckDbLake.open(join(dir.path, 'lake'), DECLARED.tables);
    try {
      const { rows } = await lake.query(`SELECT purchase_id, address.city AS city, address.location.lat AS lat, items[1].sku AS first_sku,
          items[1].unit_price::VARCHAR AS first_price, items[2].unit_price::VARCHAR AS second_price, items[1].shipped_at AS shipped_at, len(items) AS lines,
          total::VARCHAR AS total, fx_rate::VARCHAR AS fx_rate, tags, attributes['campaign'] AS campaign, delivery_date, gift, _extra, dt
        FROM purchases ORDER BY purchase_id`);
      expect(rows).toEqual([
        {
          purchase_id: 'p-1', city: 'Lisbon', lat: 38.7077, first_sku: 'A-1', first_price: '19.99', second_price: '5.00', shipped_at: '2026-03-02T10:00:00.000Z', lines: 2,
          total: '12345678901234567.89', fx_rate: '1.080000000000000001', tags: ['new', 'promo'], campaign: 'spring', delivery_date: '2026-03-04', gift: true,
          _extra: '{"address":{"country":"PT"},"items":{"1":{"color":"red"}}}', dt: '2026-03-01',
        },
        {
          purchase_id: 'p-2', city: null, lat: null, first_sku: null, first_price: null, second_price: null, shipped_at: null, lines: 0,
          total: '-0.10', fx_rate: null, tags: [], campaign: null, delivery_date: null, gift: false, _extra: null, dt: '2026-03-02',
        },
      ]);
      const { rows: sums } = await lake.query('SELECT sum(total)::VARCHAR AS revenue, sum(list_sum(list_transform(items, i -> i.unit_price * i.quantity)))::VARCHAR AS lines FROM purchases');
      expect(sums).toEqual([{ revenue: '12345678901234567.79', lines: '44.98' }]);

      const { rows: quarantined } = await lake.query('SELECT reason, detail FROM purchases_quarantine ORDER BY detail');
      expect(quarantined).toEqual([
        { reason: 'missing_field', detail: 'address.city is required' },
        { reason: 'invalid_value', detail: 'items[0].unit_price must be a decimal(9,2), got "2.999", which has more than 2 digits after the point' },
      ]);

      const { rows: types } = await lake.query('SELECT column_name, column_type FROM (DESCRIBE purchases)');
      expect(Object.fromEntries(types.map((row) => [row.column_name, row.column_type]))).toMatchObject({
        delivery_date: 'DATE',
        gift: 'BOOLEAN',
        total: 'DECIMAL(19,2)',
        fx_rate: 'DECIMAL(38,18)',
        address: 'STRUCT(street VARCHAR, city VARCHAR, zip VARCHAR, "location" STRUCT(lat DOUBLE, lon DOUBLE))',
        items: 'STRUCT(sku VARCHAR, quantity INTEGER, unit_price DECIMAL(9,2), discount DECIMAL(12,2), gift_wrapped BOOLEAN, shipped_at TIMESTAMP)[]',
        tags: 'VARCHAR[]',
        attributes: 'MAP(VARCHAR, VARCHAR)',
      });
    } finally {
      lake.close();
    }
  });
});
