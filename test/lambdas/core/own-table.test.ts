import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { DuckDbLake } from '../../../src/local/duckdb-lake.ts';
import { compactOnce } from '../../helpers/compactor.ts';
import { decodeRecord } from '../../helpers/decode.ts';
import { tempDir } from '../../helpers/lake.ts';

const DECLARED = loadTables(fileURLToPath(new URL('../../fixtures/tables-orders', import.meta.url)));
const ORDERS = tableNamed(DECLARED, 'orders');
const encoder = new TextEncoder();
const PLACED = Date.parse('2026-03-01T10:00:00Z');

const order = (overrides: Record<string, unknown> = {}) => ({
  order_id: 'o-1', placed_at: PLACED / 1000, delivery_date: '2026-03-04', quantity: 2, total_eur: 19.5, gift: true, channel: 'web', ...overrides,
});

describe('a declared table other than device_logs', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: ORDERS.topic, partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  it('decodes booleans and dates the same on the fast path and through JSON.parse', () => {
    const limits = { maxRecordBytes: 4096, maxEventAgeMs: 86_400_000, maxEventFutureMs: 60_000 };
    const bytes = encoder.encode(JSON.stringify(order()));
    const general = encoder.encode(JSON.stringify(order()).replace('{"order_id"', '{"\\u006frder_id"'));
    const fast = decodeRecord(bytes, PLACED, limits, ORDERS);
    expect(fast).toEqual({ ok: true, event: { ...order(), placed_at: PLACED, delivery_date: Date.UTC(2026, 2, 4) / 86_400_000, gift: 1, _extra: null } });
    expect(decodeRecord(general, PLACED, limits, ORDERS)).toEqual(fast);
    expect(decodeRecord(encoder.encode(JSON.stringify(order({ delivery_date: '2026-02-30' }))), PLACED, limits, ORDERS)).toMatchObject({ ok: false, reason: 'invalid_value' });
    expect(decodeRecord(encoder.encode(JSON.stringify(order({ gift: 'yes' }))), PLACED, limits, ORDERS)).toMatchObject({ ok: false, reason: 'wrong_type' });
  });

  it('is produced, compacted into day partitions and queried with its own columns, unknown fields kept in _extra', async () => {
    const records = [
      order(),
      order({ order_id: 'o-2', placed_at: PLACED / 1000 + 86_400, gift: false, delivery_date: undefined, coupon: 'SPRING' }),
      order({ order_id: 'o-3', quantity: 0 }),
    ];
    await log.produce(records.map((value) => ({ key: value.order_id as string, value: encoder.encode(JSON.stringify(value)), timestamp: (value.placed_at as number) * 1000 })));
    const report = await compactOnce(log, new LocalDirectoryStore(join(dir.path, 'lake')), { table: ORDERS });
    expect(report).toMatchObject({ rowsWritten: 2, quarantined: 1, unknownFields: ['coupon'] });
    expect(report.files.map((key) => key.replace(/run-.*$/, ''))).toEqual(['curated/orders/dt=2026-03-01/', 'curated/orders/dt=2026-03-02/']);

    const lake = await DuckDbLake.open(join(dir.path, 'lake'), DECLARED.tables);
    try {
      const { rows } = await lake.query('SELECT order_id, placed_at, delivery_date, quantity, total_eur, gift, channel, _extra, dt FROM orders ORDER BY order_id');
      expect(rows).toEqual([
        { order_id: 'o-1', placed_at: '2026-03-01T10:00:00.000Z', delivery_date: '2026-03-04', quantity: 2, total_eur: 19.5, gift: true, channel: 'web', _extra: null, dt: '2026-03-01' },
        { order_id: 'o-2', placed_at: '2026-03-02T10:00:00.000Z', delivery_date: null, quantity: 2, total_eur: 19.5, gift: false, channel: 'web', _extra: '{"coupon":"SPRING"}', dt: '2026-03-02' },
      ]);
      const { rows: quarantined } = await lake.query('SELECT reason, detail FROM orders_quarantine');
      expect(quarantined).toEqual([{ reason: 'invalid_value', detail: 'quantity must be within [1, 1000], got 0' }]);
      const { rows: types } = await lake.query("SELECT column_name, column_type AS data_type FROM (DESCRIBE orders) WHERE column_name IN ('quantity', 'gift', 'delivery_date')");
      expect(types).toEqual([{ column_name: 'delivery_date', data_type: 'DATE' }, { column_name: 'quantity', data_type: 'INTEGER' }, { column_name: 'gift', data_type: 'BOOLEAN' }]);
    } finally {
      lake.close();
    }
  });
});
