import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import { checkpointKey, curatedPrefix } from '../../../lambdas/core/lake-layout.ts';
import { shardLayoutKey } from '../../../lambdas/core/shards.ts';
import { createCompactorHandler } from '../../../lambdas/handlers/compactor.ts';
import { ENV } from '../../../lambdas/handlers/environment.ts';
import { createGeneratorHandler } from '../../../lambdas/handlers/generator.ts';
import type { KafkaConnection } from '../../../lambdas/adapters/kafka.ts';
import type { OutgoingRecord, TopicWriter } from '../../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorSettings, generatorSettings } from '../../../lib/functions/pipeline-functions.ts';
import { compactLocal } from '../../../src/local/runner.ts';
import { FakeS3 } from '../../helpers/fake-s3.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS, TABLES_DIR } from '../../helpers/tables.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';

const BUCKET = 'streamlake-lake-test';
const START = Date.UTC(2026, 6, 1, 8, 0);

/** The environment the CDK gives each function, from the same config and setting builders (the declarations from tables/ rather than the bundle's copy). */
function deployedEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  return {
    AWS_REGION: 'eu-west-1',
    [ENV.bootstrapBrokers]: 'b-1.example:9098,b-2.example:9098',
    [ENV.topic]: DEVICE_LOGS.topic,
    [ENV.table]: DEVICE_LOGS.name,
    [ENV.tablesDir]: TABLES_DIR,
    [ENV.consumerGroup]: DEFAULTS.consumerGroup,
    [ENV.lakeBucket]: BUCKET,
    ...settings,
  };
}

describe('handlers', () => {
  const saved = process.env;
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;

  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: DEFAULTS.topicName, partitions: 3 });
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 20, corruptShare: 0.05 });
    for (let minute = 1; minute <= 30; minute++) await produceMinute(fleet, log, START + minute * 60_000);
  });

  afterEach(async () => {
    process.env = saved;
    await log.close();
    dir.remove();
  });

  describe('compactor', () => {
    it('claims, writes create-once files and commits the checkpoint with exactly these S3 requests', async () => {
      const s3 = new FakeS3(BUCKET);
      const connections: KafkaConnection[] = [];
      process.env = deployedEnvironment(compactorSettings(DEFAULTS));
      const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async (connection) => (connections.push(connection), log) });

      const summary = await handler();

      expect(connections).toEqual([{ brokers: ['b-1.example:9098', 'b-2.example:9098'], topic: 'device-logs', clientId: 'streamlake-compactor', auth: { mechanism: 'msk-iam', region: 'eu-west-1' }, tls: true }]);
      const key = checkpointKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup);
      // The checkpoint, then the shard layout (absent: one shard), read after it so a takeover since is seen.
      expect(s3.mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: key }, { Bucket: BUCKET, Key: shardLayoutKey(DEVICE_LOGS.name, DEFAULTS.consumerGroup) }]);
      const puts = s3.mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
      const [claim, ...rest] = puts;
      const commit = rest.pop()!;
      expect(claim).toMatchObject({ Bucket: BUCKET, Key: key, IfNoneMatch: '*', ContentType: 'application/json' });
      expect(claim!.IfMatch).toBeUndefined();
      expect(commit).toMatchObject({ Bucket: BUCKET, Key: key, IfMatch: expect.stringMatching(/^"[0-9a-f]{32}"$/) });
      expect(commit.IfNoneMatch).toBeUndefined();
      expect(rest.length).toBe(summary.files + summary.quarantineFiles);
      for (const file of rest) {
        expect(file).toMatchObject({ Bucket: BUCKET, IfNoneMatch: '*' });
        expect(file.ContentType).toBe(file.Key!.startsWith(curatedPrefix(DEVICE_LOGS.name)) ? 'application/vnd.apache.parquet' : 'application/x-ndjson');
      }
      expect(summary.rowsWritten + summary.quarantined).toBe(600);
    });

    it('writes the same files, byte for byte, as the local runner: one core, two compositions', async () => {
      const s3 = new FakeS3(BUCKET);
      process.env = deployedEnvironment(compactorSettings(DEFAULTS));
      await createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log })();

      const local = new LocalLake(join(dir.path, 'lake'));
      await compactLocal(DEVICE_LOGS, log, local, Date.now(), DEFAULTS.codec);

      const deployed = [...s3.objects].filter(([key]) => !key.startsWith('checkpoints/')).sort(([a], [b]) => a.localeCompare(b));
      const localFiles = (await local.store.list('')).filter((e) => !e.key.startsWith('checkpoints/'));
      expect(deployed.map(([key]) => key)).toEqual(localFiles.map((e) => e.key));
      for (const [key, object] of deployed) expect(Buffer.from(object.body).equals(Buffer.from((await local.store.get(key))!.body)), key).toBe(true);
    });

    it('fails fast naming a missing variable, and sets up again on the next invocation', async () => {
      const s3 = new FakeS3(BUCKET);
      const { [ENV.lakeBucket]: _missing, ...incomplete } = deployedEnvironment(compactorSettings(DEFAULTS));
      process.env = incomplete;
      const handler = createCompactorHandler({ s3Client: () => s3.client, openReader: async () => log });
      await expect(handler()).rejects.toThrow(/STREAMLAKE_LAKE_BUCKET is not set/);
      process.env = deployedEnvironment(compactorSettings(DEFAULTS));
      await expect(handler()).resolves.toMatchObject({ recordsRead: 600 });
    });
  });

  describe('log-generator', () => {
    it('produces the minute before the scheduled time, keyed by device, through an MSK IAM producer', async () => {
      const sent: OutgoingRecord[] = [];
      const connections: KafkaConnection[] = [];
      const writer: TopicWriter = { produce: async (records) => void sent.push(...records), close: async () => {} };
      process.env = deployedEnvironment(generatorSettings(DEFAULTS));
      const handler = createGeneratorHandler({ openWriter: async (connection) => (connections.push(connection), writer) });

      const report = await handler({ scheduledTime: '2026-07-01T09:00:00Z' });

      expect(connections[0]).toMatchObject({ clientId: 'streamlake-log-generator', auth: { mechanism: 'msk-iam', region: 'eu-west-1' }, tls: true });
      expect(report).toMatchObject({ minuteStart: Date.parse('2026-07-01T08:59:00Z'), records: DEFAULTS.devices });
      expect(new Set(sent.map((r) => r.key)).size).toBe(DEFAULTS.devices);
      expect(sent.every((r) => r.timestamp === Date.parse('2026-07-01T09:00:00Z'))).toBe(true);
      // A retried delivery of the same schedule produces the same events.
      const again: OutgoingRecord[] = [];
      const retry = createGeneratorHandler({ openWriter: async () => ({ produce: async (records) => void again.push(...records), close: async () => {} }) });
      await retry({ scheduledTime: '2026-07-01T09:00:00Z' });
      expect(again.map((r) => Buffer.from(r.value).toString())).toEqual(sent.map((r) => Buffer.from(r.value).toString()));
    });
  });
});
