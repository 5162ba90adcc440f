import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout, DataDirError } from '../../src/local/data-dir.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { runLocal, type LocalRunSummary } from '../../src/local/runner.ts';
import { streamlake } from '../helpers/cli.ts';
import { kafkaConnection } from '../helpers/kafka.ts';
import { auditLake, tempDir } from '../helpers/lake.ts';
import { DECLARED } from '../helpers/tables.ts';
import { copyTables } from '../helpers/tables-dir.ts';

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
    const lake = await DuckDbLake.open(dataDirLayout(dir.path).lakeDir, DECLARED.tables);
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
      await expect(runLocal({ ...options, kafka: undefined, minutes: 1 })).rejects.toThrow(/built from Kafka cluster .*, not from the embedded logs/);
    } finally {
      embedded.remove();
    }
  });
});

describe('streamlake produce and compact --kafka', () => {
  const dir = tempDir();
  const tables = copyTables(join(dir.path, 'tables'), { orders: true });
  const dataDir = join(dir.path, 'data');
  const kafka = inject('kafka').bootstrap;
  afterAll(() => dir.remove());

  it("produce --kafka creates the table's topic on the cluster, compact --kafka lands it, and the data directory stays bound to that cluster", async () => {
    const placedAt = Math.floor(Date.now() / 1000) - 60;
    const orders = ['o-1', 'o-2', 'o-3'].map((id) => JSON.stringify({ order_id: id, placed_at: placedAt, quantity: 1, channel: 'web' }));
    const produced = await streamlake(['produce', '--kafka', kafka, '--table', 'orders', '--partitions', '3', '--tables', tables, '--data-dir', dataDir, '--json'], { input: orders.join('\n') });
    expect(produced.stderr).toBe('');
    expect(JSON.parse(produced.stdout)).toMatchObject({ topic: 'shop.orders', partitions: 3, produced: 3, unkeyed: 0 });

    const compacted = await streamlake(['compact', '--kafka', kafka, '--table', 'orders', '--tables', tables, '--data-dir', dataDir, '--json']);
    expect(compacted.code).toBe(0);
    expect(JSON.parse(compacted.stdout)).toMatchObject({ orders: { rowsWritten: 3, quarantined: 0 } });
    const rows = await streamlake(['query', '--tables', tables, '--data-dir', dataDir, '--json', 'SELECT order_id FROM orders ORDER BY order_id']);
    expect(JSON.parse(rows.stdout)).toEqual([{ order_id: 'o-1' }, { order_id: 'o-2' }, { order_id: 'o-3' }]);

    const embedded = await streamlake(['compact', '--table', 'orders', '--tables', tables, '--data-dir', dataDir]);
    expect(embedded.code).toBe(2);
    expect(embedded.stderr).toMatch(/holds a lake built from Kafka cluster .*, not from the embedded logs.*pass --kafka with that cluster/);
  });
});
