import packageJson from '../../../package.json' with { type: 'json' };
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { streamlake } from '../../helpers/cli.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DECLARED, DEVICE_LOGS } from '../../helpers/tables.ts';

const event = (device: string, seq: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    device_id: device, device_name: `sensor ${device}`, site: 'lab', firmware: '1.0.0', event_time: new Date().toISOString(),
    seq, temperature_c: 21.5, humidity_pct: 40, battery_pct: 90, status: 'ok', ...extra,
  });

describe('streamlake command', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  afterAll(() => dir.remove());

  it('prints its version', async () => {
    const result = await streamlake(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${packageJson.version}\n` });
  });

  it('runs the local pipeline and prints only a JSON summary with --json', async () => {
    const result = await streamlake(['local', '--minutes', '10', '--devices', '5', '--data-dir', dataDir, '--start', '2026-05-01T10:00Z', '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ produced: 50, files: expect.any(Number), quarantined: expect.any(Number), dataDir });
    expect(summary.lakeRows).toBe(50 - (summary.quarantined as number));
  });

  it('prints the summary and named query results as tables', async () => {
    const result = await streamlake(['local', '--minutes', '5', '--devices', '3', '--data-dir', join(dir.path, 'human')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/events produced\s+15/);
    expect(result.stdout).toMatch(/rows in the lake\s+\d+/);
    expect(result.stdout).toContain('latest_reading_per_device');
    expect(result.stdout).toMatch(/dev-00003\s+\S+\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    expect(result.stderr).toContain('compactor run');
  });

  it.each([
    { args: ['local', '--minutes', 'ten'], mention: '--minutes' },
    { args: ['local', '--devices', '0'], mention: '--devices' },
    { args: ['local', '--codec', 'gzip'], mention: '--codec' },
    { args: ['local', '--no-such-flag'], mention: '--no-such-flag' },
    { args: ['frobnicate'], mention: 'frobnicate' },
  ])('rejects $args with exit code 2 and a message naming the problem', async ({ args, mention }) => {
    const result = await streamlake(args);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toContain(mention);
    expect(result.stdout).toBe('');
  });

  it.each([['compact'], ['query', 'SELECT 1']])('refuses %s on a missing data directory with exit code 2', async (...args) => {
    const result = await streamlake([...args, '--data-dir', join(dir.path, 'missing')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('streamlake local --data-dir');
  });

  it('produces lines from stdin keyed by the declared key, and the compactor quarantines the bad ones with their reasons', async () => {
    const lines = [event('lab-1', 1), 'not json', '[1,2]', event('lab-1', 2, { status: 'melting' }), event('lab-2', 1, { device_name: undefined }), event('lab-2', 2)];
    const log = await LocalLog.open({ dir: dataDirLayout(dataDir).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const before = await log.offsets();
    const produced = await streamlake(['produce', '--data-dir', dataDir, '--table', 'device_logs', '--json'], { input: `${lines.join('\n')}\n` });
    expect(produced.code).toBe(0);
    expect(JSON.parse(produced.stdout)).toMatchObject({ table: 'device_logs', topic: 'device-logs', produced: 6, unkeyed: 2 });
    const keys: (string | null)[] = [];
    for (const { partition, highWatermark } of await log.offsets()) {
      for await (const batch of log.read(partition, before[partition]!.highWatermark, highWatermark)) keys.push(...batch.records.map((r) => (r.key ? Buffer.from(r.key).toString() : null)));
    }
    expect(keys.sort()).toEqual(['lab-1', 'lab-1', 'lab-2', 'lab-2', null, null]);

    const compacted = await streamlake(['compact', '--data-dir', dataDir, '--json']);
    expect(compacted.code).toBe(0);
    const reports = JSON.parse(compacted.stdout) as Record<string, { rowsWritten: number; quarantined: number; files: string[]; quarantineReasons: Record<string, number> }>;
    expect(Object.keys(reports)).toEqual(['device_logs']);
    expect(reports.device_logs).toMatchObject({ rowsWritten: 2, quarantined: 4, quarantineReasons: { not_json: 1, not_object: 1, invalid_value: 1, missing_field: 1 } });

    const quarantine = await streamlake(['query', '--data-dir', dataDir, '--json', "SELECT reason, raw_base64 FROM device_logs_quarantine WHERE reason = 'not_json'"]);
    const rows = JSON.parse(quarantine.stdout) as { raw_base64: string }[];
    expect(rows.map((r) => Buffer.from(r.raw_base64, 'base64').toString())).toEqual(['not json']);
  });

  it('reads records from --file', async () => {
    const file = join(dir.path, 'events.ndjson');
    writeFileSync(file, `${event('lab-3', 1)}\n${event('lab-3', 2)}\n`);
    const result = await streamlake(['produce', '--data-dir', dataDir, '--file', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('produced 2 records to topic device-logs (table device_logs, 6 partitions)');
  });

  it('creates the data directory and the topic on the first produce', async () => {
    const fresh = join(dir.path, 'fresh');
    const result = await streamlake(['produce', '--data-dir', fresh, '--json'], { input: event('lab-9', 1) });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ produced: 1, unkeyed: 0, partitions: 6 });
    const log = await LocalLog.open({ dir: dataDirLayout(fresh).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    expect((await log.offsets()).reduce((sum, o) => sum + o.highWatermark, 0)).toBe(1);
  });

  it.each([
    { args: ['--file', '/nowhere.ndjson'], says: 'no file /nowhere.ndjson' },
    { args: ['--file', '/tmp'], says: '--file /tmp is a directory, not a file of lines' },
    { args: ['--table', 'nope'], says: 'no table "nope" is declared' },
    { args: ['--key-field', 'device_id'], says: "unknown option '--key-field'" },
  ])('refuses produce $args with exit code 2 before producing anything', async ({ args, says }) => {
    const result = await streamlake(['produce', '--data-dir', join(dir.path, 'never'), ...args], { input: event('lab-9', 1) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(says);
    expect(existsSync(join(dir.path, 'never'))).toBe(false);
  });

  it('runs named queries and SQL, as aligned tables or JSON', async () => {
    const named = await streamlake(['query', '--data-dir', dataDir, '--named', 'site_summary', '--json']);
    expect(named.code).toBe(0);
    expect((JSON.parse(named.stdout) as { site: string }[]).map((r) => r.site)).toContain('lab');
    const table = await streamlake(['query', '--data-dir', dataDir, "SELECT device_id, count(*) AS n FROM device_logs WHERE site = 'lab' GROUP BY device_id ORDER BY device_id"]);
    expect(table.stdout.split('\n').slice(0, 3)).toEqual(['device_id  n', '---------  -', 'lab-1      1']);
  });

  it('rejects an unknown named query or a query with both SQL and --named', async () => {
    expect((await streamlake(['query', '--data-dir', dataDir, '--named', 'nope'])).code).toBe(2);
    expect((await streamlake(['query', '--data-dir', dataDir, '--named', 'anomalies', 'SELECT 1'])).code).toBe(2);
    const bad = await streamlake(['query', '--data-dir', dataDir, 'SELEKT 1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('syntax error');
  });

  it("lists every table's named queries with their table", async () => {
    const result = await streamlake(['queries']);
    expect(result.stdout.split('\n')[0]).toMatch(/^name\s+table\s+description$/);
    for (const query of DECLARED.queries) expect(result.stdout).toMatch(new RegExp(`^${query.name}\\s+device_logs\\s+`, 'm'));
    const json = await streamlake(['queries', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(DECLARED.queries);
  });

  it('never duplicates when two compactor processes run at once', async () => {
    const concurrent = join(dir.path, 'concurrent');
    await streamlake(['local', '--minutes', '3', '--devices', '50', '--data-dir', concurrent, '--json']);
    const lines = Array.from({ length: 3000 }, (_, i) => event(`dev-${i % 97}`, i));
    expect((await streamlake(['produce', '--data-dir', concurrent], { input: lines.join('\n') })).code).toBe(0);
    const runs = await Promise.all([streamlake(['compact', '--data-dir', concurrent, '--json']), streamlake(['compact', '--data-dir', concurrent, '--json'])]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    const log = await LocalLog.open({ dir: dataDirLayout(concurrent).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const audit = await auditLake(dataDirLayout(concurrent).lakeDir, await log.offsets());
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
  });
});
