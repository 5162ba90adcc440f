import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { ensureKafkaTopic, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import type { TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { startBroker, type Broker } from '../../tools/kafka/broker.ts';
import { isAlive } from '../../tools/jvm.ts';
import { compactOnce, compactUntilIdle, pausingAfterBatches } from '../helpers/compactor.ts';
import { topicOffsets } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';
import { waitFor } from '../helpers/wait.ts';

const MINUTE_MS = 60_000;
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;

/** A reader that restarts the broker in the middle of the run, and what it saw of the restart. */
interface RestartingReader {
  readonly reader: TopicReader;
  /** The restart, once started: resolves when the broker answers again. */
  restart?: Promise<void>;
  /** True when the run read on while the old broker was gone and the new one not up yet. */
  readThroughOutage: boolean;
}

/**
 * Wraps `reader` so that after handing out its first batch it restarts the broker and waits until
 * the old broker process has exited before reading on: the rest of the run reads through the outage.
 */
function restartingAfterFirstBatch(reader: TopicReader, broker: Broker): RestartingReader {
  let back = false;
  const state: RestartingReader = {
    readThroughOutage: false,
    reader: pausingAfterBatches(reader, async () => {
      if (state.restart !== undefined) return;
      const old = broker.pid;
      state.restart = broker.restart().then(() => void (back = true));
      await waitFor(() => !isAlive(old), `broker process ${old} to exit`);
      state.readThroughOutage = !back;
    }),
  };
  return state;
}

describe('compactor across a broker restart', () => {
  let broker: Broker;
  let connection: KafkaConnection;
  let writer: TopicWriter;
  let reader: TopicReader;
  const lake = tempDir();
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: 80, corruptShare: 0.01 });
  let minute = 0;

  async function produceMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await produceMinute(fleet, writer, START + ++minute * MINUTE_MS);
  }

  // A broker of its own: the shared one serves other test files and cannot be restarted from here.
  beforeAll(async () => {
    broker = await startBroker();
    connection = { brokers: [broker.saslBootstrap], topic: 'device-logs', clientId: 'streamlake-compactor', auth: { mechanism: 'oauthbearer-unsecured', principal: 'compactor' }, tls: false };
    await ensureKafkaTopic(connection, { partitions: 3, defaultPartitions: 3 });
    [writer, reader] = [await openKafkaWriter(connection), await openKafkaReader(connection)];
  });

  afterAll(async () => {
    await Promise.all([writer?.close(), reader?.close()]);
    await broker?.stop();
    lake.remove();
  });

  it('completes a run the broker restarts in the middle of, and the next run, with the same clients, keeps the lake exactly once', async () => {
    await produceMinutes(20);
    const store = new LocalDirectoryStore(lake.path);
    const interrupted = restartingAfterFirstBatch(reader, broker);
    // The adapter's retries (about 20 s) outlast the restart, so the run itself completes.
    const during = await compactOnce(interrupted.reader, store);
    expect(interrupted.readThroughOutage).toBe(true);
    expect(during.recordsRead).toBe(20 * 80);
    await interrupted.restart;

    await produceMinutes(5); // the same producer, across the restart
    const after = await compactUntilIdle(reader, store);
    expect(after.reduce((sum, r) => sum + r.recordsRead, 0)).toBe(5 * 80);
    const offsets = await topicOffsets(connection);
    expect(offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(25 * 80);
    const audit = await auditLake(lake.path, offsets);
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
    expect(audit.lakeRows + audit.quarantined).toBe(25 * 80);
  });
});
