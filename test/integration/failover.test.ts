import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureKafkaTopic, type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { DeviceFleet } from '../../lambdas/demo/device-fleet.ts';
import type { CompactorSummary } from '../../lambdas/handlers/compactor.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { startCluster, type Cluster, type ClusterNode } from '../../tools/kafka/cluster.ts';
import { ClusterHandlers, interruptedAfterFirstBatch } from '../helpers/cluster-handlers.ts';
import { lambdaEnvironment, type CompactorHandler, type GeneratorHandler } from '../helpers/deployed.ts';
import { FakeS3 } from '../helpers/fake-s3.ts';
import { topicOffsets } from '../helpers/kafka.ts';
import { auditLake, deviceOrder, tempDir } from '../helpers/lake.ts';
import { DECLARED } from '../helpers/tables.ts';
import { waitFor } from '../helpers/wait.ts';

const MINUTE_MS = 60_000;
// Past enough for the minutes the generator test sends back to back: Kafka refuses record
// timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 6 * 60 * MINUTE_MS;
// Between the generator test's invocations, so the outage spans tens of them rather than hundreds.
const GENERATOR_PAUSE_MS = 50;
const CONFIG = { ...DEFAULTS, devices: 60, corruptShare: 0 };
const PARTITIONS = 3;
const BUCKET = 'streamlake-lake-failover';
const decoder = new TextDecoder();

