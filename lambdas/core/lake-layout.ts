import type { ColumnSpec } from './schema.ts';
import type { PartitionBy, TableSpec } from './table-declaration.ts';

/**
 * Where everything lives in the lake bucket (or the local lake directory), per table. The Glue
 * partition projection templates, the DuckDB globs and the compactor's writes are all derived
 * from here.
 */

/** Where a table's Parquet files live. */
export function curatedPrefix(table: string): string {
  return `curated/${table}/`;
}

/** Where a table's quarantine files live. */
export function quarantinePrefix(table: string): string {
  return `quarantine/${table}/`;
}

/** Where a table's checkpoints live. */
export function checkpointPrefix(table: string): string {
  return `checkpoints/${table}/`;
}

/** Hours are written with two digits, so projection declares `digits = 2`. */
export const HOUR_DIGITS = 2;

/** Hive-style partition keys of a table, encoded in the object path rather than in the files. */
export function partitionKeys(partitionBy: PartitionBy): readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[] {
  const dt = { name: 'dt', type: 'string', description: 'UTC date of the event time, yyyy-MM-dd.' } as const;
  return partitionBy === 'hour' ? [dt, { name: 'hour', type: 'int', description: 'UTC hour of the event time, 0-23.' }] : [dt];
}

/** Athena partition projection `storage.location.template` of a table, relative to the bucket root. */
export function curatedLocationTemplate(table: TableSpec): string {
  return `${curatedPrefix(table.name)}dt=\${dt}/${table.partitionBy === 'hour' ? 'hour=${hour}/' : ''}`;
}

/** Athena partition projection `storage.location.template` of a quarantine table, relative to the bucket root. */
export function quarantineLocationTemplate(table: string): string {
  return `${quarantinePrefix(table)}dt=\${dt}/`;
}

/** A UTC time bucket of a curated table: a day, or an hour of it. */
export interface TimeBucket {
  /** yyyy-MM-dd */
  readonly dt: string;
  /** 0-23; absent for tables partitioned by day. */
  readonly hour?: number;
}

/** The bucket of an epoch-millisecond instant in a table partitioned by `partitionBy`. */
export function timeBucketOf(epochMs: number, partitionBy: PartitionBy): TimeBucket {
  const instant = new Date(epochMs);
  const dt = instant.toISOString().slice(0, 10);
  return partitionBy === 'hour' ? { dt, hour: instant.getUTCHours() } : { dt };
}

/** The length of a table's time buckets, in milliseconds. */
export function bucketMillis(partitionBy: PartitionBy): number {
  return partitionBy === 'hour' ? 3_600_000 : 86_400_000;
}

/** The UTC date of an epoch-millisecond instant, yyyy-MM-dd. */
export function dateOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

function bucketDir(bucket: TimeBucket): string {
  return `dt=${bucket.dt}/${bucket.hour === undefined ? '' : `hour=${String(bucket.hour).padStart(HOUR_DIGITS, '0')}/`}`;
}

/**
 * The file a run writes for one time bucket, named by the run's {@link runFileStem} (or
 * {@link redriveFileStem}), so a retried run writes the same names.
 */
export function curatedKey(table: string, bucket: TimeBucket, stem: string): string {
  return `${curatedPrefix(table)}${bucketDir(bucket)}${stem}.parquet`;
}

/** The quarantine file of a run for the UTC date of the rejected records' Kafka timestamps. */
export function quarantineKey(table: string, dt: string, sequence: number, runId: string): string {
  return `${quarantinePrefix(table)}dt=${dt}/${runFileStem(sequence, runId)}.ndjson`;
}

/** The ledger of a table's redrive runs, beside its compactors' checkpoints (and shaped like one). */
export function redriveLedgerKey(table: string): string {
  return `${checkpointPrefix(table)}redrive/ledger.json`;
}

/** The checkpoint object of a table's consumer group. */
export function checkpointKey(table: string, group: string): string {
  return `${checkpointPrefix(table)}${group}.json`;
}

/** The name of a compactor run's files: its sequence number and the id derived from the offsets it read. */
export function runFileStem(sequence: number, runId: string): string {
  return `run-${String(sequence).padStart(8, '0')}-${runId}`;
}

/** The name of a redrive run's data files: its own sequence (in the redrive ledger) and id. */
export function redriveFileStem(sequence: number, runId: string): string {
  return `redrive-${String(sequence).padStart(8, '0')}-${runId}`;
}

/** Parses `dt=…[/hour=…]` out of a curated key; undefined for any other key. */
export function bucketOfKey(key: string): TimeBucket | undefined {
  const match = /^curated\/[^/]+\/dt=(\d{4}-\d{2}-\d{2})\/(?:hour=(\d{2})\/)?[^/]+$/.exec(key);
  if (!match) return undefined;
  return match[2] === undefined ? { dt: match[1]! } : { dt: match[1]!, hour: Number(match[2]) };
}

/** Where an Iceberg table's metadata files (table metadata, manifest lists, manifests) live. */
export function icebergMetadataPrefix(table: string): string {
  return `${curatedPrefix(table)}metadata/`;
}

/**
 * Where an Iceberg table's data files of one partition go, in the directory Iceberg names after it
 * (`data/event_time_hour=2026-11-27-10/`); readers find files through the manifests, never by listing.
 */
export function icebergDataDir(table: string, partitionDir: string): string {
  return `${curatedPrefix(table)}data/${partitionDir}/`;
}

/** The data file a run (named by its stem) writes for one partition of an Iceberg table. */
export function icebergDataKey(table: string, partitionDir: string, stem: string): string {
  return `${icebergDataDir(table, partitionDir)}${stem}.parquet`;
}

/** The object-store catalog's pointer to a table's current metadata file. */
export function catalogKey(table: string): string {
  return `catalog/${table}.json`;
}
