import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EMBEDDED_LOG_MAX_PARTITIONS } from '../../../src/local/topics.ts';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

const reading = JSON.stringify({ device_id: 'lab-1', device_name: 'bench', site: 'lab', firmware: '1.0', event_time: new Date().toISOString(), seq: 1, status: 'ok' });

describe('streamlake, on a data directory or a flag it cannot use', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it.each([
    ['local', '--minutes', '1', '--partitions', '100000'],
    ['produce', '--table', 'device_logs', '--partitions', String(EMBEDDED_LOG_MAX_PARTITIONS + 1)],
  ])('refuses %s with more partitions than the embedded log holds, with exit code 2, before writing anything', async (...args) => {
    const dataDir = join(dir.path, `too-many-${args[0]}`);
    const result = await streamlake([...args, '--data-dir', dataDir], { input: `${reading}\n` });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`the embedded log's ${EMBEDDED_LOG_MAX_PARTITIONS}`);
    expect(result.stderr).toContain('--kafka');
    expect(existsSync(dataDir)).toBe(false);
  });

  it.each([
    { command: 'local', args: ['local', '--minutes', '1'], what: 'a file', below: false },
    { command: 'produce', args: ['produce', '--table', 'device_logs'], what: 'a file', below: false },
    { command: 'compact', args: ['compact'], what: 'a file', below: false },
    { command: 'query', args: ['query', 'SELECT 1'], what: 'a file', below: false },
    { command: 'local', args: ['local', '--minutes', '1'], what: 'below a file', below: true },
    { command: 'produce', args: ['produce', '--table', 'device_logs'], what: 'below a file', below: true },
  ])('refuses $command on a --data-dir $what with exit code 2: "is not a directory"', async ({ args, below }) => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const dataDir = below ? join(file, 'data') : file;
    const result = await streamlake([...args, '--data-dir', dataDir], { input: `${reading}\n` });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([`streamlake: data directory ${dataDir} is not a directory${below ? ` (${file} is a file)` : ''}: pass a directory, or a path that does not exist yet, to --data-dir`]);
  });

  it('refuses produce --file naming a directory with exit code 2 and a usage message', async () => {
    const lines = join(dir.path, 'lines');
    mkdirSync(lines, { recursive: true });
    const result = await streamlake(['produce', '--table', 'device_logs', '--file', lines, '--data-dir', join(dir.path, 'produced')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^streamlake: --file .*lines is a directory, not a file of lines: pass one file to --file/);
    expect(existsSync(join(dir.path, 'produced'))).toBe(false);
  });

  it("says, after a second run on one data directory, which figures are this run's and which the whole lake's", async () => {
    const dataDir = join(dir.path, 'twice');
    const run = () => streamlake(['local', '--minutes', '2', '--devices', '2', '--data-dir', dataDir]);
    expect((await run()).code).toBe(0);
    const second = await run();
    expect(second.code).toBe(0);
    const summary = second.stdout.split('\n\n').slice(1, 3);
    expect(summary[0]).toMatch(/^ {2}this run:\n {2}events produced +4 .*\n {2}compactor runs +\d+$/);
    expect(summary[1]).toMatch(/^ {2}the whole lake, every run so far \(table device_logs\):\n {2}rows in the lake +\d+\n {2}quarantined +\d+ .*\n {2}Parquet files +\d+ +\([\d.]+ KB\)$/);
    const [, rows, quarantined] = /rows in the lake +(\d+)\n {2}quarantined +(\d+)/.exec(summary[1]!)!;
    expect(Number(rows) + Number(quarantined)).toBe(8);
  });
});
