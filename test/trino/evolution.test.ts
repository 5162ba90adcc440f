import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import { loadTables, tableNamed } from '../../lambdas/adapters/table-directory.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { evolutionProblems, lockOf } from '../../lambdas/core/table-evolution.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { queryTrino } from '../../tools/trino/client.ts';
import { compactOnce } from '../helpers/compactor.ts';
import { tempDir } from '../helpers/lake.ts';
import { columnOf, expectSameResult, fromDuckDb, fromTrino } from './compare.ts';
import { declareLake } from './lake-tables.ts';

const ORDERS_V0 = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/tables-orders/orders.schema.json', import.meta.url)), 'utf8'));
const encoder = new TextEncoder();
const PLACED = Date.parse('2026-03-01T10:00:00Z');

/** v1: the orders fixture with a delivery address (a struct with a required city). */
const V1_SCHEMA = {
  ...ORDERS_V0,
  properties: { ...ORDERS_V0.properties, address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
/** v2: an optional `address.zip` inside the struct and a new channel, `phone`. */
const V2_SCHEMA = {
  ...V1_SCHEMA,
  properties: {
    ...V1_SCHEMA.properties,
    channel: { type: 'string', enum: ['web', 'app', 'phone'] },
    address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } }, required: ['city'] },
  },
};

const order = (id: number, fields: Record<string, unknown>) => ({ order_id: `o-${id}`, placed_at: PLACED / 1000 + id * 3600, quantity: id, total_eur: 10 + id, ...fields });

const V1_ORDERS = [
  order(1, { channel: 'web', address: { city: 'Lyon' } }),
  order(2, { channel: 'app', address: { city: 'Porto' } }),
  order(3, { channel: 'web', address: { city: 'Gent' } }),
];
/** Sent before v2 was deployed: v1 has no channel `phone`, so it goes to quarantine. */
const TOO_EARLY = order(0, { quantity: 1, channel: 'phone', address: { city: 'Oslo', zip: '0150' } });
const V2_ORDERS = [
  order(4, { channel: 'phone', address: { city: 'Lyon', zip: '69001' } }),
  order(5, { channel: 'web', address: { city: 'Porto', zip: '4000-001' } }),
  order(6, { channel: 'phone', address: { city: 'Turku' } }),
];

/** The same questions across the rows written with v1 and with v2. */
const QUERIES = {
  rows: 'SELECT order_id, channel, address.city AS city, address.zip AS zip, dt FROM orders ORDER BY order_id',
  perChannel: 'SELECT channel, count(*) AS orders, count(address.zip) AS with_zip FROM orders GROUP BY channel ORDER BY channel',
  withoutZip: 'SELECT count(*) AS orders FROM orders WHERE address.zip IS NULL',
};

function declare(dir: string, schema: unknown): TableSpec {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'orders.schema.json'), JSON.stringify(schema, null, 2));
  return tableNamed(loadTables(dir), 'orders');
}

describe('a table evolved from v1 to v2 (new optional nested field, new enum value)', () => {
  const dir = tempDir();
  const lakeDir = join(dir.path, 'lake');
  const trino = inject('trino');
  const session = { url: trino.url, catalog: trino.catalog, schema: 'streamlake_evolution' };
  let v1: TableSpec;
  let v2: TableSpec;
  let lake: DuckDbLake;

  const produce = (log: LocalLog, records: readonly Record<string, unknown>[]) =>
    log.produce(records.map((value) => ({ key: value.order_id as string, value: encoder.encode(JSON.stringify(value)), timestamp: (value.placed_at as number) * 1000 })));

  beforeAll(async () => {
    v1 = declare(join(dir.path, 'tables-v1'), V1_SCHEMA);
    v2 = declare(join(dir.path, 'tables-v2'), V2_SCHEMA);
    const log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: v1.topic, partitions: 2 });
    try {
      await produce(log, [...V1_ORDERS, TOO_EARLY]);
      expect(await compactOnce(log, new LocalDirectoryStore(lakeDir), { table: v1 })).toMatchObject({ rowsWritten: 3, quarantined: 1 });
      await produce(log, V2_ORDERS);
      expect(await compactOnce(log, new LocalDirectoryStore(lakeDir), { table: v2 })).toMatchObject({ rowsWritten: 3, quarantined: 0 });
    } finally {
      await log.close();
    }
    lake = await DuckDbLake.open(lakeDir, [v2]);
    await declareLake(session, lakeDir, [v2]);
  });

  afterAll(() => {
    lake?.close();
    dir.remove();
  });

  it('is a compatible evolution: zip is optional inside address, phone a new channel that v1 quarantined', async () => {
    expect(evolutionProblems(lockOf([v1]), [v2])).toEqual([]);
    expect(v2.fields.find((f) => f.name === 'address')?.fields?.map((f) => [f.name, f.nullable])).toEqual([['city', false], ['zip', true]]);
    const sql = 'SELECT reason, detail FROM orders_quarantine';
    const quarantined = await fromDuckDb(lake, sql);
    expect(quarantined.rows).toEqual([['invalid_value', expect.stringContaining('phone')]]);
    expectSameResult(fromTrino(await queryTrino(session, sql)), quarantined);
  });

  it.each(Object.entries(QUERIES))('%s: the same answer on Trino and DuckDB across files written with v1 and v2', async (_, sql) => {
    const local = await fromDuckDb(lake, sql);
    expect(local.rows.length).toBeGreaterThan(0);
    expectSameResult(fromTrino(await queryTrino(session, sql)), local);
  });

  it('reads NULL for the new nested field in rows written before it existed, and its value in rows written after', async () => {
    const onTrino = fromTrino(await queryTrino(session, QUERIES.rows));
    expect(columnOf(onTrino, 'order_id')).toEqual(['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']);
    expect(columnOf(onTrino, 'city')).toEqual(['Lyon', 'Porto', 'Gent', 'Lyon', 'Porto', 'Turku']);
    expect(columnOf(onTrino, 'zip')).toEqual([null, null, null, '69001', '4000-001', null]);
    expect(columnOf(onTrino, 'channel')).toEqual(['web', 'app', 'web', 'phone', 'web', 'phone']);
    expect(fromTrino(await queryTrino(session, QUERIES.perChannel)).rows).toEqual([['app', 1, 0], ['phone', 2, 1], ['web', 3, 1]]);
    expect(fromTrino(await queryTrino(session, QUERIES.withoutZip)).rows).toEqual([[4]]);
  });
});
