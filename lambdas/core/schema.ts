import { createHash } from 'node:crypto';

/**
 * The one definition of a `device_logs` row. Validation, the Parquet schema, the Glue columns,
 * the DuckDB view and the Trino DDL are all derived from the arrays below: add a field here and
 * every layer follows.
 */

/** Logical column types, named after the Glue/Athena type each maps to. */
export type ColumnType = 'string' | 'double' | 'int' | 'bigint' | 'timestamp';

/** One column of the table. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Whether an event may omit the field or carry `null` (event fields only; lineage is never null). */
  readonly nullable: boolean;
  readonly description: string;
  /** The only values accepted, for enumerated strings. */
  readonly allowed?: readonly string[];
  /** A string with few distinct values: the Parquet writer dictionary-encodes it. */
  readonly lowCardinality?: boolean;
}

/** Device status values, in order of severity. */
export const STATUSES = ['ok', 'warning', 'error'] as const;
export type Status = (typeof STATUSES)[number];

/** The fields a device event carries in its JSON value. Unknown extra fields are ignored. */
export const EVENT_FIELDS: readonly ColumnSpec[] = [
  { name: 'device_id', type: 'string', nullable: false, description: 'Stable device identifier; also the Kafka record key.' },
  { name: 'device_name', type: 'string', nullable: false, description: 'Human-readable device name.' },
  { name: 'site', type: 'string', nullable: false, description: 'Site the device is installed at.', lowCardinality: true },
  { name: 'firmware', type: 'string', nullable: false, description: 'Firmware version reported by the device.', lowCardinality: true },
  { name: 'event_time', type: 'timestamp', nullable: false, description: 'When the reading was taken (UTC, millisecond precision).' },
  { name: 'seq', type: 'bigint', nullable: false, description: 'Per-device sequence number, increasing in the order the device sent its events.' },
  { name: 'temperature_c', type: 'double', nullable: true, description: 'Temperature in degrees Celsius; null when the sensor failed.' },
  { name: 'humidity_pct', type: 'double', nullable: true, description: 'Relative humidity in percent; null when the sensor failed.' },
  { name: 'battery_pct', type: 'double', nullable: true, description: 'Battery charge in percent; null when unknown.' },
  { name: 'status', type: 'string', nullable: false, description: 'Device-reported status.', allowed: STATUSES, lowCardinality: true },
];

/** Where each row came from: `(kafka_partition, kafka_offset)` is unique in the table. */
export const LINEAGE_FIELDS: readonly ColumnSpec[] = [
  { name: 'kafka_partition', type: 'int', nullable: false, description: 'Kafka partition the record was read from.' },
  { name: 'kafka_offset', type: 'bigint', nullable: false, description: 'Offset of the record in its partition.' },
  { name: 'kafka_timestamp', type: 'timestamp', nullable: false, description: 'Kafka record timestamp (UTC, milliseconds).' },
];

/**
 * A hash of what decides a record's verdict and its row (each event field's name, type,
 * nullability and allowed values): a claimed run records it, so a run resumed under another
 * schema is refused instead of mixing two schemas' verdicts.
 */
export const SCHEMA_FINGERPRINT = createHash('sha256')
  .update(JSON.stringify(EVENT_FIELDS.map(({ name, type, nullable, allowed }) => [name, type, nullable, allowed ?? null])))
  .digest('hex')
  .slice(0, 16);

/** Every column stored in the Parquet files, in file order. */
export const TABLE_COLUMNS: readonly ColumnSpec[] = [...EVENT_FIELDS, ...LINEAGE_FIELDS];

/** Hive-style partition keys, encoded in the object path rather than in the files. */
export const PARTITION_KEYS = [
  { name: 'dt', type: 'string', description: 'UTC date of event_time, yyyy-MM-dd.' },
  { name: 'hour', type: 'int', description: 'UTC hour of event_time, 0-23.' },
] as const satisfies readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[];

/** Columns of a quarantine NDJSON line (the `device_logs_quarantine` table). */
export const QUARANTINE_COLUMNS: readonly ColumnSpec[] = [
  { name: 'kafka_partition', type: 'int', nullable: false, description: 'Kafka partition of the rejected record.' },
  { name: 'kafka_offset', type: 'bigint', nullable: false, description: 'Offset of the rejected record.' },
  { name: 'kafka_timestamp', type: 'string', nullable: false, description: 'Kafka record timestamp, ISO-8601 UTC.' },
  { name: 'reason', type: 'string', nullable: false, description: 'Why the record was rejected (see QuarantineReason).' },
  { name: 'detail', type: 'string', nullable: false, description: 'What exactly was wrong.' },
  { name: 'key_base64', type: 'string', nullable: true, description: 'Record key, base64.' },
  { name: 'raw_base64', type: 'string', nullable: false, description: 'Record value exactly as read, base64.' },
];

/** Partition key of the quarantine table, encoded in the object path. */
export const QUARANTINE_PARTITION_KEYS = [
  { name: 'dt', type: 'string', description: 'UTC date of the Kafka timestamp, yyyy-MM-dd.' },
] as const satisfies readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[];

const DUCKDB_TYPES: Record<ColumnType, string> = {
  string: 'VARCHAR',
  double: 'DOUBLE',
  int: 'INTEGER',
  bigint: 'BIGINT',
  timestamp: 'TIMESTAMP',
};

/** The DuckDB SQL type of a column. */
export function duckdbType(type: ColumnType): string {
  return DUCKDB_TYPES[type];
}

/** The Glue/Athena (Hive DDL) type of a column: the logical type names were chosen to be exactly these. */
export function glueType(type: ColumnType): string {
  return type;
}

const TRINO_TYPES: Record<ColumnType, string> = {
  string: 'varchar',
  double: 'double',
  int: 'integer',
  bigint: 'bigint',
  timestamp: 'timestamp(3)',
};

/** The type Athena (Trino) reads a column of Glue type {@link glueType} as: Hive `string` is `varchar`, `timestamp` has millisecond precision. */
export function trinoType(type: ColumnType): string {
  return TRINO_TYPES[type];
}
