import type { TableFormat } from '../ports/table-format.ts';
import { bucketMillis, curatedKey, timeBucketOf } from './lake-layout.ts';
import type { TableSpec } from './table-declaration.ts';

/**
 * Hive-style Parquet: a run's files go under `dt=…/hour=…/`, where Athena's partition projection
 * and DuckDB find them. A file is part of the table once written, so the checkpoint commit alone
 * ends a run (and a redrive's ledger commit a redrive run); readers that list a run's directory
 * before it commits see the files already.
 */
export function hiveParquetFormat(table: TableSpec): TableFormat {
  return {
    timestampUnit: 'millis',
    dataFileKey: (bucket, stem) => curatedKey(table.name, timeBucketOf(bucket * bucketMillis(table.partitionBy), table.partitionBy), stem),
    commitRun: () => Promise.resolve(),
    commitRedrive: () => Promise.resolve(),
    // Nothing to compare: the files of a reset ledger's runs get new names, and lines marked by the old runs stay marked.
    checkRedriveLedger: () => Promise.resolve(),
  };
}
