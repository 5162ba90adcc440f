import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { streamlakeOn } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';
import { copyTables, editDeclaration } from '../../helpers/tables-dir.ts';

const HOUR_S = 3600;
// Recent enough for the compactor's maxEventAgeHours against the time the records are produced.
const NOW_S = Math.floor(Date.now() / 1000);
const dayOf = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().slice(0, 10);

const order = (id: string, placedAt: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ order_id: id, placed_at: placedAt, quantity: 2, total_eur: 19.5, channel: 'web', ...extra });

interface Report {
  runId: string | null;
  rowsWritten: number;
  quarantined: number;
  files: string[];
  unknownFields: string[];
}

describe('a table of your own, through the streamlake command', () => {
  const dir = tempDir();
  const tables = copyTables(join(dir.path, 'tables'), { orders: true });
  const dataDir = join(dir.path, 'data');
  const { run, json } = streamlakeOn(tables);
  const rows = (sql: string) => json<Record<string, unknown>[]>(['query', '--data-dir', dataDir, sql]);
  let firstFiles: string[] = [];
  afterAll(() => dir.remove());

  it('is produced keyed by its declared key, compacted by day beside device_logs, and queried with its named query', { timeout: 60_000 }, async () => {
    const first = [order('o-1', NOW_S - 2 * HOUR_S, { gift: true, delivery_date: '2026-03-04' }), order('o-2', NOW_S - HOUR_S), order('o-3', NOW_S, { quantity: 0 })];
    expect(await json(['produce', '--table', 'orders', '--data-dir', dataDir], first.join('\n'))).toMatchObject({ table: 'orders', topic: 'shop.orders', produced: 3, unkeyed: 0 });

    const reports = await json<Record<string, Report>>(['compact', '--data-dir', dataDir]);
    expect(Object.keys(reports)).toEqual(['device_logs', 'orders']);
    expect(reports.device_logs).toMatchObject({ runId: null, rowsWritten: 0 });
    expect(reports.orders).toMatchObject({ rowsWritten: 2, quarantined: 1 });
    firstFiles = reports.orders!.files;
    expect(firstFiles.every((key) => key.startsWith('curated/orders/dt='))).toBe(true);

    expect(await rows('SELECT order_id, placed_at, gift, delivery_date, dt FROM orders ORDER BY order_id')).toEqual([
      { order_id: 'o-1', placed_at: new Date((NOW_S - 2 * HOUR_S) * 1000).toISOString(), gift: true, delivery_date: '2026-03-04', dt: dayOf(NOW_S - 2 * HOUR_S) },
      { order_id: 'o-2', placed_at: new Date((NOW_S - HOUR_S) * 1000).toISOString(), gift: null, delivery_date: null, dt: dayOf(NOW_S - HOUR_S) },
    ]);
    expect(await rows('SELECT reason, detail FROM orders_quarantine')).toEqual([{ reason: 'invalid_value', detail: 'quantity must be within [1, 1000], got 0' }]);

    const queries = await json<{ name: string; table: string }[]>(['queries']);
    expect(queries.find((q) => q.name === 'orders_per_day')).toMatchObject({ table: 'orders' });
    const perDay = await json<{ orders: number }[]>(['query', '--data-dir', dataDir, '--named', 'orders_per_day']);
    expect(perDay.reduce((sum, day) => sum + day.orders, 0)).toBe(2);
  });

  it('evolves in place: a new optional field and enum value pass the check, and old files read NULL for the new column', { timeout: 60_000 }, async () => {
    expect((await run(['schema', 'lock'])).code).toBe(0);
    editDeclaration(tables, 'orders', (declaration) => {
      declaration.properties.coupon = { type: 'string', description: 'Discount code, if any.' };
      declaration.properties.channel.enum.push('phone');
    });
    const check = await run(['schema', 'check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^orders\s+changed compatibly, not locked yet$/m);
    expect(check.stdout).toMatch(/^device_logs\s+as locked$/m);
    // Declared but in no file yet: every row reads NULL.
    expect(await rows('SELECT count(*) AS n, count(coupon) AS coupons FROM orders')).toEqual([{ n: 2, coupons: 0 }]);

    const lock = await run(['schema', 'lock']);
    expect(lock.code).toBe(0);
    expect(JSON.parse(readFileSync(join(tables, 'tables.lock.json'), 'utf8')).tables.orders.fields.map((f: { name: string }) => f.name)).toContain('coupon');
    expect((await run(['schema', 'check'])).stdout).toMatch(/^orders\s+as locked$/m);

    const second = [order('o-4', NOW_S, { coupon: 'SPRING', channel: 'phone' }), order('o-5', NOW_S, { channel: 'app' })];
    await json(['produce', '--table', 'orders', '--data-dir', dataDir], second.join('\n'));
    const reports = await json<Record<string, Report>>(['compact', '--table', 'orders', '--data-dir', dataDir]);
    expect(Object.keys(reports)).toEqual(['orders']);
    expect(reports.orders).toMatchObject({ rowsWritten: 2, quarantined: 0, unknownFields: [] });

    expect(await rows('SELECT order_id, channel, coupon FROM orders ORDER BY order_id')).toEqual([
      { order_id: 'o-1', channel: 'web', coupon: null },
      { order_id: 'o-2', channel: 'web', coupon: null },
      { order_id: 'o-4', channel: 'phone', coupon: 'SPRING' },
      { order_id: 'o-5', channel: 'app', coupon: null },
    ]);
    // Old and new files really differ: only the second run's have the column.
    const curated = join(dataDirLayout(dataDir).lakeDir, 'curated/orders');
    expect(await rows(`SELECT count(DISTINCT file_name) FILTER (WHERE name = 'coupon') AS with_coupon, count(DISTINCT file_name) AS files FROM parquet_schema('${curated}/*/*.parquet')`)).toEqual([
      { with_coupon: reports.orders!.files.length, files: reports.orders!.files.length + firstFiles.length },
    ]);
  });

  it('refuses an incompatible change: schema check exits 1 with the reasons, and compact and produce write nothing', { timeout: 60_000 }, async () => {
    editDeclaration(tables, 'orders', (declaration) => {
      delete declaration.properties.gift;
    });
    const check = await run(['schema', 'check']);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('table orders: field gift was removed or renamed');
    const lock = await run(['schema', 'lock']);
    expect(lock.code).toBe(1);
    expect(JSON.parse(readFileSync(join(tables, 'tables.lock.json'), 'utf8')).tables.orders.fields.map((f: { name: string }) => f.name)).toContain('gift');

    const produce = await run(['produce', '--table', 'orders', '--data-dir', dataDir], order('o-6', NOW_S));
    const compact = await run(['compact', '--data-dir', dataDir]);
    for (const refused of [produce, compact]) {
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('field gift was removed or renamed');
    }
    const log = await LocalLog.open({ dir: dataDirLayout(dataDir).topicDir('shop.orders'), topic: 'shop.orders' });
    expect((await log.offsets()).reduce((sum, o) => sum + o.highWatermark, 0)).toBe(5);
    expect(await rows('SELECT count(*) AS n FROM orders')).toEqual([{ n: 4 }]);
  });
});
