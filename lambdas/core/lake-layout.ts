/**
 * Where everything lives in the lake bucket (or the local lake directory). The Glue partition
 * projection template, the DuckDB glob and the compactor's writes are all derived from here.
 */

/** The table the compactor writes. */
export const TABLE = 'device_logs';

export const CURATED_PREFIX = `curated/${TABLE}/`;
export const QUARANTINE_PREFIX = `quarantine/${TABLE}/`;
export const CHECKPOINT_PREFIX = `checkpoints/${TABLE}/`;

/** Athena partition projection `storage.location.template`, relative to the bucket root. */
export const CURATED_LOCATION_TEMPLATE = `${CURATED_PREFIX}dt=\${dt}/hour=\${hour}/`;
/** Athena partition projection `storage.location.template` of the quarantine table, relative to the bucket root. */
export const QUARANTINE_LOCATION_TEMPLATE = `${QUARANTINE_PREFIX}dt=\${dt}/`;
/** Hours are written with two digits, so projection declares `digits = 2`. */
export const HOUR_DIGITS = 2;

/** A UTC (date, hour) bucket of the curated table. */
export interface HourBucket {
  /** yyyy-MM-dd */
  readonly dt: string;
  /** 0-23 */
  readonly hour: number;
}

/** The UTC date and hour of an epoch-millisecond instant. */
export function hourBucketOf(epochMs: number): HourBucket {
  const instant = new Date(epochMs);
  return { dt: instant.toISOString().slice(0, 10), hour: instant.getUTCHours() };
}

/** The UTC date of an epoch-millisecond instant, yyyy-MM-dd. */
export function dateOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

function hourDir(bucket: HourBucket): string {
  return `dt=${bucket.dt}/hour=${String(bucket.hour).padStart(HOUR_DIGITS, '0')}/`;
}

/**
 * The file a compaction run writes for one hour. The name depends only on the run's sequence
 * number and the id derived from the offsets it read, so a retried run writes the same names.
 */
export function curatedKey(bucket: HourBucket, sequence: number, runId: string): string {
  return `${CURATED_PREFIX}${hourDir(bucket)}${runFileStem(sequence, runId)}.parquet`;
}

/** The quarantine file of a run for the UTC date of the rejected records' Kafka timestamps. */
export function quarantineKey(dt: string, sequence: number, runId: string): string {
  return `${QUARANTINE_PREFIX}dt=${dt}/${runFileStem(sequence, runId)}.ndjson`;
}

/** The checkpoint object of a consumer group. */
export function checkpointKey(group: string): string {
  return `${CHECKPOINT_PREFIX}${group}.json`;
}

function runFileStem(sequence: number, runId: string): string {
  return `run-${String(sequence).padStart(8, '0')}-${runId}`;
}

/** Parses `dt=…/hour=…` out of a curated key; undefined for any other key. */
export function bucketOfKey(key: string): HourBucket | undefined {
  const match = /^curated\/[^/]+\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//.exec(key);
  return match ? { dt: match[1]!, hour: Number(match[2]) } : undefined;
}
