import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

interface ShardJson {
  shard: number;
  of: number;
  sequence: number;
  lag: { total: number | null };
}

interface StatusJson {
  healthy: boolean;
  tables: { table: string; lag: { total: number | null }; shards?: ShardJson[] }[];
}

async function json<T>(args: string[]): Promise<T> {
  const result = await streamlake(args);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

describe('--shards: the compactor in shards on the local pipeline', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  afterAll(() => dir.remove());

  async function exactlyOnce(): Promise<{ rows: number; distinct: number }> {
    const [counts] = await json<{ rows: number; distinct: number }[]>([
      'query', '--data-dir', dataDir, '--json',
      'SELECT count(*) AS rows, count(DISTINCT (kafka_partition, kafka_offset)) AS distinct FROM (SELECT kafka_partition, kafka_offset FROM device_logs UNION ALL SELECT kafka_partition, kafka_offset FROM device_logs_quarantine)',
    ]);
    return counts!;
  }

  it('runs 3 shards on every compaction of `streamlake local`, and status shows each shard and the lag summed over them', async () => {
    const summary = await json<{ produced: number; lakeRows: number; quarantined: number; compactions: number }>(['local', '--data-dir', dataDir, '--minutes', '10', '--devices', '30', '--shards', '3', '--json']);
    expect(summary.lakeRows + summary.quarantined).toBe(summary.produced);
    // Two scheduled compactions, three shards each, and the shards' last look that found nothing left.
    expect(summary.compactions).toBeGreaterThanOrEqual(6);
    const status = await json<StatusJson>(['status', '--data-dir', dataDir, '--json']);
    const table = status.tables.find((t) => t.table === 'device_logs')!;
    expect(table.shards!.map((s) => [s.shard, s.of, s.lag.total])).toEqual([[0, 3, 0], [1, 3, 0], [2, 3, 0]]);
    expect(table.shards!.every((s) => s.sequence > 0)).toBe(true);
    expect(table.lag.total).toBe(0);
    const human = await streamlake(['status', '--data-dir', dataDir]);
    expect(human.stdout).toMatch(/^device_logs\s+1 of 3\s+\d+/m);
    expect(await exactlyOnce()).toMatchObject({ rows: summary.produced, distinct: summary.produced });
  });

  it('hands the partitions over when the shard count changes, with `streamlake compact --shards` too, every record once', async () => {
    const more = await json<{ produced: number }>(['local', '--data-dir', dataDir, '--minutes', '5', '--devices', '30', '--shards', '2', '--json']);
    expect(more.produced).toBe(150);
    await json(['local', '--data-dir', dataDir, '--minutes', '5', '--devices', '30', '--shards', '4', '--json']);
    const reports = await json<Record<string, { runs: number; shards: unknown[] }>>(['compact', '--data-dir', dataDir, '--shards', '2', '--json']);
    expect(reports['device_logs']!.shards).toHaveLength(2);
    const status = await json<StatusJson>(['status', '--data-dir', dataDir, '--json']);
    expect(status.tables.find((t) => t.table === 'device_logs')!.shards!.map((s) => s.of)).toEqual([2, 2]);
    const { rows, distinct } = await exactlyOnce();
    expect(rows).toBe(distinct);
    expect(rows).toBe(300 + 150 + 150);
  });
});
