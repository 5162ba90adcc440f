import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CompactorSummary } from '../../lambdas/handlers/compactor.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { DeployedHandlers, lambdaEnvironment, MSK_BROKERS } from '../helpers/deployed.ts';
import { FakeS3 } from '../helpers/fake-s3.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditLake, deviceOrder, tempDir } from '../helpers/lake.ts';

const BUCKET = 'streamlake-lake-integration';
const MINUTE_MS = 60_000;
const MINUTES = 30;
// Late and corrupt records on purpose, so runs span hours and quarantine takes part.
const CONFIG = { ...DEFAULTS, devices: 60, lateShare: 0.05, corruptShare: 0.01 };
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;

describe('the deployed handlers on Apache Kafka', () => {
  const saved = process.env;
  const s3 = new FakeS3(BUCKET);
  const handlers = new DeployedHandlers(inject('kafka').saslBootstrap, s3);
  const lake = tempDir();
  let topic: Awaited<ReturnType<typeof freshKafkaTopic>>;
  let produced = 0;
  let last: CompactorSummary;

  // The schedules as EventBridge runs them: the generator every minute, the compactor every 5.
  beforeAll(async () => {
    topic = await freshKafkaTopic(DEFAULTS.partitions, 'sasl');
    process.env = { ...saved, ...lambdaEnvironment(CONFIG, topic.topic, BUCKET) };
    const generate = handlers.generator();
    const compact = handlers.compactor();
    for (let minute = 1; minute <= MINUTES; minute++) {
      produced += (await generate({ scheduledTime: new Date(START + minute * MINUTE_MS).toISOString() })).records;
      if (minute % CONFIG.compactorEveryMinutes === 0) await compact();
    }
    while ((last = await compact()).runId !== null);
    s3.copyTo(lake.path);
  });

  afterAll(async () => {
    process.env = saved;
    await handlers.close();
    lake.remove();
  });

  it('builds MSK IAM connections over TLS from the environment, which the test swaps for the broker SASL listener', () => {
    const msk = { brokers: MSK_BROKERS.split(','), topic: topic.topic, auth: { mechanism: 'msk-iam', region: 'eu-west-1' }, tls: true };
    expect(handlers.requested).toEqual([
      { ...msk, clientId: 'streamlake-log-generator' },
      { ...msk, clientId: 'streamlake-compactor' },
    ]);
  });

  it('puts every generated event in the lake or in quarantine exactly once, checked with SQL over the Parquet output', async () => {
    const offsets = await topicOffsets(topic);
    expect(produced).toBe(MINUTES * CONFIG.devices);
    expect(offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(produced);
    const audit = await auditLake(lake.path, offsets);
    expect(audit).toEqual({ lakeRows: produced - audit.quarantined, quarantined: audit.quarantined, duplicates: 0, incompletePartitions: [] });
    expect(audit.quarantined).toBeGreaterThan(0);
    expect(Object.values(last.lag).every((records) => records === 0)).toBe(true);
  });

  it('keeps each device in one partition and its events in the order it sent them', async () => {
    expect(await deviceOrder(lake.path)).toEqual({ partitionsPerDevice: 1, outOfOrder: 0 });
  });
});
