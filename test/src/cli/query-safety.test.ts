import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DECLARED } from '../../helpers/tables.ts';

const reading = (device: string, seq: number) =>
  JSON.stringify({ device_id: device, device_name: 'bench', site: 'lab', firmware: '1.0', event_time: new Date().toISOString(), seq, temperature_c: 21.5, status: 'ok' });

describe('streamlake query, on SQL that reaches beyond the lake', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  const outside = join(dir.path, 'outside.csv');
  const query = (...args: string[]) => streamlake(['query', '--data-dir', dataDir, ...args]);
  const rows = async () => JSON.parse((await query('--json', 'SELECT count(*) AS n FROM device_logs')).stdout) as [{ n: number }];

  beforeAll(async () => {
    writeFileSync(outside, 'secret\n42\n');
    const input = `${reading('lab-1', 1)}\n${reading('lab-2', 1)}\nthis line is not JSON\n`;
    expect((await streamlake(['produce', '--data-dir', dataDir, '--table', 'device_logs'], { input })).code).toBe(0);
    expect((await streamlake(['compact', '--data-dir', dataDir])).code).toBe(0);
  });
  afterAll(() => dir.remove());

  it('refuses COPY TO into the lake, with exit code 2, and the table keeps its rows', async () => {
    expect(await rows()).toEqual([{ n: 2 }]);
    const target = join(dataDirLayout(dataDir).lakeDir, 'curated/device_logs/dt=2020-01-01/hour=00/x.parquet');
    const result = await query(`COPY (SELECT * FROM device_logs LIMIT 1) TO '${target}'`);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^streamlake: only SELECT queries run on the lake \(this is a COPY statement\).*--unsafe-sql/);
    expect(await rows()).toEqual([{ n: 2 }]);
  });

  it.each([
    ["read_text('/etc/passwd')", '/etc/passwd'],
    ["read_csv('OUTSIDE')", 'outside.csv'],
    ["glob('/etc/*')", '/etc/*'],
  ])('refuses to read %s, naming the file and --unsafe-sql', async (source, named) => {
    const result = await query(`SELECT * FROM ${source.replace('OUTSIDE', outside)}`);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(named);
    expect(result.stderr).toContain('--unsafe-sql');
    expect(result.stdout).toBe('');
  });

  it('refuses a text of several statements, and runs none of them', async () => {
    const result = await query('SELECT 1; SELECT 2');
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('holds 2 SQL statements');
  });

  it('runs SELECTs over the tables and their quarantine, DESCRIBE included', async () => {
    const quarantined = await query('--json', 'SELECT reason FROM device_logs_quarantine');
    expect(quarantined.code).toBe(0);
    expect(JSON.parse(quarantined.stdout)).toEqual([{ reason: 'not_json' }]);
    expect((await query('DESCRIBE device_logs')).code).toBe(0);
  });

  it.each(DECLARED.queries.map((q) => q.name))('runs the named query %s', async (name) => {
    const result = await query('--named', name);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('reads a file outside the lake with --unsafe-sql', async () => {
    const result = await query('--unsafe-sql', '--json', `SELECT secret FROM read_csv('${outside}')`);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ secret: 42 }]);
  });
});
