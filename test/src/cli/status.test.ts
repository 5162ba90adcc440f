import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCheckpoint, runIdOf, serializeCheckpoint } from '../../../lambdas/core/checkpoint.ts';
import { checkpointKey } from '../../../lambdas/core/lake-layout.ts';
import { shardLayoutKey } from '../../../lambdas/core/shards.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';
import { DEFAULT_TABLES_DIR } from '../../../src/local/tables-dir.ts';
import { openTopicReader } from '../../../src/local/topics.ts';
import { deployableTables } from '../../../lib/tables.ts';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';

const MINUTE_MS = 60_000;
const KEY = checkpointKey('device_logs', DEFAULTS.consumerGroup);

interface StatusJson {
  healthy: boolean;
  reasons: string[];
  tables: {
    table: string;
    sequence: number;
    lastRunAt: string | null;
    lastRun: { records: number; rows: number; quarantined: number } | null;
    pendingSince: string | null;
    pendingSequence: number | null;
    lag: { source: string; partitions: Record<string, number>; total: number | null };
    newestEventTime: string | null;
    quarantined24h: Record<string, number> | null;
    unknownFields: string[];
    handover?: { from: number; to: number; waiting: number[]; claims: { shard: number; of: number; pendingSequence: number }[] };
  }[];
}

async function status(dataDir: string, ...args: string[]): Promise<{ code: number | null; json: StatusJson; stderr: string }> {
  const result = await streamlake(['status', '--data-dir', dataDir, '--json', ...args]);
  return { code: result.code, json: JSON.parse(result.stdout) as StatusJson, stderr: result.stderr };
}

// Leaves the checkpoint as a compactor that crashed after its claim leaves it: the topic's records not compacted yet claimed, not committed.
async function leaveClaimed(dataDir: string, startedAt: number): Promise<number> {
  const lake = new LocalLake(dataDirLayout(dataDir).lakeDir);
  const object = (await lake.store.get(KEY))!;
  const state = parseCheckpoint(object.body, KEY);
  const reader = await openTopicReader(deployableTables(DEFAULT_TABLES_DIR).tables[0]!, { dataDir });
  const offsets = await reader.offsets();
  await reader.close();
  const ranges = offsets.map(({ partition, highWatermark }) => ({ partition, from: state.offsets[partition] ?? 0, to: highWatermark })).filter((r) => r.to > r.from);
  expect(ranges.length).toBeGreaterThan(0);
  const pending = { sequence: state.sequence + 1, runId: runIdOf(ranges), ranges, startedAt, gaps: [] };
  const swap = await lake.store.compareAndSwap(KEY, serializeCheckpoint({ ...state, pending }), object.etag);
  expect(swap.ok).toBe(true);
  return pending.sequence;
}

