import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import type { KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import type { OffsetGap } from '../../lambdas/core/checkpoint.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { DeployedHandlers, lambdaEnvironment, type CompactorHandler, type GeneratorHandler } from '../helpers/deployed.ts';
import { FakeS3 } from '../helpers/fake-s3.ts';
import { freshKafkaTopic, topicOffsets } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';
import { captureMetrics, type CapturedMetrics } from '../helpers/metrics.ts';

// This file reads the compactor's metrics, so the handlers' Metrics must print them (before their module loads).
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
});

const MINUTE_MS = 60_000;
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
const CONFIG = { ...DEFAULTS, devices: 30, corruptShare: 0 };

describe('records deleted by retention before they were compacted', () => {
  const saved = process.env;
  const admin = new Admin({ clientId: 'streamlake-test-retention', bootstrapBrokers: [inject('kafka').bootstrap] });
  let s3: FakeS3;
  let handlers: DeployedHandlers;
  let topic: KafkaConnection;
  let generate: GeneratorHandler;
  let compact: CompactorHandler;
  let metrics: CapturedMetrics;
  let lake: ReturnType<typeof tempDir>;
  let minute: number;

  beforeEach(async () => {
    s3 = new FakeS3('streamlake-lake-retention');
    handlers = new DeployedHandlers(inject('kafka').saslBootstrap, s3);
    topic = await freshKafkaTopic(3, 'sasl');
    process.env = { ...saved, ...lambdaEnvironment(CONFIG, topic.topic, s3.bucket) };
    [generate, compact] = [handlers.generator(), handlers.compactor()];
    metrics = captureMetrics();
    lake = tempDir();
    minute = 0;
  });

  afterEach(async () => {
    metrics.restore();
    process.env = saved;
    await handlers.close();
    lake.remove();
  });

  afterAll(() => admin.close());

  async function generateMinutes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await generate({ scheduledTime: new Date(START + ++minute * MINUTE_MS).toISOString() });
  }

  /** What retention does to old segments: the partitions' logs now start at these offsets. */
  async function deleteBefore(starts: ReadonlyMap<number, number>): Promise<void> {
    const partitions = [...starts].map(([partition, offset]) => ({ partition, offset: BigInt(offset) }));
    await admin.deleteRecords({ topics: [{ name: topic.topic, partitions }] });
  }

  /** The lake holds every offset of the topic once, except the deleted ones, which it does not hold at all. */
  async function expectExactlyOnceExcept(deleted: readonly OffsetGap[]): Promise<PartitionOffsets[]> {
    s3.copyTo(lake.path);
    const offsets = await topicOffsets(topic);
    const audit = await auditLake(lake.path, offsets, deleted);
    const kept = offsets.reduce((sum, o) => sum + o.highWatermark, 0) - deleted.reduce((sum, g) => sum + g.to - g.from, 0);
    expect(audit).toEqual({ lakeRows: kept, quarantined: 0, duplicates: 0, incompletePartitions: [] });
    return offsets;
  }

  it('reports offsets deleted past the checkpoint as gaps and as the OffsetGapRecords metric, and compacts the rest', async () => {
    await generateMinutes(10);
    await compact();
    const checkpoint = await topicOffsets(topic);
    await generateMinutes(10);
    const produced = await topicOffsets(topic);
    const [p0, p1, p2] = [0, 1, 2].map((p) => ({ committed: checkpoint[p]!.highWatermark, end: produced[p]!.highWatermark }));
    // Partition 0 loses its first 7 uncompacted records, partition 1 all of them; partition 2 keeps its log.
    await deleteBefore(new Map([[0, p0!.committed + 7], [1, p1!.end]]));

    const gapped = await compact();
    const gaps = [
      { partition: 0, from: p0!.committed, to: p0!.committed + 7 },
      { partition: 1, from: p1!.committed, to: p1!.end },
    ];
    expect(gapped.gaps).toEqual(gaps);
    expect(gapped.recordsRead).toBe(p0!.end - p0!.committed - 7 + (p2!.end - p2!.committed));
    await generateMinutes(5);
    const after = await compact();
    expect(after.gaps).toEqual([]);
    expect(metrics.values('OffsetGapRecords')).toEqual([0, 7 + p1!.end - p1!.committed, 0]);
    await expectExactlyOnceExcept(gaps);
  });

  it('reports offsets deleted before the first run ever as a gap from offset 0, and compacts from the log start', async () => {
    await generateMinutes(10);
    const logStart = 9;
    await deleteBefore(new Map([[2, logStart]]));

    const first = await compact();
    const gaps = [{ partition: 2, from: 0, to: logStart }];
    expect(first.gaps).toEqual(gaps);
    expect(metrics.values('OffsetGapRecords')).toEqual([logStart]);
    const offsets = await expectExactlyOnceExcept(gaps);
    expect(offsets[2]!.earliest).toBe(logStart);
  });
});
