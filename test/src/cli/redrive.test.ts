import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { streamlakeOn } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';
import { copyTables, editDeclaration } from '../../helpers/tables-dir.ts';

const HOUR_S = 3600;
// Recent enough for the compactor's maxEventAgeHours against the time the records are produced.
const NOW_S = Math.floor(Date.now() / 1000);

const order = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ order_id: id, placed_at: NOW_S - HOUR_S, quantity: 2, total_eur: 19.5, channel: 'web', ...extra });

// o-2 and o-3 fail only until "phone" is declared; o-4 until a quantity of 0 is allowed; o-5 lacks its channel for good.
const RECORDS = [order('o-1'), order('o-2', { channel: 'phone' }), order('o-3', { channel: 'phone' }), order('o-4', { quantity: 0 }), JSON.stringify({ order_id: 'o-5', placed_at: NOW_S, quantity: 1 })];

interface Report {
  dryRun: boolean;
  redriven: number;
  stillFailing: number;
  byReason: Record<string, { redriven: number; stillFailing: number }>;
  stillFailingByReason: Record<string, number>;
  runs: number[];
  resumed: boolean;
  files: string[];
  sample: { kafka_offset: number; reason: string; value: string }[];
}

/** Every file under `dir` with its size and modification time: what "writes nothing" must leave as it was. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      const stat = statSync(path);
      return `${path} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

describe.each(['hive-parquet', 'iceberg'] as const)('streamlake redrive of a %s table', (format) => {
  const dir = tempDir();
  const tables = copyTables(join(dir.path, 'tables'), { orders: true });
  if (format === 'iceberg') editDeclaration(tables, 'orders', (declaration) => void (declaration['x-streamlake'].format = 'iceberg'));
  const dataDir = join(dir.path, 'data');
  const lakeDir = dataDirLayout(dataDir).lakeDir;
  const { run, json } = streamlakeOn(tables);
  const rows = (sql: string) => json<Record<string, unknown>[]>(['query', '--data-dir', dataDir, sql]);
  const redrive = (...args: string[]) => json<Report>(['redrive', '--table', 'orders', '--data-dir', dataDir, ...args]);
  /**
   * Exactly once, by SQL: every offset is in the table, or in quarantine and not redriven, once
   * (`seen` = `offsets`); every redriven record is in the table.
   */
  const audit = async () =>
    (
      await rows(`WITH seen AS (SELECT kafka_partition AS p, kafka_offset AS o FROM orders UNION ALL SELECT kafka_partition, kafka_offset FROM orders_quarantine WHERE redriven_at IS NULL)
        SELECT (SELECT count(*) FROM seen) AS seen, (SELECT count(DISTINCT (p, o)) FROM seen) AS offsets, (SELECT count(*) FROM orders) AS rows,
          (SELECT count(*) FROM orders_quarantine q WHERE q.redriven_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders t WHERE t.kafka_partition = q.kafka_partition AND t.kafka_offset = q.kafka_offset)) AS redriven_not_landed`)
    )[0];
  afterAll(() => dir.remove());

  it('quarantines what the declaration refuses; a dry run counts what would pass now, by reason, with a sample, and writes nothing', { timeout: 60_000 }, async () => {
    expect(await json(['produce', '--table', 'orders', '--data-dir', dataDir], RECORDS.join('\n'))).toMatchObject({ produced: 5 });
    expect((await json<Record<string, { rowsWritten: number; quarantined: number }>>(['compact', '--table', 'orders', '--data-dir', dataDir])).orders).toMatchObject({ rowsWritten: 1, quarantined: 4 });

    const before = listing(lakeDir);
    const unchanged = await redrive('--dry-run');
    expect(unchanged).toMatchObject({ dryRun: true, redriven: 0, stillFailing: 4, byReason: { invalid_value: { redriven: 0, stillFailing: 3 }, missing_field: { redriven: 0, stillFailing: 1 } } });

    editDeclaration(tables, 'orders', (declaration) => void declaration.properties.channel.enum.push('phone'));
    const dry = await redrive('--dry-run');
    expect(dry).toMatchObject({ dryRun: true, redriven: 2, stillFailing: 2, byReason: { invalid_value: { redriven: 2, stillFailing: 1 }, missing_field: { redriven: 0, stillFailing: 1 } }, stillFailingByReason: { invalid_value: 1, missing_field: 1 }, runs: [] });
    expect(dry.sample.map((s) => JSON.parse(s.value).order_id)).toEqual(['o-2', 'o-3']);
    const text = await run(['redrive', '--table', 'orders', '--data-dir', dataDir, '--dry-run']);
    expect(text.stdout).toContain('orders (dry run, nothing written): 2 of 4 quarantined records would pass now and land with their Kafka lineage; 2 still fail');
    expect(text.stdout).toMatch(/partition \d+ offset \d+ \(was invalid_value\): \{"order_id":"o-2"/);
    expect(listing(lakeDir)).toEqual(before);
  });

  it('lands the records that pass now with their original Kafka lineage, marks them redriven in the quarantine table, and keeps every offset exactly once', { timeout: 60_000 }, async () => {
    const quarantined = await rows("SELECT kafka_partition, kafka_offset, kafka_timestamp FROM orders_quarantine WHERE reason = 'invalid_value' AND detail LIKE '%channel%' ORDER BY kafka_offset");
    expect(quarantined).toHaveLength(2);

    const report = await redrive();
    expect(report).toMatchObject({ dryRun: false, redriven: 2, stillFailing: 2, runs: [1], resumed: false, byReason: { invalid_value: { redriven: 2, stillFailing: 1 } } });
    expect(report.files.length).toBeGreaterThan(0);
    expect(report.files.every((key) => /\/redrive-00000001-[0-9a-f]{16}\.parquet$/.test(key))).toBe(true);

    const landed = await rows("SELECT kafka_partition, kafka_offset, strftime(kafka_timestamp AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%g') || 'Z' AS kafka_timestamp FROM orders WHERE channel = 'phone' ORDER BY kafka_offset");
    expect(landed).toEqual(quarantined);
    expect(await rows("SELECT json_extract_string(decode(from_base64(raw_base64)), '$.order_id') AS order_id, redrive_run, redriven_at IS NOT NULL AS redriven, reason FROM orders_quarantine ORDER BY order_id")).toEqual([
      { order_id: 'o-2', redrive_run: 1, redriven: true, reason: 'invalid_value' },
      { order_id: 'o-3', redrive_run: 1, redriven: true, reason: 'invalid_value' },
      { order_id: 'o-4', redrive_run: null, redriven: false, reason: 'invalid_value' },
      { order_id: 'o-5', redrive_run: null, redriven: false, reason: 'missing_field' },
    ]);
    expect(await audit()).toEqual({ seen: 5, offsets: 5, rows: 3, redriven_not_landed: 0 });
    // status counts what is still only in quarantine (it may find the demo table stale: its exit code is not the point here).
    const status = JSON.parse((await run(['status', '--data-dir', dataDir, '--json'])).stdout) as { tables: { table: string; quarantined24h: Record<string, number> }[] };
    expect(status.tables.find((t) => t.table === 'orders')?.quarantined24h).toEqual({ invalid_value: 1, missing_field: 1 });
  });

  it('adds nothing the second time, and nothing when a new reason or date filter matches no record that passes', { timeout: 60_000 }, async () => {
    const files = listing(lakeDir);
    expect(await redrive()).toMatchObject({ redriven: 0, stillFailing: 2, runs: [], files: [] });
    expect(await redrive('--since', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10))).toMatchObject({ redriven: 0, stillFailing: 0, byReason: {} });
    expect(listing(lakeDir)).toEqual(files);

    editDeclaration(tables, 'orders', (declaration) => void (declaration.properties.quantity.minimum = 0));
    // Only the reason asked for is judged: o-4 (invalid_value) would pass, but is not a missing_field.
    expect(await redrive('--reason', 'missing_field')).toMatchObject({ redriven: 0, stillFailing: 1, byReason: { missing_field: { redriven: 0, stillFailing: 1 } } });
    expect(await redrive('--reason', 'invalid_value')).toMatchObject({ redriven: 1, stillFailing: 0, runs: [2] });
    expect(await audit()).toEqual({ seen: 5, offsets: 5, rows: 4, redriven_not_landed: 0 });
    expect(await rows('SELECT order_id, quantity FROM orders ORDER BY order_id')).toEqual([
      { order_id: 'o-1', quantity: 2 }, { order_id: 'o-2', quantity: 2 }, { order_id: 'o-3', quantity: 2 }, { order_id: 'o-4', quantity: 0 },
    ]);
  });

  it('records that still fail for another reason now keep the new reason in quarantine', { timeout: 60_000 }, async () => {
    // o-5 lacks its channel; declared optional, it fails on its quantity instead once 1 is below the minimum.
    editDeclaration(tables, 'orders', (declaration) => {
      declaration.required = declaration.required.filter((name: string) => name !== 'channel');
      declaration.properties.quantity.minimum = 5;
    });
    const report = await redrive();
    expect(report).toMatchObject({ redriven: 0, stillFailing: 1, byReason: { missing_field: { redriven: 0, stillFailing: 1 } }, stillFailingByReason: { invalid_value: 1 }, runs: [3] });
    expect(await rows('SELECT reason, detail, redriven_at FROM orders_quarantine WHERE redriven_at IS NULL')).toEqual([{ reason: 'invalid_value', detail: 'quantity must be within [5, 1000], got 1', redriven_at: null }]);
    expect(await audit()).toEqual({ seen: 5, offsets: 5, rows: 4, redriven_not_landed: 0 });
  });

  it('leaves the compactor going on from where it was', { timeout: 60_000 }, async () => {
    editDeclaration(tables, 'orders', (declaration) => void (declaration.properties.quantity.minimum = 0));
    await json(['produce', '--table', 'orders', '--data-dir', dataDir], order('o-6'));
    expect((await json<Record<string, { rowsWritten: number }>>(['compact', '--table', 'orders', '--data-dir', dataDir])).orders).toMatchObject({ rowsWritten: 1 });
    expect(await audit()).toEqual({ seen: 6, offsets: 6, rows: 5, redriven_not_landed: 0 });
    if (format === 'iceberg') {
      // Every snapshot carries the last redrive run the table holds; runs 1 and 2 landed records (run 3 only changed a reason).
      expect(await rows('SELECT operation, compactor_run, redrive_run FROM orders_snapshots ORDER BY committed_at')).toEqual([
        { operation: 'append', compactor_run: 1, redrive_run: null },
        { operation: 'append', compactor_run: 1, redrive_run: 1 },
        { operation: 'append', compactor_run: 1, redrive_run: 2 },
        { operation: 'append', compactor_run: 2, redrive_run: 2 },
      ]);
    }
  });

  it('refuses a reason it does not know, and needs --table', { timeout: 60_000 }, async () => {
    const bogus = await run(['redrive', '--table', 'orders', '--data-dir', dataDir, '--reason', 'bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('must be one of too_large, not_utf8');
    expect((await run(['redrive', '--data-dir', dataDir])).code).toBe(2);
    const ledger = await new LocalDirectoryStore(lakeDir).get('checkpoints/orders/redrive/ledger.json');
    expect(JSON.parse(new TextDecoder().decode(ledger!.body))).toMatchObject({ sequence: 3, pending: null });
  });
});
