import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

// Averages rounded to two decimals may differ by one unit in the last place: the two tables' files
// are laid out differently, so DuckDB sums in another order, and a half-way value rounds the other way.
function roundingTolerant(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'number' && !Number.isInteger(value) ? expect.closeTo(value, 1) : value])));
}

const START = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000).toISOString();

describe('streamlake with an Iceberg table', () => {
  let iceberg: ReturnType<typeof tempDir>;
  let hive: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    iceberg = tempDir();
    hive = tempDir();
    const args = ['--minutes', '30', '--devices', '10', '--start', START, '--json'];
    const [a, b] = await Promise.all([
      streamlake(['local', '--data-dir', iceberg.path, '--table-format', 'iceberg', ...args]),
      streamlake(['local', '--data-dir', hive.path, ...args]),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
  });

  afterAll(() => {
    iceberg.remove();
    hive.remove();
  });

  const rows = async (dataDir: string, sql: string, ...flags: string[]) => {
    const result = await streamlake(['query', '--data-dir', dataDir, '--json', ...flags, sql]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>[];
  };

  it('holds the same rows as the Hive-Parquet table of the same run, and answers the named queries the same', async () => {
    // The Hive table has its partition columns besides; the Iceberg table partitions on event_time itself.
    const all = 'SELECT * FROM device_logs ORDER BY kafka_partition, kafka_offset';
    expect(await rows(iceberg.path, all)).toEqual(await rows(hive.path, all.replace('*', '* EXCLUDE (dt, hour)')));
    for (const named of ['anomalies', 'site_summary', 'latest_reading_per_device', 'hourly_averages_per_device', 'late_events']) {
      const [a, b] = await Promise.all([iceberg, hive].map((dir) => streamlake(['query', '--data-dir', dir.path, '--json', '--named', named])));
      expect(JSON.parse(a!.stdout), named).toEqual(roundingTolerant(JSON.parse(b!.stdout)));
    }
  });

  it('lists one snapshot per compactor run, and reads the table as of a snapshot or an instant', async () => {
    const snapshots = await rows(iceberg.path, 'SELECT snapshot_id, committed_at, compactor_run, added_records, total_records FROM device_logs_snapshots ORDER BY compactor_run');
    expect(snapshots.length).toBeGreaterThan(3);
    expect(snapshots.map((s) => s.compactor_run)).toEqual(snapshots.map((_, i) => i + 1));
    const second = snapshots[1]!;
    const count = 'SELECT count(*) AS n FROM device_logs';
    expect(await rows(iceberg.path, count, '--as-of', String(second.snapshot_id))).toEqual([{ n: second.total_records }]);
    expect(await rows(iceberg.path, count, '--as-of', String(second.committed_at))).toEqual([{ n: second.total_records }]);
    expect(await rows(iceberg.path, count)).toEqual([{ n: snapshots.at(-1)!.total_records }]);
  });

  it('refuses a snapshot the table does not have, a time before its first, and --as-of on a lake without Iceberg tables', async () => {
    const unknown = await streamlake(['query', '--data-dir', iceberg.path, '--as-of', '12345', 'SELECT 1']);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/no Iceberg table of this lake \(device_logs\) has snapshot 12345/) });
    const before = await streamlake(['query', '--data-dir', iceberg.path, '--as-of', '2000-01-01T00:00:00Z', 'SELECT 1']);
    expect(before).toMatchObject({ code: 2, stderr: expect.stringMatching(/before the first snapshot/) });
    const onHive = await streamlake(['query', '--data-dir', hive.path, '--as-of', '12345', 'SELECT 1']);
    expect(onHive).toMatchObject({ code: 2, stderr: expect.stringMatching(/Hive-Parquet tables keep no history/) });
    const noZone = await streamlake(['query', '--data-dir', iceberg.path, '--as-of', '2026-01-01T00:00', 'SELECT 1']);
    expect(noZone).toMatchObject({ code: 2, stderr: expect.stringMatching(/ISO-8601 instant with its zone/) });
  });

  it('keeps the format a table was created in: a later run goes on in it, asking for the other one is refused', async () => {
    const refused = await streamlake(['local', '--data-dir', hive.path, '--minutes', '1', '--table-format', 'iceberg']);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/holds device_logs in the hive-parquet format.*use a new --data-dir/) });
    const before = await rows(iceberg.path, 'SELECT count(*) AS n FROM device_logs_snapshots');
    const more = await streamlake(['local', '--data-dir', iceberg.path, '--minutes', '5', '--devices', '10', '--json']);
    expect(more.code, more.stderr).toBe(0);
    expect((await rows(iceberg.path, 'SELECT count(*) AS n FROM device_logs_snapshots'))[0]!.n).toBeGreaterThan(before[0]!.n as number);
  });
});
