import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { DuckDbLake } from '../../../src/local/duckdb-lake.ts';
import { FleetTableError, runLocal, type LocalRunSummary } from '../../../src/local/runner.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DECLARED, DEVICE_LOGS } from '../../helpers/tables.ts';
import { copyTables } from '../../helpers/tables-dir.ts';

const START = Date.UTC(2026, 2, 1, 22, 40); // crosses midnight: two dates, several hours

describe('streamlake local', () => {
  const dir = tempDir();
  const options = { dataDir: dir.path, minutes: 90, devices: 40, seed: 3, codec: 'snappy' as const, start: START };
  let first: LocalRunSummary;
  let lake: DuckDbLake;

  beforeAll(async () => {
    first = await runLocal(options);
    lake = await DuckDbLake.open(dataDirLayout(dir.path).lakeDir, DECLARED.tables);
  });

  afterAll(() => {
    lake.close();
    dir.remove();
  });

  async function scalar(sql: string): Promise<unknown> {
    const { rows, columns } = await lake.query(sql);
    return rows[0]![columns[0]!];
  }

  it('puts every produced record in the lake or in quarantine exactly once', async () => {
    const log = await LocalLog.open({ dir: dataDirLayout(dir.path).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const offsets = await log.offsets();
    const audit = await auditLake(dataDirLayout(dir.path).lakeDir, offsets);
    expect(first.produced).toBe(90 * 40);
    expect(offsets).toHaveLength(DEFAULTS.partitions);
    expect(audit).toEqual({ lakeRows: first.produced - first.quarantined, quarantined: first.quarantined, duplicates: 0, incompletePartitions: [] });
    expect(first.lakeRows).toBe(first.produced - first.quarantined);
    expect(first.quarantined).toBeGreaterThan(0);
  });

  it('partitions rows by the UTC date and hour of event_time', async () => {
    expect(await scalar(`SELECT count(*) FROM device_logs WHERE dt <> strftime(event_time, '%Y-%m-%d') OR hour <> hour(event_time)`)).toBe(0);
    expect(await scalar('SELECT count(DISTINCT dt) FROM device_logs')).toBe(2);
  });

  it('keeps each device in one partition and its events in the order it sent them', async () => {
    expect(await scalar('SELECT max(partitions) FROM (SELECT count(DISTINCT kafka_partition) AS partitions FROM device_logs GROUP BY device_id)')).toBe(1);
    const outOfOrder = `SELECT count(*) FROM (
      SELECT seq, lag(seq) OVER (PARTITION BY device_id ORDER BY kafka_offset) AS previous FROM device_logs
    ) WHERE seq <= previous`;
    expect(await scalar(outOfOrder)).toBe(0);
  });

  it('keeps late events in the hour they were taken, not the hour they arrived', async () => {
    const late = await scalar(`SELECT count(*) FROM device_logs WHERE date_diff('minute', event_time, kafka_timestamp) > 5`);
    expect(late).toBeGreaterThan(0);
  });

  it('answers every summary figure from the lake itself', async () => {
    expect(first.files).toBe(Number(await scalar(`SELECT count(DISTINCT filename) FROM read_parquet('${dataDirLayout(dir.path).lakeDir}/curated/device_logs/*/*/*.parquet', filename = true)`)));
    expect(first.parquetBytes).toBeGreaterThan(0);
    expect(first.parquetBytes).toBeLessThan(first.producedBytes / 3);
    expect(first.compactions).toBe(90 / DEFAULTS.compactorEveryMinutes);
  });

  it('continues where the previous run stopped: same log, later minutes, still exactly once', async () => {
    const second = await runLocal({ ...options, start: undefined, minutes: 10 });
    expect(second.start).toBe(first.end);
    expect(second.lakeRows + second.quarantined).toBe(first.produced + second.produced);
    const log = await LocalLog.open({ dir: dataDirLayout(dir.path).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const audit = await auditLake(dataDirLayout(dir.path).lakeDir, await log.offsets());
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
  });
});

describe('streamlake local with another declared table', () => {
  const dir = tempDir();
  const tablesDir = copyTables(join(dir.path, 'tables'), { orders: true });
  const declared = loadTables(tablesDir);
  const { tables } = declared;
  const orders = tableNamed(declared, 'orders');
  afterAll(() => dir.remove());

  it("keeps one embedded log per table's topic and compacts every table on the schedule, the fleet producing device_logs only", async () => {
    const dataDir = join(dir.path, 'data');
    const placedAt = Math.floor(START / 1000) + 30;
    const log = await LocalLog.open({ dir: dataDirLayout(dataDir).topicDir(orders.topic), topic: orders.topic, partitions: 2 });
    const value = (id: string) => new TextEncoder().encode(JSON.stringify({ order_id: id, placed_at: placedAt, quantity: 1, channel: 'app' }));
    await log.produce([{ key: 'o-1', value: value('o-1'), timestamp: START }, { key: 'o-2', value: value('o-2'), timestamp: START }]);
    await log.close();

    const summary = await runLocal({ dataDir, minutes: 10, devices: 4, seed: 1, codec: 'snappy', start: START, tables });
    expect(readdirSync(dataDirLayout(dataDir).topicsDir).sort()).toEqual(['device-logs', 'shop.orders']);
    expect(summary.tables.map(({ table, lakeRows, quarantined, compactions }) => ({ table, lakeRows, quarantined, compactions }))).toEqual([
      { table: 'device_logs', lakeRows: summary.lakeRows, quarantined: summary.quarantined, compactions: 2 },
      { table: 'orders', lakeRows: 2, quarantined: 0, compactions: 2 },
    ]);
    expect(summary.lakeRows + summary.quarantined).toBe(40);
  });

  it('refuses to run without a device_logs table, and says what to use instead', async () => {
    await expect(runLocal({ dataDir: join(dir.path, 'no-fleet'), minutes: 1, devices: 1, seed: 1, codec: 'snappy', tables: [orders] })).rejects.toThrow(FleetTableError);
    expect(existsSync(join(dir.path, 'no-fleet'))).toBe(false);
  });
});