describe('the deployed handlers on a three-node Kafka cluster that loses a node', () => {
  const saved = process.env;
  let cluster: Cluster;
  let admin: Admin;
  let s3: FakeS3;
  let handlers: ClusterHandlers;
  let lake: ReturnType<typeof tempDir>;
  let topic: KafkaConnection;
  let generate: GeneratorHandler;
  let minute: number;

  // One cluster for the file: each test breaks it, and restores it to full health after.
  beforeAll(async () => {
    cluster = await startCluster();
    const { jarsMs, formatMs, startMs } = cluster.timings;
    console.log(`Kafka cluster at ${cluster.bootstrap}; jars ${jarsMs} ms, format ${formatMs} ms, start ${startMs} ms`);
    admin = new Admin({ clientId: 'streamlake-test-failover', bootstrapBrokers: [...cluster.brokers] });
  });

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  beforeEach(() => {
    s3 = new FakeS3(BUCKET);
    handlers = new ClusterHandlers(cluster.saslBrokers, s3);
    lake = tempDir();
    minute = 0;
  });

  afterEach(async () => {
    process.env = saved;
    await handlers.close();
    lake.remove();
    await cluster.restoreHealth();
  });

  /**
   * A new topic of three replicas whose partition `p` is led by node `leaders[p]` (its preferred
   * leader), and the handlers' environment for it.
   */
  async function freshTopic(leaders: readonly number[]): Promise<void> {
    const name = `failover-${randomUUID().slice(0, 8)}`;
    const ids = cluster.nodes.map((n) => n.id);
    const assignments = leaders.map((leader, partition) => ({ partition, brokers: [leader, ...ids.filter((id) => id !== leader)] }));
    await admin.createTopics({ topics: [name], assignments });
    topic = { brokers: [...cluster.brokers], topic: name, clientId: 'streamlake-test', auth: { mechanism: 'none' }, tls: false };
    await ensureKafkaTopic(topic, { partitions: leaders.length, defaultPartitions: leaders.length }); // waits for the leaders
    process.env = { ...saved, ...lambdaEnvironment(CONFIG, name, BUCKET) };
    generate = handlers.generator();
  }

  async function generateMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await generate({ scheduledTime: new Date(START + ++minute * MINUTE_MS).toISOString() });
  }

  /** Compactor runs until one finds nothing to do, as the schedule would. */
  async function compactUntilIdle(compact: CompactorHandler): Promise<CompactorSummary[]> {
    const reports: CompactorSummary[] = [];
    for (let report = await compact(); report.runId !== null; report = await compact()) reports.push(report);
    return reports;
  }

  /** Every offset of the topic is in the lake or in quarantine exactly once, and no run reported a gap: nothing was deleted. */
  async function expectExactlyOnce(reports: readonly CompactorSummary[]): Promise<void> {
    expect(reports.flatMap((r) => r.gaps)).toEqual([]);
    s3.copyTo(lake.path);
    const offsets = await topicOffsets(topic);
    const total = offsets.reduce((sum, o) => sum + o.highWatermark, 0);
    expect(reports.reduce((sum, r) => sum + r.recordsRead, 0)).toBe(total);
    const audit = await auditLake(lake.path, offsets);
    expect(audit).toEqual({ lakeRows: total - audit.quarantined, quarantined: audit.quarantined, duplicates: 0, incompletePartitions: [] });
  }

  /** The nodes other than `nodes`. */
  function otherThan(...nodes: ClusterNode[]): ClusterNode[] {
    return cluster.nodes.filter((n) => !nodes.some((other) => other.id === n.id));
  }

  it('finishes a run whose partitions lose their leader (SIGKILL) after its first batch, skipping nothing; the node comes back and later runs carry on', async () => {
    // The quorum stays whole (the controller test breaks it); the victim leads every partition.
    const victim = otherThan(await cluster.activeController())[0]!;
    await freshTopic(Array.from({ length: PARTITIONS }, () => victim.id));
    await generateMinutes(20);

    const successors: ClusterNode[] = [];
    const compact = handlers.compactor((reader) =>
      interruptedAfterFirstBatch(reader, async () => {
        await victim.kill();
        // Read on as soon as other replicas lead: their high watermarks may still lag the ones the run planned with.
        for (let p = 0; p < PARTITIONS; p++) successors.push(await cluster.waitForNewLeader(topic.topic, p, victim));
      }),
    );
    const during = await compact();
    expect(successors).toHaveLength(PARTITIONS); // the run was interrupted, and read on from other leaders
    expect(during).toMatchObject({ recordsRead: 20 * CONFIG.devices, gaps: [] });

    await generateMinutes(5); // one node down: acks=all still has two in-sync replicas
    await victim.start();
    await generateMinutes(5);
    await expectExactlyOnce([during, ...(await compactUntilIdle(compact))]);
  });

  it('loses no record acknowledged to the generator and doubles none while a broker is killed and restarted under it, keeping per-device order', async () => {
    const victim = otherThan(await cluster.activeController())[0]!;
    await freshTopic(cluster.nodes.map((n) => n.id)); // one partition led by each node
    const acknowledged: number[] = [];
    const failed: string[] = [];
    let producing = true;
    // The schedule, compressed: one generator invocation after another, while the victim dies and comes back.
    const generator = (async () => {
      while (producing) {
        const scheduledTime = START + ++minute * MINUTE_MS;
        const started = Date.now();
        await generate({ scheduledTime: new Date(scheduledTime).toISOString() }).then(
          () => acknowledged.push(scheduledTime),
          (error: Error) => failed.push(`after ${Date.now() - started} ms: ${error.message}`),
        );
        await sleep(GENERATOR_PAUSE_MS);
      }
    })();
    const invocations = () => acknowledged.length + failed.length;
    await waitFor(() => invocations() >= 3, 'three generator invocations');
    const [killedAt, acknowledgedAtKill] = [invocations(), acknowledged.length];
    await victim.kill();
    await cluster.waitForNewLeader(topic.topic, victim.id - 1, victim);
    await waitFor(() => acknowledged.length >= acknowledgedAtKill + 3, 'three invocations acknowledged with the victim down');
    await victim.start();
    const restartedAt = invocations();
    await waitFor(() => invocations() >= restartedAt + 3, 'three invocations after the restart');
    producing = false;
    await generator;
    console.log(
      `generator: ${acknowledged.length} invocations acknowledged, ${failed.length} failed; node ${victim.id} down from invocation ${killedAt + 1} to ${restartedAt}` +
        failed.map((reason) => `\n  failed ${reason}`).join(''),
    );

    await expectExactlyOnce(await compactUntilIdle(handlers.compactor()));
    const inLake = await devicesAndSequences(lake.path);
    expect([...inLake].filter(([, rows]) => rows > 1)).toEqual([]);
    const fleet = new DeviceFleet(CONFIG);
    const missing = acknowledged.flatMap((scheduledTime) => eventKeys(fleet, scheduledTime).filter((key) => !inLake.has(key)));
    expect(missing).toEqual([]);
    expect(await deviceOrder(lake.path)).toEqual({ partitionsPerDevice: 1, outOfOrder: 0 });
  });

  it('finishes a run during which the active controller is killed, while the quorum elects another; the controller comes back and later runs carry on', async () => {
    const controller = await cluster.activeController();
    // The controller leads no partition of the topic: what it takes down is the quorum's leader and one follower replica.
    await freshTopic(Array.from({ length: PARTITIONS }, (_, p) => otherThan(controller)[p % 2]!.id));
    await generateMinutes(20);

    const compact = handlers.compactor((reader) => interruptedAfterFirstBatch(reader, () => controller.kill()));
    const during = await compact();
    expect(controller.running).toBe(false); // killed in the middle of the run
    expect(during).toMatchObject({ recordsRead: 20 * CONFIG.devices, gaps: [] });
    expect((await cluster.waitForNewController(controller)).id).not.toBe(controller.id);

    await generateMinutes(5); // the new controller shrinks the ISR: acks=all writes go on with two replicas
    await controller.start();
    await generateMinutes(5);
    await expectExactlyOnce([during, ...(await compactUntilIdle(compact))]);
  });
});

/** `device_id/seq` of every event the generator invocation scheduled at `scheduledTime` sent (the handler's minute is the one before). */
function eventKeys(fleet: DeviceFleet, scheduledTime: number): string[] {
  const minuteStart = Math.floor(scheduledTime / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  return fleet.recordsForMinute(minuteStart, scheduledTime).map((record) => {
    const event = JSON.parse(decoder.decode(record.value)) as { device_id: string; seq: number };
    return `${event.device_id}/${event.seq}`;
  });
}

/** How many rows of the lake hold each `device_id/seq`. */
async function devicesAndSequences(lakeDir: string): Promise<Map<string, number>> {
  const lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  try {
    const { rows } = await lake.query(`SELECT device_id || '/' || seq AS key, count(*) AS n FROM device_logs GROUP BY ALL`);
    return new Map(rows.map((row) => [row.key as string, Number(row.n)]));
  } finally {
    lake.close();
  }
}
