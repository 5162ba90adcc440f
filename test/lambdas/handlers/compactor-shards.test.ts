import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parseCheckpoint } from '../../../lambdas/core/checkpoint.ts';
import { checkpointKey } from '../../../lambdas/core/lake-layout.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { createCompactorHandler as CreateCompactorHandler } from '../../../lambdas/handlers/compactor.ts';
import { ENV } from '../../../lambdas/handlers/environment.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorSettings } from '../../../lib/functions/pipeline-functions.ts';
import { FakeS3 } from '../../helpers/fake-s3.ts';
import { tempDir } from '../../helpers/lake.ts';
import { captureMetrics, type CapturedMetrics } from '../../helpers/metrics.ts';
import { DEVICE_LOGS, TABLES_DIR } from '../../helpers/tables.ts';
import { BROKERS_GONE, failingFromRead } from '../../helpers/compactor.ts';

const BUCKET = 'streamlake-lake-test';
const START = Date.UTC(2026, 6, 1, 8, 0);

let createCompactorHandler: typeof CreateCompactorHandler;

function environment(settings: Record<string, string>): NodeJS.ProcessEnv {
  return {
    AWS_REGION: 'eu-west-1', [ENV.bootstrapBrokers]: 'b-1.example:9098', [ENV.topic]: DEVICE_LOGS.topic, [ENV.table]: DEVICE_LOGS.name,
    [ENV.tablesDir]: TABLES_DIR, [ENV.consumerGroup]: DEFAULTS.consumerGroup, [ENV.lakeBucket]: BUCKET, POWERTOOLS_METRICS_DISABLED: 'false', ...settings,
  };
}

/** A Lambda context with this much time left, all along. */
const lambdaContext = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs });

