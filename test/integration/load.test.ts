import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEFAULTS } from '../../lib/config.ts';
import { DeployedHandlers, lambdaEnvironment } from '../helpers/deployed.ts';
import { FakeS3 } from '../helpers/fake-s3.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditLake, deviceOrder, tempDir } from '../helpers/lake.ts';

/** Events the load test sends: STREAMLAKE_LOAD_EVENTS, rounded up to whole minutes of the fleet. */
const EVENTS = Number(process.env.STREAMLAKE_LOAD_EVENTS ?? 1_000_000);
if (!(Number.isInteger(EVENTS) && EVENTS > 0)) throw new Error(`STREAMLAKE_LOAD_EVENTS must be a positive whole number of events, got ${process.env.STREAMLAKE_LOAD_EVENTS}`);
const DEVICES = 2_000;
const MINUTES = Math.ceil(EVENTS / DEVICES);
// Several compactor runs, as a backlog is worked off after an outage.
const MAX_RECORDS_PER_RUN = 250_000;
const CONFIG = { ...DEFAULTS, devices: DEVICES, maxRecordsPerRun: MAX_RECORDS_PER_RUN };
const MINUTE_MS = 60_000;
// All in the past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - (MINUTES + 60) * MINUTE_MS;
const TIMEOUT_MS = 15 * 60_000;

function perSecond(records: number, ms: number): number {
  return Math.round((records * 1000) / ms);
}

describe('load', () => {
  const saved = process.env;
  const s3 = new FakeS3('streamlake-lake-load');
  const handlers = new DeployedHandlers(inject('kafka').saslBootstrap, s3);
  const lake = tempDir();

  afterAll(async () => {
    process.env = saved;
    await handlers.close();
    lake.remove();
  });

  it(`moves ${MINUTES * DEVICES} device events through the generator, the broker and the compactor with zero loss and zero duplicates`, { timeout: TIMEOUT_MS }, async () => {
    const topic = await freshKafkaTopic(DEFAULTS.partitions, 'sasl');
    process.env = { ...saved, ...lambdaEnvironment(CONFIG, topic.topic, s3.bucket) };
    const [generate, compact] = [handlers.generator(), handlers.compactor()];

    let started = Date.now();
    let produced = 0;
    for (let minute = 1; minute <= MINUTES; minute++) produced += (await generate({ scheduledTime: new Date(START + minute * MINUTE_MS).toISOString() })).records;
    const produceMs = Date.now() - started;

    started = Date.now();
    let runs = 0;
    let compacted = 0;
    for (let report = await compact(); report.runId !== null; report = await compact()) {
      runs++;
      compacted += report.recordsRead;
      expect(report.recordsRead).toBeLessThanOrEqual(MAX_RECORDS_PER_RUN);
    }
    const compactMs = Date.now() - started;

    started = Date.now();
    s3.copyTo(lake.path);
    const offsets = await topicOffsets(topic);
    const audit = await auditLake(lake.path, offsets);
    const order = await deviceOrder(lake.path);
    const auditMs = Date.now() - started;
    console.log(
      `load: ${produced} events; produce ${perSecond(produced, produceMs)} records/s (${(produceMs / 1000).toFixed(1)} s); ` +
        `compact ${perSecond(compacted, compactMs)} records/s (${(compactMs / 1000).toFixed(1)} s, ${runs} runs); ` +
        `audit ${(auditMs / 1000).toFixed(1)} s; ${audit.lakeRows} rows, ${audit.quarantined} quarantined`,
    );

    expect(produced).toBe(MINUTES * DEVICES);
    expect(offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(produced);
    expect(compacted).toBe(produced);
    expect(runs).toBeGreaterThanOrEqual(Math.ceil(produced / MAX_RECORDS_PER_RUN));
    expect(audit).toEqual({ lakeRows: produced - audit.quarantined, quarantined: audit.quarantined, duplicates: 0, incompletePartitions: [] });
    expect(order).toEqual({ partitionsPerDevice: 1, outOfOrder: 0 });
  });
});
