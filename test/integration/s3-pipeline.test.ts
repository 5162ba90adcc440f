import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { S3ObjectStore } from '../../lambdas/adapters/s3-store.ts';
import { checkpointPrefix, curatedPrefix } from '../../lambdas/core/lake-layout.ts';
import type { CompactorSummary } from '../../lambdas/handlers/compactor.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { createUniqueBucket, s3ClientOf } from '../../tools/s3/client.ts';
import { isConditionalPut, loseResponses } from '../../tools/s3/lost-responses.ts';
import { DeployedHandlers, lambdaEnvironment, type CompactorHandler } from '../helpers/deployed.ts';
import { InjectedCrash } from '../helpers/faulty-store.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditLake, deviceOrder, tempDir } from '../helpers/lake.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';

const CURATED_PREFIX = curatedPrefix(DEVICE_LOGS.name);
const CHECKPOINT_PREFIX = checkpointPrefix(DEVICE_LOGS.name);

const MINUTE_MS = 60_000;
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
// Late and corrupt records on purpose, so runs span hours and quarantine takes part.
const CONFIG = { ...DEFAULTS, devices: 40, lateShare: 0.05, corruptShare: 0.01 };

const admin = new Admin({ clientId: 'streamlake-test-admin', bootstrapBrokers: [inject('kafka').bootstrap] });
afterAll(() => admin.close());

/** The lake's objects, copied into `dir` under their keys, for DuckDB. */
async function downloadLake(store: S3ObjectStore, dir: string): Promise<void> {
  for (const { key } of await store.list('')) {
    const path = join(dir, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, (await store.get(key))!.body);
  }
}

/** The compactor group's committed offsets on `topic`, by partition. */
async function committedOffsets(topic: string): Promise<Map<number, number>> {
  const [group] = await admin.listConsumerGroupOffsets({ groups: [CONFIG.consumerGroup] });
  const partitions = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
  return new Map(partitions.map((p) => [p.partitionIndex, Number(p.committedOffset)]));
}

/** An S3 client of the run's server whose process dies (InjectedCrash) right after its `nth` Parquet upload succeeded. */
function crashingAfterUpload(nth: number): { client: S3Client } {
  const client = s3ClientOf(inject('s3'));
  let uploads = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const key = (args.input as { Key?: string }).Key ?? '';
      if (context.commandName === 'PutObjectCommand' && key.startsWith(CURATED_PREFIX) && ++uploads === nth) throw new InjectedCrash(`crash after uploading ${key}`);
      return result;
    },
    { step: 'initialize', name: 'streamlakeCrashAfterUpload' },
  );
  return { client };
}

/**
 * Holds each of two containers' S3 clients, once armed, after its first read of the checkpoint
 * until the other has read it too: both then plan from the same checkpoint and race for the claim.
 */
class CheckpointReadBarrier {
  private armed = new Set<S3Client>();
  private waiting: (() => void)[] = [];

  /** Arms the barrier for the next round of `clients`. */
  arm(clients: readonly S3Client[]): void {
    this.armed = new Set(clients);
  }

  /** A client of the run's server that stops at the barrier. */
  client(): { client: S3Client } {
    const client = s3ClientOf(inject('s3'));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        try {
          return await next(args);
        } finally {
          // Also when the read fails: before the first run, the checkpoint does not exist yet.
          if (context.commandName === 'GetObjectCommand' && key.startsWith(CHECKPOINT_PREFIX) && this.armed.delete(client)) await this.arrive();
        }
      },
      { step: 'initialize', name: 'streamlakeCheckpointReadBarrier' },
    );
    return { client };
  }

  private arrive(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.armed.size === 0) for (const release of this.waiting.splice(0)) release();
    });
  }
}

