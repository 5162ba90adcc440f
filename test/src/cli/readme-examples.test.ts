import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/lake.ts';
import { bashBlocks, npxShim, streamlakeCommands } from '../../helpers/readme-examples.ts';

const README = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
const SECTIONS = ['The `streamlake` command', 'Your own tables', 'Iceberg tables'];

// The README's examples, as written, one bash per block in one scratch directory (so `shop/…` and
// `.streamlake` land there), `npx streamlake` running this checkout. Only an ERR trap is put before
// each block, to catch a failing command that is not `npx streamlake`.
describe('the README examples', () => {
  const dir = tempDir();
  const shim = npxShim(join(dir.path, '.shim'));
  const work = join(dir.path, 'work');
  afterAll(() => dir.remove());

  it('run as written: every command exits as its comment says, and prints what the text says', { timeout: 180_000 }, () => {
    const blocks = SECTIONS.flatMap((section) => bashBlocks(README, section));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    mkdirSync(work, { recursive: true });
    const expected = blocks.flatMap(streamlakeCommands);
    for (const block of blocks) {
      const run = spawnSync('bash', ['-c', `trap 'echo "line $((LINENO - 1)) exited $?" >&2' ERR\n${block}`], { cwd: work, env: shim.env, encoding: 'utf8' });
      // A failure the README announces (`# exit 1`) is the only one allowed.
      const failures = [...run.stderr.matchAll(/^line (\d+) exited (\d+)$/gm)].map(([, line, code]) => ({ line: Number(line), code: Number(code) }));
      const announced = streamlakeCommands(block).filter((c) => c.exitCode !== 0).map(({ line, exitCode }) => ({ line, code: exitCode }));
      expect(failures, `${block}\n${run.stderr}`).toEqual(announced);
    }
    const calls = shim.calls();
    expect(calls.map((c) => c.code)).toEqual(expected.map((c) => c.exitCode));
    calls.forEach((call, i) => expect(expected[i]!.text).toContain(`npx streamlake ${call.args.split(' ')[0]}`));
    const output = (pattern: RegExp) => calls.find((c) => pattern.test(c.args))!;

    // The streamlake command's example: rssi_dbm kept in _extra, the line that is not JSON in quarantine.
    expect(output(/^query .*device_id = 'lab-1'/).stdout).toMatch(/lab-1 .*\{"rssi_dbm":-70\}/);
    expect(output(/^query .*device_logs_quarantine/).stdout).toContain('not_json');
    // Your own tables: o-1 and o-2 landed, o-2's coupon kept in _extra; o-3 quarantined for its quantity.
    const orders = output(/^query .*ORDER BY order_id$/).stdout;
    expect(orders).toMatch(/o-1 .*Lisbon/);
    expect(orders).toMatch(/o-2 .*12345678\.05.*\{"coupon":"SPRING"\}/);
    expect(orders).not.toContain('o-3');
    expect(output(/^query .*FROM orders_quarantine/).stdout).toMatch(/invalid_value .*quantity/);
    expect(output(/--named orders_per_day/).stdout).toMatch(/^dt\s+orders\s+revenue_eur/);
    // After the compatible change: o-4's coupon is a column of its own.
    expect(output(/^query .*channel, coupon/).stdout).toMatch(/o-4 +phone +SPRING/);
    // Redrive: o-3 lands with its lineage once the minimum is 0, its quarantine line marked; a second redrive adds nothing.
    expect(output(/^redrive .*--dry-run/).stdout).toContain('orders (dry run, nothing written): 1 of 1 quarantined record would pass now');
    const redrives = calls.filter((c) => /^redrive /.test(c.args) && !c.args.includes('--dry-run'));
    expect(redrives.map((c) => c.stdout.split('\n')[0])).toEqual(['orders: redrove 1 record into the table with their Kafka lineage in run 1; 0 stay in quarantine', 'orders: no quarantined record to redrive']);
    expect(output(/^query .*quantity, kafka_partition/).stdout).toMatch(/o-3 +0 +\d+ +\d+/);
    expect(output(/^query .*redriven_at, redrive_run FROM orders_quarantine/).stdout).toMatch(/invalid_value +\d{4}-\d\d-\d\d [\d:.]+ +1$/m);
    // After the incompatible one: the reason, and nothing written.
    const refused = calls.find((c) => c.code === 1 && c.args.startsWith('schema check'))!;
    expect(refused.stdout + refused.stderr).toContain('field gift was removed or renamed');
    // Iceberg tables: a snapshot per compactor run, and fewer rows 20 minutes ago than now.
    expect(output(/FROM device_logs_snapshots/).stdout.split('\n').filter((line) => / append /.test(line)).length).toBeGreaterThanOrEqual(6);
    const count = (pattern: RegExp) => Number(output(pattern).stdout.trim().split('\n').at(-1));
    expect(count(/rows_20_minutes_ago/)).toBeGreaterThan(0);
    expect(count(/rows_20_minutes_ago/)).toBeLessThan(count(/rows_now/));
    expect(output(/^optimize /).stdout).toMatch(/^device_logs: /);
  });
});
