/**
 * Column types and the columns every table shares (lineage, quarantine). A table's own fields come
 * from its declaration (`table-declaration.ts`); validation, the Parquet schema, the Glue columns,
 * the DuckDB view and the Trino DDL are all derived from these specs.
 */

/** Logical column types, named after the Glue/Athena type each maps to. */
export type ColumnType = 'string' | 'double' | 'int' | 'bigint' | 'boolean' | 'date' | 'timestamp';

/** One column of the table. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Whether an event may omit the field or carry `null` (event fields only; lineage is never null). */
  readonly nullable: boolean;
  readonly description: string;
  /** The only values accepted, for enumerated strings. */
  readonly allowed?: readonly string[];
  /** Shortest accepted string, in characters. */
  readonly minLength?: number;
  /** Bounds of an accepted integer. */
  readonly minimum?: number;
  readonly maximum?: number;
  /** How a timestamp field is written in the record value. */
  readonly timestampInput?: TimestampInput;
}

/**
 * How a timestamp arrives: an ISO-8601 date-time with a zone, integer epoch milliseconds or
 * seconds, or either of the first two.
 */
export type TimestampInput = 'iso' | 'iso-or-epoch-millis' | 'epoch-millis' | 'epoch-seconds';

/** Where each row came from: `(kafka_partition, kafka_offset)` is unique in the table. */
export const LINEAGE_FIELDS: readonly ColumnSpec[] = [
  { name: 'kafka_partition', type: 'int', nullable: false, description: 'Kafka partition the record was read from.' },
  { name: 'kafka_offset', type: 'bigint', nullable: false, description: 'Offset of the record in its partition.' },
  { name: 'kafka_timestamp', type: 'timestamp', nullable: false, description: 'Kafka record timestamp (UTC, milliseconds).' },
];

/** Columns the pipeline adds to every table: a declared field may not take their names. */
export const RESERVED_COLUMNS: readonly string[] = [...LINEAGE_FIELDS.map((field) => field.name), '_extra', 'dt', 'hour'];

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
  boolean: 'BOOLEAN',
  date: 'DATE',
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
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp(3)',
};

/** The type Athena (Trino) reads a column of Glue type {@link glueType} as: Hive `string` is `varchar`, `timestamp` has millisecond precision. */
export function trinoType(type: ColumnType): string {
  return TRINO_TYPES[type];
}
