import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { DECLARED } from './tables.ts';
import type { OffsetGap } from '../../lambdas/core/checkpoint.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';

/** A fresh temporary directory and its cleanup. */
export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'streamlake-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface LakeAudit {
  readonly lakeRows: number;
  readonly quarantined: number;
  /** (partition, offset) pairs seen more than once across the lake and quarantine. */
  readonly duplicates: number;
  /** Partitions whose offsets (lake ∪ quarantine) are not exactly 0 … highWatermark-1, less the deleted ranges. */
  readonly incompletePartitions: number[];
}

/**
 * Checks "exactly once into the lake" with SQL over what a query sees: every offset of every
 * partition is in the lake or in quarantine, once, except the offsets in `deleted` (retention
 * removed them before they were compacted), which must appear nowhere.
 */
export async function auditLake(lakeDir: string, offsets: readonly PartitionOffsets[], deleted: readonly OffsetGap[] = []): Promise<LakeAudit> {
  const lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  try {
    const seen = `SELECT kafka_partition, kafka_offset FROM device_logs UNION ALL SELECT kafka_partition, kafka_offset FROM device_logs_quarantine`;
    const [counts] = (
      await lake.query(`SELECT (SELECT count(*) FROM device_logs) AS lake_rows, (SELECT count(*) FROM device_logs_quarantine) AS quarantined,
        (SELECT count(*) - count(DISTINCT (kafka_partition, kafka_offset)) FROM (${seen})) AS duplicates`)
    ).rows;
    const gaps = deleted.length === 0 ? 'SELECT NULL AS p, NULL AS f, NULL AS t WHERE false' : `VALUES ${deleted.map((g) => `(${g.partition}, ${g.from}, ${g.to})`).join(', ')}`;
    const perPartition = (
      await lake.query(`SELECT kafka_partition AS p, count(DISTINCT kafka_offset) AS n, min(kafka_offset) AS lo, max(kafka_offset) AS hi,
          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM (${gaps}) g(p, f, t) WHERE g.p = kafka_partition AND kafka_offset >= g.f AND kafka_offset < g.t)) AS in_gaps
        FROM (${seen}) GROUP BY kafka_partition`)
    ).rows;
    const incompletePartitions = offsets
      .filter(({ partition, highWatermark }) => {
        const row = perPartition.find((r) => r.p === partition);
        const expected = highWatermark - deleted.filter((g) => g.partition === partition).reduce((sum, g) => sum + g.to - g.from, 0);
        if (!row) return expected !== 0;
        // Distinct offsets, all in [0, highWatermark), none deleted, as many as expected: exactly the expected set.
        return row.n !== expected || (row.lo as number) < 0 || (row.hi as number) >= highWatermark || row.in_gaps !== 0;
      })
      .map((o) => o.partition);
    return {
      lakeRows: counts!.lake_rows as number,
      quarantined: counts!.quarantined as number,
      duplicates: counts!.duplicates as number,
      incompletePartitions,
    };
  } finally {
    lake.close();
  }
}

/** How the lake keeps per-device order, checked with SQL. */
export interface DeviceOrder {
  /** Most partitions any one device's rows came from: 1 when keys map to one partition. */
  readonly partitionsPerDevice: number;
  /** Rows whose `seq` is not above the device's previous row in offset order. */
  readonly outOfOrder: number;
}

/** Per-device order in the lake: each device in one partition, its `seq` rising with the Kafka offset. */
export async function deviceOrder(lakeDir: string): Promise<DeviceOrder> {
  const lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  try {
    const { rows } = await lake.query(`SELECT
      (SELECT max(n) FROM (SELECT count(DISTINCT kafka_partition) AS n FROM device_logs GROUP BY device_id)) AS partitions_per_device,
      (SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY device_id ORDER BY kafka_offset) AS previous FROM device_logs) WHERE seq <= previous) AS out_of_order`);
    return { partitionsPerDevice: rows[0]!.partitions_per_device as number, outOfOrder: rows[0]!.out_of_order as number };
  } finally {
    lake.close();
  }
}
