import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TABLES_DIR } from '../../../src/local/tables-dir.ts';
import { streamlakeOn } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

const { json } = streamlakeOn(DEFAULT_TABLES_DIR);

describe('<table>_snapshots of an Iceberg table whose compactor runs in shards', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('names the shard that committed each run with its own run, after a handover from the single compactor', async () => {
    const args = ['--data-dir', dir.path, '--table-format', 'iceberg', '--minutes', '10', '--devices', '10'];
    await json(['local', ...args]);
    await json(['local', ...args, '--shards', '3']);
    const runs = await json<{ compactor_shard: string | null; runs: number[] }[]>([
      'query', '--data-dir', dir.path,
      "SELECT compactor_shard, list(compactor_run::INTEGER ORDER BY compactor_run) AS runs FROM device_logs_snapshots WHERE operation = 'append' GROUP BY compactor_shard ORDER BY compactor_shard NULLS FIRST",
    ]);
    const status = await json<{ tables: { shards: { shard: number; of: number; sequence: number }[] }[] }>(['status', '--data-dir', dir.path, '--stale-after-minutes', '1000']);
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    // The single compactor's runs, then each shard's own from 1: one snapshot per run, none unnamed.
    expect(runs[0]!.compactor_shard).toBeNull();
    expect(runs[0]!.runs).toEqual(upTo(runs[0]!.runs.length));
    expect(runs.slice(1)).toEqual(status.tables[0]!.shards.map((s) => ({ compactor_shard: `shard-${s.shard}-of-${s.of}`, runs: upTo(s.sequence) })));
    expect(status.tables[0]!.shards.every((s) => s.sequence > 0)).toBe(true);
  }, 60_000);
});
