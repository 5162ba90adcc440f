import type { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import { currentSnapshot } from '../../lambdas/core/iceberg-metadata.ts';
import { curatedPrefix, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { tempDir } from './lake.ts';
import { sqlLiteral, storeFilesIn } from './store-files.ts';

/** Exactly once after redrives, as SQL over what the table and its quarantine hold now. */
export interface RedriveAudit {
  readonly rows: number;
  /** Quarantine lines a redrive marked as landed. */
  readonly redriven: number;
  /** Offsets seen more than once in the table and the quarantine lines not redriven. */
  readonly duplicates: number;
  /** Offsets of the topic seen neither in the table nor in a quarantine line not redriven. */
  readonly missing: number;
  /** Quarantine lines marked redriven whose record is not in the table. */
  readonly redrivenNotLanded: number;
  /** Redriven records whose row has another Kafka timestamp than its quarantine line: lineage lost. */
  readonly lineageChanged: number;
}

/**
 * Every offset of the topic (from 0 to each high watermark) is in the table — the current snapshot's
 * data files for an Iceberg table, every curated file for Hive-Parquet — or in quarantine and not
 * redriven, exactly once; every redriven line's record is in the table with its original lineage.
 * Reads through the store, so it audits a lake on S3 as well as a local one.
 */
export async function auditRedrive(store: ObjectStore, table: TableSpec, offsets: readonly PartitionOffsets[], iceberg?: IcebergTable): Promise<RedriveAudit> {
  const dir = tempDir();
  const lake = await DuckDbLake.open(dir.path, []);
  try {
    const local = storeFilesIn(store, dir.path);
    const dataKeys = iceberg
      ? (await iceberg.dataFiles(currentSnapshot((await iceberg.load())!.metadata))).map((entry) => iceberg.keyOf(entry.file.path))
      : (await store.list(curatedPrefix(table.name))).map((e) => e.key).filter((key) => key.endsWith('.parquet'));
    const data = await Promise.all(dataKeys.map(local));
    const quarantine = await Promise.all((await store.list(quarantinePrefix(table.name))).filter((e) => e.key.endsWith('.ndjson')).map((e) => local(e.key)));
    const rows = data.length === 0 ? 'SELECT NULL::INTEGER AS p, NULL::BIGINT AS o, NULL::TIMESTAMPTZ AS ts WHERE false' : `SELECT kafka_partition AS p, kafka_offset AS o, kafka_timestamp AS ts FROM read_parquet([${data.map(sqlLiteral).join(', ')}], union_by_name = true)`;
    const lines = quarantine.length === 0
      ? 'SELECT NULL::INTEGER AS p, NULL::BIGINT AS o, NULL::TIMESTAMPTZ AS ts, NULL::VARCHAR AS redriven_at WHERE false'
      : `SELECT kafka_partition AS p, kafka_offset AS o, kafka_timestamp::TIMESTAMPTZ AS ts, redriven_at FROM read_json([${quarantine.map(sqlLiteral).join(', ')}], format = 'newline_delimited', columns = {kafka_partition: 'INTEGER', kafka_offset: 'BIGINT', kafka_timestamp: 'VARCHAR', redriven_at: 'VARCHAR'})`;
    const expected = offsets.reduce((sum, p) => sum + p.highWatermark, 0);
    const [counts] = (
      await lake.query(`WITH rows AS (${rows}), lines AS (${lines}),
        seen AS (SELECT p, o FROM rows UNION ALL SELECT p, o FROM lines WHERE redriven_at IS NULL)
        SELECT (SELECT count(*) FROM rows) AS rows, (SELECT count(*) FROM lines WHERE redriven_at IS NOT NULL) AS redriven,
          (SELECT count(*) - count(DISTINCT (p, o)) FROM seen) AS duplicates,
          ${expected} - (SELECT count(DISTINCT (p, o)) FROM seen) AS missing,
          (SELECT count(*) FROM lines l WHERE l.redriven_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.p = l.p AND r.o = l.o)) AS redriven_not_landed,
          (SELECT count(*) FROM lines l JOIN rows r ON r.p = l.p AND r.o = l.o WHERE l.redriven_at IS NOT NULL AND r.ts <> l.ts) AS lineage_changed`)
    ).rows;
    return {
      rows: Number(counts!.rows), redriven: Number(counts!.redriven), duplicates: Number(counts!.duplicates), missing: Number(counts!.missing),
      redrivenNotLanded: Number(counts!.redriven_not_landed), lineageChanged: Number(counts!.lineage_changed),
    };
  } finally {
    lake.close();
    dir.remove();
  }
}
