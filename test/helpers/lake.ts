import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
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
  /** Partitions whose offsets (lake ∪ quarantine) are not exactly 0 … highWatermark-1. */
  readonly incompletePartitions: number[];
}

/**
 * Checks "exactly once into the lake" with SQL over what a query sees: every offset of every
 * partition is in the lake or in quarantine, once.
 */
export async function auditLake(lakeDir: string, offsets: readonly PartitionOffsets[]): Promise<LakeAudit> {
  const lake = await DuckDbLake.open(lakeDir);
  try {
    const seen = `SELECT kafka_partition, kafka_offset FROM device_logs UNION ALL SELECT kafka_partition, kafka_offset FROM device_logs_quarantine`;
    const [counts] = (
      await lake.query(`SELECT (SELECT count(*) FROM device_logs) AS lake_rows, (SELECT count(*) FROM device_logs_quarantine) AS quarantined,
        (SELECT count(*) - count(DISTINCT (kafka_partition, kafka_offset)) FROM (${seen})) AS duplicates`)
    ).rows;
    const perPartition = (
      await lake.query(`SELECT kafka_partition AS p, count(DISTINCT kafka_offset) AS n, min(kafka_offset) AS lo, max(kafka_offset) AS hi FROM (${seen}) GROUP BY kafka_partition`)
    ).rows;
    const incompletePartitions = offsets
      .filter(({ partition, highWatermark }) => {
        const row = perPartition.find((r) => r.p === partition);
        if (highWatermark === 0) return row !== undefined;
        return !row || row.n !== highWatermark || row.lo !== 0 || row.hi !== highWatermark - 1;
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