describe('compactor handler with shards, working to its time budget', () => {
  const saved = process.env;
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  let metrics: CapturedMetrics;

  // The handler's Metrics print EMF documents only when enabled when its module loads (vitest.config disables them): a fresh copy, loaded enabled.
  beforeAll(async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    vi.resetModules();
    ({ createCompactorHandler } = await import('../../../lambdas/handlers/compactor.ts'));
    metrics = captureMetrics();
  });
  afterAll(() => metrics.restore());

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: DEFAULTS.topicName, partitions: 6 });
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 30 });
    for (let minute = 1; minute <= 20; minute++) await produceMinute(fleet, log, START + minute * 60_000);
  });

  afterEach(async () => {
    process.env = saved;
    await log.close();
    dir.remove();
  });

  it('compacts the event\'s shard in runs until it caught up, and publishes its figures by table and shard', async () => {
    const s3 = new FakeS3(BUCKET);
    process.env = environment({ ...compactorSettings(DEFAULTS), [ENV.maxRecordsPerRun]: '60', [ENV.compactorShards]: '3' });
    const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log });

    const summaries = [];
    for (const shard of [0, 1, 2]) summaries.push(await handler({ shard }, lambdaContext(200_000)));

    expect(summaries.reduce((sum, s) => sum + s.recordsRead, 0)).toBe(600);
    for (const [shard, summary] of summaries.entries()) {
      expect(summary).toMatchObject({ shard, shards: 3, caughtUp: true, stoppedBy: 'caught-up' });
      expect(summary.runs).toBeGreaterThan(1); // 200 records of a shard, at most 60 a run
      expect(Object.keys(summary.lag).map(Number).every((p) => p % 3 === shard)).toBe(true);
      const key = checkpointKey(DEVICE_LOGS.name, `${DEFAULTS.consumerGroup}.shard-${shard}-of-3`);
      expect(parseCheckpoint(s3.objects.get(key)!.body, key).sequence).toBe(summary.runs);
    }
    const runs = metrics.documents('Runs').slice(-3);
    expect(runs.map((d) => [d['Table'], d['Shard'], d['service'], d['Runs']])).toEqual(summaries.map((s) => ['device_logs', String(s.shard), 'compactor', s.runs]));
    for (const name of ['InvocationDuration', 'CaughtUp', 'RecordsRead', 'RowsWritten', 'RecordsQuarantined', 'ParquetBytes', 'OffsetGapRecords', 'ConsumerLag', 'UnknownFields']) {
      expect(metrics.documents(name).slice(-3).map((d) => d['Shard']), name).toEqual(['0', '1', '2']);
    }
    expect(metrics.values('CaughtUp').slice(-3)).toEqual([1, 1, 1]);
    expect(metrics.values('RecordsRead').slice(-3)).toEqual(summaries.map((s) => s.recordsRead));
    expect(metrics.values('ConsumerLag').slice(-3)).toEqual([0, 0, 0]);
  });

  it('stops when the budget is spent, saying it did not catch up', async () => {
    const s3 = new FakeS3(BUCKET);
    process.env = environment({ ...compactorSettings(DEFAULTS), [ENV.maxRecordsPerRun]: '60' });
    const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log });
    // No time beyond the first run (the floor alone is 10 s).
    const summary = await handler({}, lambdaContext(5_000));
    expect(summary).toMatchObject({ shard: 0, shards: 1, runs: 1, caughtUp: false, stoppedBy: 'budget', recordsRead: 60 });
    expect(metrics.values('CaughtUp').at(-1)).toBe(0);
    expect(metrics.documents('Runs').at(-1)).toMatchObject({ Shard: '0', Table: 'device_logs' });
    // One shard is today's compactor: its checkpoint under the group itself.
    expect(s3.objects.has(checkpointKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup))).toBe(true);
  });

  it('publishes the figures of the runs committed before a run failed, and fails with that run\'s error', async () => {
    const s3 = new FakeS3(BUCKET);
    process.env = environment({ ...compactorSettings(DEFAULTS), [ENV.maxRecordsPerRun]: '60' });
    // A run reads each of the 6 partitions once: the thirteenth read is the third run's, and every read after it fails too.
    const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async () => failingFromRead(log, 13) });
    const published = metrics.values('Runs').length;

    await expect(handler({}, lambdaContext(200_000))).rejects.toThrow(BROKERS_GONE);
    const key = checkpointKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup);
    expect(parseCheckpoint(s3.objects.get(key)!.body, key)).toMatchObject({ sequence: 2, pending: { sequence: 3 } });
    expect(metrics.values('Runs').slice(published)).toEqual([2]);
    expect(metrics.values('RecordsRead').at(-1)).toBe(120);
    expect(metrics.values('CaughtUp').at(-1)).toBe(0);
    expect(metrics.values('ConsumerLag').at(-1)).toBe(600 - 120);

    // An invocation whose first run fails committed nothing, and publishes nothing (a lag of 0 would be a lie).
    await expect(handler({}, lambdaContext(200_000))).rejects.toThrow(BROKERS_GONE);
    expect(metrics.values('Runs').slice(published)).toEqual([2]);
  });

  it('refuses an event naming a shard the function does not have, and a shard count that is not a positive integer', async () => {
    const s3 = new FakeS3(BUCKET);
    process.env = environment({ ...compactorSettings(DEFAULTS), [ENV.compactorShards]: '2' });
    const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log });
    await expect(handler({ shard: 2 }, lambdaContext(60_000))).rejects.toMatchObject({ name: 'ShardError' });
    await expect(handler({ shard: 2 }, lambdaContext(60_000))).rejects.toThrow(/names shard 2, but STREAMLAKE_COMPACTOR_SHARDS is 2: .*from 0 to 1/);
    await expect(handler({ shard: -1 }, lambdaContext(60_000))).rejects.toMatchObject({ name: 'ShardError' });
    process.env = environment({ ...compactorSettings(DEFAULTS), [ENV.compactorShards]: '1.5' });
    await expect(createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log })({}, lambdaContext(60_000))).rejects.toThrow(/STREAMLAKE_COMPACTOR_SHARDS must be a positive integer/);
  });
});
