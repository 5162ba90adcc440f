import type { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import { offsetsOf, sequenceOf } from '../../lambdas/core/iceberg-metadata.ts';
import { quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { tempDir } from './lake.ts';
import { sqlLiteral, storeFilesIn } from './store-files.ts';

/** What one snapshot of an Iceberg table holds, against the Kafka offsets its summary says it holds. */
export interface SnapshotAudit {
  readonly snapshotId: string;
  readonly sequence: number;
  readonly rows: number;
  /** (partition, offset) pairs below the snapshot's offsets found more than once in the snapshot and the quarantine. */
  readonly duplicates: number;
  /** Offsets below the snapshot's offsets found neither in the snapshot nor in the quarantine. */
  readonly missing: number;
  /** Rows of the snapshot at or past its offsets: records it holds but does not claim. */
  readonly beyond: number;
}

/**
 * Exactly once in every snapshot, checked with SQL: for each snapshot of the table, every offset
 * below the Kafka offsets in its summary is in the snapshot's data files or in the quarantine,
 * once, and the snapshot holds nothing past them. Reads the files through the store, so it
 * audits a lake on S3 as well as a local one.
 */
export async function auditSnapshots(table: IcebergTable, store: ObjectStore): Promise<SnapshotAudit[]> {
  const loaded = await table.load();
  if (!loaded) return [];
  const dir = tempDir();
  const lake = await DuckDbLake.open(dir.path, []);
  try {
    const local = storeFilesIn(store, dir.path);
    const quarantine = await Promise.all((await store.list(quarantinePrefix(table.table.name))).map((entry) => local(entry.key)));
    const quarantined = quarantine.length === 0 ? 'SELECT NULL::INTEGER AS p, NULL::BIGINT AS o WHERE false' : `SELECT kafka_partition AS p, kafka_offset AS o FROM read_json([${quarantine.map(sqlLiteral).join(', ')}], format = 'newline_delimited')`;
    const audits: SnapshotAudit[] = [];
    for (const snapshot of loaded.metadata.snapshots) {
      const files = await Promise.all((await table.dataFiles(snapshot)).map((entry) => local(table.keyOf(entry.file.path))));
      const offsets = Object.entries(offsetsOf(snapshot));
      const claimed = offsets.length === 0 ? 'SELECT NULL::INTEGER AS p, NULL::BIGINT AS upto WHERE false' : `VALUES ${offsets.map(([p, o]) => `(${p}, ${o})`).join(', ')}`;
      const rows = files.length === 0 ? 'SELECT NULL::INTEGER AS p, NULL::BIGINT AS o WHERE false' : `SELECT kafka_partition AS p, kafka_offset AS o FROM read_parquet([${files.map(sqlLiteral).join(', ')}])`;
      const [counts] = (
        await lake.query(`WITH claimed(p, upto) AS (${claimed}), rows AS (${rows}),
          seen AS (SELECT r.p, r.o FROM (SELECT * FROM rows UNION ALL SELECT * FROM (${quarantined})) r JOIN claimed c ON r.p = c.p AND r.o < c.upto)
          SELECT (SELECT count(*) FROM rows) AS rows,
            (SELECT count(*) - count(DISTINCT (p, o)) FROM seen) AS duplicates,
            (SELECT coalesce(sum(upto), 0) FROM claimed) - (SELECT count(DISTINCT (p, o)) FROM seen) AS missing,
            (SELECT count(*) FROM rows r LEFT JOIN claimed c ON r.p = c.p WHERE c.upto IS NULL OR r.o >= c.upto) AS beyond`)
      ).rows;
      audits.push({
        snapshotId: String(snapshot['snapshot-id']), sequence: sequenceOf(snapshot),
        rows: Number(counts!.rows), duplicates: Number(counts!.duplicates), missing: Number(counts!.missing), beyond: Number(counts!.beyond),
      });
    }
    return audits;
  } finally {
    lake.close();
    dir.remove();
  }
}
