import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

// Three whole hours before the current one, so that with --closed-after-hours 1 the first two are closed for sure.
const START = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000).toISOString();

describe('streamlake optimize', () => {
  let iceberg: ReturnType<typeof tempDir>;
  let hive: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    iceberg = tempDir();
    hive = tempDir();
    const args = ['--minutes', '150', '--devices', '20', '--start', START, '--json'];
    const [a, b] = await Promise.all([
      streamlake(['local', '--data-dir', iceberg.path, '--table-format', 'iceberg', ...args]),
      streamlake(['local', '--data-dir', hive.path, '--minutes', '10', '--devices', '5', '--json']),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
  }, 120_000);

  afterAll(() => {
    iceberg.remove();
    hive.remove();
  });

  const rows = async (sql: string) => {
    const result = await streamlake(['query', '--data-dir', iceberg.path, '--json', sql]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>[];
  };

  it('merges the closed hours of an Iceberg table into one file each, with the same rows, and reports it as JSON by table', { timeout: 60_000 }, async () => {
    const keys = 'SELECT count(*) AS n, count(DISTINCT (kafka_partition, kafka_offset)) AS d, sum(hash(kafka_partition, kafka_offset, device_id, event_time, temperature_c)) AS h FROM device_logs';
    const before = await rows(keys);
    const result = await streamlake(['optimize', '--data-dir', iceberg.path, '--closed-after-hours', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const reports = JSON.parse(result.stdout) as Record<string, Record<string, any>>;
    expect(Object.keys(reports)).toEqual(['device_logs']);
    const report = reports.device_logs!;
    expect(Object.keys(report).sort()).toEqual(
      ['table', 'snapshotId', 'closedBefore', 'partitionsMerged', 'filesBefore', 'filesAfter', 'rowsRewritten', 'bytesBefore', 'bytesAfter', 'partitions', 'commitAttempts', 'snapshotsExpired', 'filesRemoved'].sort(),
    );
    expect(report.snapshotId).toMatch(/^\d+$/);
    expect(report.partitionsMerged).toBeGreaterThanOrEqual(2);
    expect(report.filesAfter).toBe(report.partitionsMerged);
    expect(report.filesBefore).toBeGreaterThan(report.filesAfter);
    const closed = (report.partitions as { closed: boolean; filesAfter: number }[]).filter((p) => p.closed);
    expect(closed.every((p) => p.filesAfter === 1)).toBe(true);
    expect(Object.keys(report.filesRemoved).sort()).toEqual(['bytes', 'dataFiles', 'manifestLists', 'manifests', 'metadataFiles']);
    expect(await rows(keys)).toEqual(before);
    const [latest] = await rows('SELECT operation FROM device_logs_snapshots ORDER BY committed_at DESC LIMIT 1');
    expect(latest).toEqual({ operation: 'replace' });

    const again = await streamlake(['optimize', '--data-dir', iceberg.path, '--closed-after-hours', '1']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('device_logs: no closed hour has small files to merge');
    expect(again.stdout).toMatch(/files per closed hour: max \d+, median \d+ before, max 1, median 1 after/);
  });

  it('refuses a Hive-Parquet table named with --table, saying why, and skips Hive tables otherwise', async () => {
    const named = await streamlake(['optimize', '--data-dir', hive.path, '--table', 'device_logs']);
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/^streamlake: table device_logs is stored as Hive-style Parquet: optimize merges the files of Iceberg tables only/);
    expect(named.stderr).toContain('--table-format iceberg');
    const all = await streamlake(['optimize', '--data-dir', hive.path]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe('no Iceberg table in this lake: nothing to optimize\n');
    expect(all.stderr).toBe('not optimized, stored as Hive-style Parquet: device_logs\n');
    const json = await streamlake(['optimize', '--data-dir', hive.path, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({});
  });

  it('exits 2 on a retention too short to be safe, a bad number, or a data directory that does not exist', async () => {
    const short = await streamlake(['optimize', '--data-dir', iceberg.path, '--retention-days', '0.5']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("option '--retention-days <n>' argument '0.5' is invalid. must be 1 or more: an unreferenced file younger than 1 day may belong to a commit still in flight");
    const bad = await streamlake(['optimize', '--data-dir', iceberg.path, '--target-file-mb', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be a positive number');
    const missing = await streamlake(['optimize', '--data-dir', `${iceberg.path}/nowhere`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does not exist');
  });
});
