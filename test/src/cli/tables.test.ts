import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tableColumns } from '../../../lambdas/core/table-declaration.ts';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';
import { copyTables, editDeclaration } from '../../helpers/tables-dir.ts';

describe('streamlake tables and schema', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const tablesDir = (name: string, options: { deviceLogs?: boolean; orders?: boolean }) => copyTables(join(dir.path, name), options);

  it("lists the project's tables from any working directory, with the Glue type of every column", async () => {
    const result = await streamlake(['tables'], { cwd: dir.path });
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual([`device_logs — ${DEVICE_LOGS.description}`, 'topic device-logs · key device_id · event time event_time · partitioned by hour · format hive-parquet']);
    expect(lines).toContainEqual(expect.stringMatching(/^event_time\s+timestamp\s+no$/));
    expect(lines).toContainEqual(expect.stringMatching(/^temperature_c\s+double\s+yes$/));
    expect(lines).toContainEqual(expect.stringMatching(/^kafka_offset\s+bigint\s+no$/));
    expect(lines).toContainEqual(expect.stringMatching(/^hour\s+int\s+partition key$/));
    expect(lines.filter((line) => /^\w+\s+\w+\s+(yes|no|partition key)$/.test(line))).toHaveLength(tableColumns(DEVICE_LOGS).length + 2);
  });

  it('prints every table of --tables as JSON: settings, columns and partition keys', async () => {
    const result = await streamlake(['tables', '--json', '--tables', tablesDir('listed', { orders: true })]);
    expect(result.code).toBe(0);
    const [deviceLogs, orders] = JSON.parse(result.stdout) as { name: string; columns: { name: string; type: string; nullable: boolean }[] }[];
    expect(deviceLogs!.name).toBe('device_logs');
    expect(orders).toMatchObject({ name: 'orders', topic: 'shop.orders', key: 'order_id', eventTime: 'placed_at', partitionBy: 'day', partitionKeys: [{ name: 'dt', type: 'string' }] });
    expect(orders!.columns.map(({ name, type, nullable }) => `${name} ${type}${nullable ? '?' : ''}`)).toEqual([
      'order_id string', 'placed_at timestamp', 'delivery_date date?', 'quantity int', 'total_eur double?', 'gift boolean?', 'channel string',
      '_extra string?', 'kafka_partition int', 'kafka_offset bigint', 'kafka_timestamp timestamp',
    ]);
  });

  it('finds the shipped declarations as locked', async () => {
    const result = await streamlake(['schema', 'check'], { cwd: dir.path });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^device_logs\s+as locked$/m);
  });

  it('locks a new table, and says so', async () => {
    const tables = tablesDir('new-table', { orders: true });
    const check = await streamlake(['schema', 'check', '--tables', tables]);
    expect(check.stdout).toMatch(/^orders\s+new, not locked yet$/m);
    expect(check.stderr).toContain('streamlake schema lock');
    const lock = await streamlake(['schema', 'lock', '--tables', tables]);
    expect(lock.code).toBe(0);
    expect(lock.stdout).toMatch(/^orders\s+new, not locked yet$/m);
    expect(Object.keys(JSON.parse(readFileSync(join(tables, 'tables.lock.json'), 'utf8')).tables)).toEqual(['device_logs', 'orders']);
  });

  it('refuses a malformed declaration with exit code 2, naming the file and the field, in every command', async () => {
    const tables = tablesDir('malformed', { orders: true });
    editDeclaration(tables, 'orders', (declaration) => {
      declaration.properties.channel = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    });
    const dataDir = join(dir.path, 'malformed-data');
    const commands = [['schema', 'check'], ['tables'], ['local', '--minutes', '1', '--data-dir', dataDir], ['produce', '--table', 'orders', '--data-dir', dataDir], ['queries']];
    for (const command of commands) {
      const result = await streamlake([...command, '--tables', tables], { input: '{}' });
      expect(result.code, command.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([`streamlake: ${join(tables, 'orders.schema.json')}: field channel: keyword "oneOf" is not supported: declare one type per field; a field that takes several shapes can be a string holding JSON`]);
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it("refuses a table named like another table's quarantine or snapshots view", async () => {
    const tables = tablesDir('view-names', { orders: true });
    editDeclaration(tables, 'orders', (declaration) => {
      declaration['x-streamlake'].table = 'device_logs_quarantine';
    });
    renameSync(join(tables, 'orders.schema.json'), join(tables, 'device_logs_quarantine.schema.json'));
    const result = await streamlake(['tables', '--tables', tables]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the name device_logs_quarantine belongs to a view of table device_logs; give this table another name');
  });

  it('refuses an incompatible declaration with exit code 1 and every reason, before writing anything', async () => {
    const tables = tablesDir('incompatible', {});
    editDeclaration(tables, 'device_logs', (declaration) => {
      delete declaration.properties.firmware;
      declaration.required = declaration.required.filter((name: string) => name !== 'firmware');
      declaration['x-streamlake'].partitionBy = 'day';
    });
    const dataDir = join(dir.path, 'incompatible-data');
    for (const command of [['schema', 'check'], ['schema', 'lock'], ['local', '--minutes', '1', '--data-dir', dataDir], ['produce', '--data-dir', dataDir]]) {
      const result = await streamlake([...command, '--tables', tables], { input: '{}' });
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.stderr).toContain('table device_logs: x-streamlake.partitionBy changed from "hour" to "day"');
      expect(result.stderr).toContain('table device_logs: field firmware was removed or renamed');
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses local without device_logs, and produce without --table among several tables', async () => {
    const ordersOnly = tablesDir('orders-only', { deviceLogs: false, orders: true });
    const local = await streamlake(['local', '--tables', ordersOnly, '--data-dir', join(dir.path, 'orders-data')]);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('no table device_logs is declared (tables: orders): `streamlake local` runs the simulated device fleet');
    expect(local.stderr).toContain('streamlake produce --table NAME');

    const both = tablesDir('both', { orders: true });
    const produce = await streamlake(['produce', '--tables', both, '--data-dir', join(dir.path, 'both-data')], { input: '{}' });
    expect(produce.code).toBe(2);
    expect(produce.stderr).toContain('declares 2 tables (device_logs, orders): pass --table NAME');
    expect(existsSync(join(dir.path, 'orders-data'))).toBe(false);
  });
});