describe('the deployed handlers on Apache Kafka and an S3-compatible server (S3Proxy)', () => {
  const saved = process.env;
  let topic: KafkaConnection;
  let store: S3ObjectStore;
  let handlers: DeployedHandlers;
  let lake: ReturnType<typeof tempDir>;
  let generate: ReturnType<DeployedHandlers['generator']>;
  let minute: number;
  let produced: number;

  beforeEach(async () => {
    const client = s3ClientOf(inject('s3'));
    store = new S3ObjectStore(client, await createUniqueBucket(client, 'streamlake-lake'));
    topic = await freshKafkaTopic(3, 'sasl');
    process.env = { ...saved, ...lambdaEnvironment(CONFIG, topic.topic, store.bucket) };
    handlers = new DeployedHandlers(inject('kafka').saslBootstrap, { client });
    generate = handlers.generator();
    lake = tempDir();
    minute = 0;
    produced = 0;
  });

  afterEach(async () => {
    process.env = saved;
    await handlers.close();
    lake.remove();
  });

  /** The generator's schedule: one invocation per simulated minute. */
  async function produceMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) produced += (await generate({ scheduledTime: new Date(START + ++minute * MINUTE_MS).toISOString() })).records;
  }

  async function compactUntilIdle(compact: CompactorHandler): Promise<CompactorSummary[]> {
    const runs: CompactorSummary[] = [];
    for (let run = await compact(); run.runId !== null; run = await compact()) runs.push(run);
    return runs;
  }

  /** Every offset of the topic is in the bucket's lake or quarantine once, checked with SQL over the downloaded objects. */
  async function expectExactlyOnce(): Promise<PartitionOffsets[]> {
    const offsets = await topicOffsets(topic);
    expect(offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(produced);
    await downloadLake(store, lake.path);
    const audit = await auditLake(lake.path, offsets);
    expect(audit).toEqual({ lakeRows: produced - audit.quarantined, quarantined: audit.quarantined, duplicates: 0, incompletePartitions: [] });
    return offsets;
  }

  it('puts every generated event in the bucket once, in device order, and commits the group offsets', async () => {
    const compact = handlers.compactor();
    for (let round = 0; round < 4; round++) {
      await produceMinutes(CONFIG.compactorEveryMinutes);
      await compact();
    }
    await compactUntilIdle(compact);
    const offsets = await expectExactlyOnce();
    expect(await deviceOrder(lake.path)).toEqual({ partitionsPerDevice: 1, outOfOrder: 0 });
    expect(await committedOffsets(topic.topic)).toEqual(new Map(offsets.map((o) => [o.partition, o.highWatermark])));
  });

  it('writes each record once when a compactor dies right after uploading a file and a new container follows', async () => {
    await produceMinutes(20);
    await expect(handlers.compactor(crashingAfterUpload(1))()).rejects.toThrow(InjectedCrash);
    const uploaded = (await store.list(CURATED_PREFIX)).map((entry) => entry.key);
    expect(uploaded).toHaveLength(1);

    await produceMinutes(5); // the topic moves on before the next run
    const next = handlers.compactor();
    const resumed = await next();
    expect(resumed).toMatchObject({ resumed: true, sequence: 1, recordsRead: 20 * CONFIG.devices });
    expect((await store.list(CURATED_PREFIX)).map((entry) => entry.key)).toEqual(expect.arrayContaining(uploaded));
    expect((await compactUntilIdle(next)).map((run) => run.recordsRead)).toEqual([5 * CONFIG.devices]);
    await expectExactlyOnce();
  });

  it('never duplicates when two compactor containers race for every claim on the same topic and bucket', async () => {
    const barrier = new CheckpointReadBarrier();
    const [clientA, clientB] = [barrier.client(), barrier.client()];
    const [first, second] = [handlers.compactor(clientA), handlers.compactor(clientB)];
    const rounds: CompactorSummary[][] = [];
    for (let round = 0; round < 4; round++) {
      await produceMinutes(6);
      barrier.arm([clientA.client, clientB.client]);
      rounds.push(await Promise.all([first(), second()]));
    }
    await compactUntilIdle(first);
    await expectExactlyOnce();
    // Each round, both planned from the same checkpoint: one claimed, the other finished its run.
    for (const [a, b] of rounds) {
      expect(a!.runId).not.toBeNull();
      expect(b!.runId).toBe(a!.runId);
      expect([a!.resumed, b!.resumed].sort()).toEqual([false, true]);
    }
  });

  it('commits offsets and reports no resumed run when the first response of every conditional write is lost', async () => {
    const client = s3ClientOf(inject('s3'));
    const fault = loseResponses(client, isConditionalPut);
    const compact = handlers.compactor({ client });
    const runs: CompactorSummary[] = [];
    for (let round = 0; round < 3; round++) {
      await produceMinutes(CONFIG.compactorEveryMinutes);
      runs.push(await compact());
    }
    // Each run: the claim, at least one file, the commit, each sent twice.
    expect(fault.lost).toBeGreaterThanOrEqual(3 * runs.length);
    expect(runs.map((run) => run.resumed)).toEqual([false, false, false]);
    expect(runs.map((run) => run.sequence)).toEqual([1, 2, 3]);
    const offsets = await expectExactlyOnce();
    expect(await committedOffsets(topic.topic)).toEqual(new Map(offsets.map((o) => [o.partition, o.highWatermark])));
  });
});
