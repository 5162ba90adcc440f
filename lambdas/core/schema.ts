/**
 * Column types and the columns every table shares (lineage, quarantine). A table's own fields come
 * from its declaration (`table-declaration.ts`); validation, the Parquet schema, the Glue columns,
 * the DuckDB view and the Trino DDL are all derived from these specs.
 */

/** Logical column types, named after the Glue/Athena type each maps to. */
export type ColumnType = 'string' | 'double' | 'int' | 'bigint' | 'boolean' | 'date' | 'timestamp' | 'decimal' | 'struct' | 'array' | 'map';

/** One column of the table, or one part of a nested column (a struct's field, an array's element, a map's value). */
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
  /** Digits of a decimal in all, 1-38. */
  readonly precision?: number;
  /** Digits of a decimal after the point, 0 to `precision`. */
  readonly scale?: number;
  /** How a decimal is written in the record value. */
  readonly decimalInput?: DecimalInput;
  /** The fields of a struct, in declaration order. */
  readonly fields?: readonly ColumnSpec[];
  /** The element of an array, named `element`. */
  readonly items?: ColumnSpec;
  /** The value of a map, named `value`; map keys are the object's property names, strings. */
  readonly values?: ColumnSpec;
}

/** How a decimal arrives: a JSON number (read from its exact text), a string of digits, or either. */
export type DecimalInput = 'number' | 'string' | 'number-or-string';

/** What decides a column's SQL type: its type and, for decimals and nested columns, their details. */
export type ColumnShape = Pick<ColumnSpec, 'type' | 'precision' | 'scale' | 'fields' | 'items' | 'values'>;

/**
 * Whether values of `type` are kept as JS values (decimals as unscaled bigints, nested values as
 * objects and arrays) rather than as one number per row: they take the JSON.parse path when
 * decoded and hyparquet-writer's nested-column machinery when written.
 */
export function heldAsValue(type: ColumnType): boolean {
  return type === 'decimal' || type === 'struct' || type === 'array' || type === 'map';
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
  { name: 'redriven_at', type: 'string', nullable: true, description: 'When `streamlake redrive` landed the record in the table, ISO-8601 UTC; null while it is only here.' },
  { name: 'redrive_run', type: 'int', nullable: true, description: 'The redrive run that landed it (its ledger sequence).' },
];

/** Partition key of the quarantine table, encoded in the object path. */
export const QUARANTINE_PARTITION_KEYS = [
  { name: 'dt', type: 'string', description: 'UTC date of the Kafka timestamp, yyyy-MM-dd.' },
] as const satisfies readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[];

/** The column types a row slot holds as one number or string id. */
export type ScalarType = Exclude<ColumnType, 'decimal' | 'struct' | 'array' | 'map'>;

const DUCKDB_TYPES: Record<ScalarType, string> = {
  string: 'VARCHAR',
  double: 'DOUBLE',
  int: 'INTEGER',
  bigint: 'BIGINT',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

const TRINO_TYPES: Record<ScalarType, string> = {
  string: 'varchar',
  double: 'double',
  int: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp(3)',
};

/** How one engine spells types: its scalar names and how it composes the others. */
interface TypeSyntax {
  scalar(type: ScalarType): string;
  decimal(precision: number, scale: number): string;
  struct(fields: readonly (readonly [name: string, type: string])[]): string;
  array(element: string): string;
  map(value: string): string;
}

const DUCKDB: TypeSyntax = {
  scalar: (type) => DUCKDB_TYPES[type],
  decimal: (precision, scale) => `DECIMAL(${precision},${scale})`,
  // Quoted: a field may be named like a keyword ("order").
  struct: (fields) => `STRUCT(${fields.map(([name, type]) => `"${name}" ${type}`).join(', ')})`,
  array: (element) => `${element}[]`,
  map: (value) => `MAP(VARCHAR, ${value})`,
};

// Hive DDL, as Glue stores it: the logical type names were chosen to be exactly its scalars.
const GLUE: TypeSyntax = {
  scalar: (type) => type,
  decimal: (precision, scale) => `decimal(${precision},${scale})`,
  struct: (fields) => `struct<${fields.map(([name, type]) => `${name}:${type}`).join(',')}>`,
  array: (element) => `array<${element}>`,
  map: (value) => `map<string,${value}>`,
};

// As Trino 435 (Athena's engine) prints the types it reads Glue's as: row field names bare, in lowercase as the metastore keeps them.
const TRINO: TypeSyntax = {
  scalar: (type) => TRINO_TYPES[type],
  decimal: (precision, scale) => `decimal(${precision},${scale})`,
  struct: (fields) => `row(${fields.map(([name, type]) => `${name.toLowerCase()} ${type}`).join(', ')})`,
  array: (element) => `array(${element})`,
  map: (value) => `map(varchar, ${value})`,
};

function typeIn(syntax: TypeSyntax, shape: ColumnShape, caller: string): string {
  const missing = (detail: string): never => {
    throw new TypeError(`${caller}: a ${shape.type} column needs its ${detail}`);
  };
  switch (shape.type) {
    case 'decimal':
      return shape.precision === undefined || shape.scale === undefined ? missing('precision and scale') : syntax.decimal(shape.precision, shape.scale);
    case 'struct':
      return shape.fields ? syntax.struct(shape.fields.map((field) => [field.name, typeIn(syntax, field, caller)] as const)) : missing('fields');
    case 'array':
      return shape.items ? syntax.array(typeIn(syntax, shape.items, caller)) : missing('items');
    case 'map':
      return shape.values ? syntax.map(typeIn(syntax, shape.values, caller)) : missing('values');
    default:
      return syntax.scalar(shape.type);
  }
}

/**
 * The DuckDB SQL type of a column, e.g. `STRUCT("city" VARCHAR, "zip" VARCHAR)` or `DECIMAL(19,2)`.
 */
export function duckdbType(column: ColumnShape): string {
  return typeIn(DUCKDB, column, 'duckdbType');
}

/** The Glue/Athena (Hive DDL) type of a column, e.g. `struct<city:string,zip:string>`, `array<int>` or `decimal(19,2)`. */
export function glueType(column: ColumnShape): string {
  return typeIn(GLUE, column, 'glueType');
}

/**
 * The type Athena (Trino) reads a column of Glue type {@link glueType} as: Hive `string` is
 * `varchar`, `timestamp` has millisecond precision, a struct is a `row(…)`.
 */
export function trinoType(column: ColumnShape): string {
  return typeIn(TRINO, column, 'trinoType');
}