describe('streamlake status on a lake of streamlake local', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('exits 0 on a lake just compacted, with the last run, no claim, no lag and fresh data', async () => {
    const local = await streamlake(['local', '--data-dir', dir.path, '--minutes', '20', '--devices', '10', '--json']);
    expect(local.code).toBe(0);
    const before = Date.now();
    const { code, json } = await status(dir.path);
    expect(json.reasons).toEqual([]);
    expect(code).toBe(0);
    expect(json.healthy).toBe(true);
    const [table] = json.tables;
    expect(table!.table).toBe('device_logs');
    expect(table!.sequence).toBe(4);
    expect(table!.lastRun!.records).toBeGreaterThan(0);
    expect(before - Date.parse(table!.lastRunAt!)).toBeLessThan(10 * MINUTE_MS);
    expect(table!.pendingSince).toBeNull();
    expect(table!.lag).toEqual({ source: 'live', partitions: { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 }, total: 0 });
    expect(before - Date.parse(table!.newestEventTime!)).toBeLessThan(5 * MINUTE_MS);

    const human = await streamlake(['status', '--data-dir', dir.path]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^table\s+run\s+committed/m);
    expect(human.stdout).toMatch(/^device_logs\s+4\s/m);
    expect(human.stdout.trimEnd()).toMatch(/\nhealthy$/);
  }, 60_000);

  it('exits 1 when the newest event is older than --stale-after-minutes, and 0 when the threshold allows it', async () => {
    const start = new Date(Math.floor((Date.now() - 180 * MINUTE_MS) / MINUTE_MS) * MINUTE_MS).toISOString();
    expect((await streamlake(['local', '--data-dir', dir.path, '--minutes', '20', '--devices', '5', '--start', start, '--json'])).code).toBe(0);
    const stale = await status(dir.path);
    expect(stale.code).toBe(1);
    expect(stale.json.healthy).toBe(false);
    expect(stale.json.reasons).toEqual([expect.stringMatching(/^device_logs: the newest event in the lake is 2h \d+m old \(more than 15 min\)/)]);
    expect(stale.stderr).toContain('needs attention');
    const human = await streamlake(['status', '--data-dir', dir.path]);
    expect(human.stdout).toMatch(/needs attention:\n {2}- device_logs: the newest event/);
    expect((await status(dir.path, '--stale-after-minutes', '300')).code).toBe(0);
  }, 60_000);

  it('reports a run a crashed compactor left claimed, and exits 1 once the claim is older than --stuck-after-minutes', async () => {
    expect((await streamlake(['local', '--data-dir', dir.path, '--minutes', '10', '--devices', '5', '--json'])).code).toBe(0);
    const now = new Date().toISOString();
    const records = Array.from({ length: 12 }, (_, i) => JSON.stringify({ device_id: `late-${i}`, device_name: 'n', site: 's', firmware: '1', event_time: now, seq: i, status: 'ok' }));
    expect((await streamlake(['produce', '--data-dir', dir.path], { input: `${records.join('\n')}\n` })).code).toBe(0);
    const claimedAt = Date.now() - 30 * MINUTE_MS;
    const sequence = await leaveClaimed(dir.path, claimedAt);
    const stuck = await status(dir.path);
    expect(stuck.json.tables[0]!.pendingSince).toBe(new Date(claimedAt).toISOString());
    expect(stuck.json.tables[0]!.pendingSequence).toBe(sequence);
    expect(stuck.json.reasons).toEqual([expect.stringMatching(new RegExp(`^device_logs: run ${sequence} was claimed 30m \\d+s ago and has not committed \\(more than 10 min\\)`))]);
    expect(stuck.code).toBe(1);
    // A claim younger than the threshold is a run in progress.
    expect((await status(dir.path, '--stuck-after-minutes', '45')).code).toBe(0);
    // The next compactor run finishes the claim: healthy again.
    expect((await streamlake(['compact', '--data-dir', dir.path, '--json'])).code).toBe(0);
    const finished = await status(dir.path);
    expect(finished.json.tables[0]!.pendingSince).toBeNull();
    expect(finished.json.tables[0]!.sequence).toBe(sequence);
    expect(finished.json.tables[0]!.lastRun!.records).toBe(12);
    expect(finished.code).toBe(0);
  }, 60_000);

  it('shows a handover to 3 shards held up by the single compactor\'s stuck claim, lag from its offsets, until the shards take over', async () => {
    expect((await streamlake(['local', '--data-dir', dir.path, '--minutes', '10', '--devices', '5', '--json'])).code).toBe(0);
    const now = new Date().toISOString();
    const records = Array.from({ length: 12 }, (_, i) => JSON.stringify({ device_id: `late-${i}`, device_name: 'n', site: 's', firmware: '1', event_time: now, seq: i, status: 'ok' }));
    expect((await streamlake(['produce', '--data-dir', dir.path], { input: `${records.join('\n')}\n` })).code).toBe(0);
    const sequence = await leaveClaimed(dir.path, Date.now() - 30 * MINUTE_MS);
    // What the first invocation of a 3-shard deployment writes before it finishes the claim.
    const layout = new TextEncoder().encode('{"count":3,"generation":1}\n');
    expect((await new LocalLake(dataDirLayout(dir.path).lakeDir).store.compareAndSwap(shardLayoutKey('device_logs', DEFAULTS.consumerGroup), layout, null)).ok).toBe(true);
    const handing = await status(dir.path);
    expect(handing.json.tables[0]!.handover).toEqual({ from: 1, to: 3, waiting: [0, 1, 2], claims: [{ shard: 0, of: 1, pendingSequence: sequence, pendingSince: expect.any(String) }] });
    expect(handing.json.tables[0]!.lag.total).toBe(12);
    expect(handing.json.reasons).toEqual([expect.stringMatching(new RegExp(`^device_logs: run ${sequence} of shard 0 of 1 was claimed 30m \\d+s ago and has not committed \\(more than 10 min\\): the handover to 3 shards waits for it`))]);
    expect(handing.code).toBe(1);
    const human = await streamlake(['status', '--data-dir', dir.path]);
    expect(human.stdout).toMatch(new RegExp(`^device_logs\\s+1 → 3 shards\\s+shard 0, 1, 2\\s+shard 0 of 1: .* \\(run ${sequence}\\) stuck$`, 'm'));

    expect((await streamlake(['compact', '--data-dir', dir.path, '--shards', '3', '--json'])).code).toBe(0);
    const done = await status(dir.path);
    expect(done.json.tables[0]!.handover).toBeUndefined();
    expect(done.json.tables[0]!.lag.total).toBe(0);
    expect(done.code).toBe(0);
  }, 60_000);

  it('counts the last day\'s quarantine by reason and the unknown fields, and exits 1 on lag above --max-lag', async () => {
    const now = new Date().toISOString();
    const good = (seq: number) => JSON.stringify({ device_id: 'd1', device_name: 'n', site: 's', firmware: '1', event_time: now, seq, status: 'ok', colour: 'red' });
    const lines = [good(1), good(2), 'not json', '{oops', 'nope', JSON.stringify({ device_id: 'd2', seq: 1 }), JSON.stringify({ device_id: 'd3', seq: 2 })];
    const file = join(dir.path, 'records.ndjson');
    const dataDir = join(dir.path, 'data');
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect((await streamlake(['produce', '--data-dir', dataDir, '--file', file])).code).toBe(0);
    const uncompacted = await status(dataDir, '--max-lag', '6');
    expect(uncompacted.json.tables[0]!.lag.total).toBe(7);
    expect(uncompacted.json.reasons).toEqual(['device_logs: 7 records not compacted (live lag), more than 6: the compactor falls behind']);
    expect(uncompacted.code).toBe(1);

    expect((await streamlake(['compact', '--data-dir', dataDir, '--json'])).code).toBe(0);
    const { code, json } = await status(dataDir, '--max-lag', '6');
    expect(code).toBe(0);
    expect(json.tables[0]!.quarantined24h).toEqual({ not_json: 3, missing_field: 2 });
    expect(json.tables[0]!.lastRun).toEqual({ records: 7, rows: 2, quarantined: 5 });
    expect(json.tables[0]!.unknownFields).toEqual(['colour']);
    expect(json.tables[0]!.lag.total).toBe(0);
    const human = await streamlake(['status', '--data-dir', dataDir]);
    expect(human.stdout).toMatch(/^device_logs\s+not_json\s+3$/m);
    expect(human.stdout).toMatch(/^device_logs\s+missing_field\s+2$/m);
    expect(human.stdout).toContain('unknown fields in device_logs (kept in _extra): colour');
  }, 60_000);

  it('exits 2 on usage errors', async () => {
    expect((await streamlake(['status', '--data-dir', join(dir.path, 'missing')])).code).toBe(2);
    expect((await streamlake(['status', '--data-dir', dir.path, '--stack', 'x'])).code).toBe(2);
    expect((await streamlake(['status', '--aws', '--kafka', 'localhost:9092'])).code).toBe(2);
    expect((await streamlake(['status', '--aws', '--data-dir', dir.path])).code).toBe(2);
    expect((await streamlake(['status', '--data-dir', dir.path, '--max-lag', '-1'])).code).toBe(2);
    expect((await streamlake(['status', '--data-dir', dir.path, '--stuck-after-minutes', '0'])).code).toBe(2);
  }, 30_000);
});
