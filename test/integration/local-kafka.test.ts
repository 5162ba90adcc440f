import { Admin } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openKafkaReader } from '../../lambdas/adapters/kafka.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout, DataDirError } from '../../src/local/data-dir.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { runLocal, type LocalRunSummary } from '../../src/local/runner.ts';
import { kafkaConnection } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';

const MINUTE_MS = 60_000;
// Recent past: Kafka refuses record timestamps more than an hour ahead of its clock.
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 3 * 60 * MINUTE_MS;

async function topicOffsets(): Promise<PartitionOffsets[]> {
  const reader = await openKafkaReader(kafkaConnection(DEFAULTS.topicName));
  try {
    return await reader.offsets();
  } finally {
    await reader.close();
  }
}

describe('streamlake local --kafka', () => {
  const dir = tempDir();
  const kafka = [inject('kafka').bootstrap];
  const options = { dataDir: dir.path, minutes: 30, devices: 40, seed: 11, codec: 'snappy' as const, start: START, kafka };
  let first: LocalRunSummary;

  beforeAll(async () => {
    first = await runLocal(options);
  });

  afterAll(() => dir.remove());

  it('creates the topic and puts every record produced to Kafka in the lake or in quarantine exactly once', async () => {
    const offsets = await topicOffsets();
    expect(offsets).toHaveLength(DEFAULTS.partitions);
    expect(offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(30 * 40);
    expect(first.produced).toBe(30 * 40);
    const audit = await auditLake(dataDirLayout(dir.path).lakeDir, offsets);
    expect(audit).toEqual({ lakeRows: first.produced - first.quarantined, quarantined: first.quarantined, duplicates: 0, incompletePartitions: [] });
    expect(first.lakeRows).toBe(first.produced - first.quarantined);
  });

  it('keeps each device in one partition and its events in the order it sent them', async () => {
    const lake = await DuckDbLake.open(dataDirLayout(dir.path).lakeDir);
    try {
      const { rows } = await lake.query(`SELECT
        (SELECT max(n) FROM (SELECT count(DISTINCT kafka_partition) AS n FROM device_logs GROUP BY device_id)) AS partitions_per_device,
        (SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY device_id ORDER BY kafka_offset) AS previous FROM device_logs) WHERE seq <= previous) AS out_of_order`);
      expect(rows[0]).toEqual({ partitions_per_device: 1, out_of_order: 0 });
    } finally {
      lake.close();
    }
  });

  it('commits the compactor group offsets at the high watermarks, so Kafka tooling shows no lag', async () => {
    const admin = new Admin({ clientId: 'streamlake-test-admin', bootstrapBrokers: kafka });
    try {
      const [group] = await admin.listConsumerGroupOffsets({ groups: [DEFAULTS.consumerGroup] });
      const committed = group!.topics.find((t) => t.name === DEFAULTS.topicName)!.partitions.map((p) => ({ partition: p.partitionIndex, offset: Number(p.committedOffset) }));
      const expected = (await topicOffsets()).map((o) => ({ partition: o.partition, offset: o.highWatermark }));
      expect(committed.sort((a, b) => a.partition - b.partition)).toEqual(expected.filter((o) => o.offset > 0));
    } finally {
      await admin.close();
    }
  });

  it('continues where the previous run stopped: same topic, later minutes, still exactly once', async () => {
    const second = await runLocal({ ...options, start: undefined, minutes: 10 });
    expect(second.start).toBe(first.end);
    expect(second.lakeRows + second.quarantined).toBe(first.produced + second.produced);
    const audit = await auditLake(dataDirLayout(dir.path).lakeDir, await topicOffsets());
    expect(audit.duplicates).toBe(0);
    expect(audit.incompletePartitions).toEqual([]);
  });

  it('refuses a data directory whose lake was built from the embedded log, and the other way round', async () => {
    const embedded = tempDir();
    try {
      await runLocal({ ...options, dataDir: embedded.path, kafka: undefined, minutes: 1 });
      await expect(runLocal({ ...options, dataDir: embedded.path, minutes: 1 })).rejects.toThrow(DataDirError);
      await expect(runLocal({ ...options, kafka: undefined, minutes: 1 })).rejects.toThrow(/built from topic device-logs of Kafka cluster .*, not from the embedded log/);
    } finally {
      embedded.remove();
    }
  });
});
