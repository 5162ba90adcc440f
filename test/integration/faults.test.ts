import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import { curatedPrefix } from '../../lambdas/core/lake-layout.ts';
import type { CompactorSummary } from '../../lambdas/handlers/compactor.ts';
import type { OutgoingRecord, TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { compactOnce, compactUntilIdle, pausingAfterBatches } from '../helpers/compactor.ts';
import { DeployedHandlers, lambdaEnvironment } from '../helpers/deployed.ts';
import { FakeS3 } from '../helpers/fake-s3.ts';
import { FaultyStore, InjectedCrash, type FaultPlan } from '../helpers/faulty-store.ts';
import { freshKafkaTopic, onTestBroker, topicOffsets, watchSaslSessions, type SaslSessions } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';
import { DECLARED, DEVICE_LOGS } from '../helpers/tables.ts';
import { waitFor } from '../helpers/wait.ts';

const MINUTE_MS = 60_000;
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
const DEVICES = 40;
const encoder = new TextEncoder();

describe('compactor faults on Apache Kafka', () => {
  let lake: ReturnType<typeof tempDir>;
  let store: LocalDirectoryStore;
  let topic: KafkaConnection;
  let writer: TopicWriter;
  let opened: { close(): Promise<void> }[];
  let minute: number;
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: DEVICES, corruptShare: 0 });

  beforeEach(async () => {
    lake = tempDir();
    store = new LocalDirectoryStore(lake.path);
    topic = await freshKafkaTopic(3, 'sasl');
    writer = await openKafkaWriter(topic);
    opened = [writer];
    minute = 0;
  });

  afterEach(async () => {
    await Promise.all(opened.map((client) => client.close()));
    lake.remove();
  });

  /** A new compactor container's reader of the test topic. */
  async function reader(connection = topic): Promise<TopicReader> {
    const opening = await openKafkaReader(connection);
    opened.push(opening);
    return opening;
  }

  async function produceMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await produceMinute(fleet, writer, START + ++minute * MINUTE_MS);
  }

  /** Every offset of the topic is in the lake or in quarantine, once. */
  async function expectExactlyOnce(): Promise<void> {
    const offsets = await topicOffsets(topic);
    const audit = await auditLake(lake.path, offsets);
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
    expect(audit.lakeRows + audit.quarantined).toBe(offsets.reduce((sum, o) => sum + o.highWatermark, 0));
  }

  it('writes each record once when a run crashes after its uploads, before the checkpoint commit, and a new run follows', async () => {
    await produceMinutes(30);
    const crashBeforeCommit: FaultPlan = (op, _key, nth) => (op === 'compareAndSwap' && nth === 2 ? 'before' : undefined);
    await expect(compactOnce(await reader(), new FaultyStore(store, crashBeforeCommit))).rejects.toThrow(InjectedCrash);
    const uploaded = (await store.list(curatedPrefix(DEVICE_LOGS.name))).map((entry) => entry.key);
    expect(uploaded.length).toBeGreaterThan(0);

    await produceMinutes(5); // the topic moves on before the next run
    const retry = await compactOnce(await reader(), store);
    expect(retry).toMatchObject({ resumed: true, sequence: 1, recordsRead: 30 * DEVICES });
    expect([...retry.files].sort()).toEqual(uploaded);
    const rest = await compactUntilIdle(await reader(), store);
    expect(rest.map((r) => r.recordsRead)).toEqual([5 * DEVICES]);
    await expectExactlyOnce();
  });

  it('never duplicates when two compactor Lambdas run at once on the same topic and bucket', async () => {
    const saved = process.env;
    const s3 = new FakeS3('streamlake-lake-concurrent');
    const handlers = new DeployedHandlers(inject('kafka').saslBootstrap, s3);
    process.env = { ...saved, ...lambdaEnvironment(DEFAULTS, topic.topic, s3.bucket) };
    try {
      const [first, second] = [handlers.compactor(), handlers.compactor()];
      // Warm containers, so the race is between runs, not between cold starts.
      expect((await Promise.all([first(), second()])).map((summary) => summary.runId)).toEqual([null, null]);
      const rounds: CompactorSummary[][] = [];
      for (let round = 0; round < 4; round++) {
        await produceMinutes(8);
        rounds.push(await Promise.all([first(), second()]));
      }
      while ((await first()).runId !== null);
      s3.copyTo(lake.path);
      await expectExactlyOnce();
      // Each round, the two raced for one claim: the loser finished the winner's run instead of starting its own.
      for (const [a, b] of rounds) {
        expect(a!.runId).not.toBeNull();
        expect(b!.runId).toBe(a!.runId);
        expect([a!.resumed, b!.resumed].sort()).toEqual([false, true]);
      }
    } finally {
      process.env = saved;
      await handlers.close();
    }
  });

  it('quarantines a poison record and one over the size limit with their reason and raw bytes, and carries on', async () => {
    const notUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const notJson = encoder.encode('{"device_id":"dev-00002","event_time":');
    const tooLarge = encoder.encode(JSON.stringify({ ...fleet.eventsForMinute(START)[0], firmware: 'x'.repeat(DEFAULTS.maxRecordBytes) }));
    const poison: OutgoingRecord[] = [
      { key: 'dev-00001', value: notUtf8, timestamp: START },
      { key: 'dev-00002', value: notJson, timestamp: START },
      { key: 'dev-00003', value: tooLarge, timestamp: START },
    ];
    await produceMinutes(5);
    await writer.produce(poison);
    await produceMinutes(5); // the same devices keep sending after their bad records

    const report = await compactOnce(await reader(), store);
    expect(report).toMatchObject({ recordsRead: 10 * DEVICES + 3, rowsWritten: 10 * DEVICES, quarantined: 3, quarantineReasons: { not_utf8: 1, not_json: 1, too_large: 1 } });
    const quarantined = await queryLake(lake.path, 'SELECT reason, detail, key_base64, raw_base64 FROM device_logs_quarantine ORDER BY reason');
    expect(quarantined.map((row) => [row.reason, decode(row.key_base64), row.raw_base64])).toEqual([
      ['not_json', 'dev-00002', Buffer.from(notJson).toString('base64')],
      ['not_utf8', 'dev-00001', Buffer.from(notUtf8).toString('base64')],
      ['too_large', 'dev-00003', Buffer.from(tooLarge).toString('base64')],
    ]);
    expect(quarantined[2]!.detail).toBe(`value is ${tooLarge.byteLength} bytes, the limit is ${DEFAULTS.maxRecordBytes}`);
    await expectExactlyOnce();
  });

  it('completes a run that outlives several SASL tokens: sessions reauthenticate with fresh tokens, exactly once', async () => {
    const tokenLifetimeMs = 3_000;
    const clientId = 'streamlake-compactor-short-tokens';
    await produceMinutes(10);
    const sessions = watchSaslSessions(clientId);
    try {
      const shortTokens = onTestBroker({ ...topic, clientId }, inject('kafka').saslBootstrap, tokenLifetimeMs);
      const slow = reauthenticatingBetweenBatches(await reader(shortTokens), sessions, 3);
      const started = Date.now();
      const report = await compactOnce(slow, store);
      const elapsed = Date.now() - started;
      expect(report.recordsRead).toBe(10 * DEVICES);
      // Longer than two token lifetimes: the tokens the run started with expired before it ended.
      expect(elapsed).toBeGreaterThan(2 * tokenLifetimeMs);
      expect(sessions.reauthentications).toBeGreaterThanOrEqual(6);
      expect(sessions.failures).toBe(0);
    } finally {
      sessions.stop();
    }
    await expectExactlyOnce();
  });
});

/**
 * A slow reader: after each batch it waits until the watched sessions have reauthenticated
 * `perBatch` more times, so the run spans several token lifetimes.
 */
function reauthenticatingBetweenBatches(reader: TopicReader, sessions: SaslSessions, perBatch: number): TopicReader {
  return pausingAfterBatches(reader, async () => {
    const target = sessions.reauthentications + perBatch;
    await waitFor(() => sessions.reauthentications >= target, `${perBatch} SASL reauthentications`);
  });
}

async function queryLake(lakeDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  try {
    return (await lake.query(sql)).rows;
  } finally {
    lake.close();
  }
}

function decode(base64: unknown): string {
  return Buffer.from(base64 as string, 'base64').toString('utf8');
}
