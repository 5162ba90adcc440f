import { createHash } from 'node:crypto';
import { ANNOTATIONS, fieldsOf, INSTEAD, isObject } from './field-declaration.ts';
import { LINEAGE_FIELDS, RESERVED_COLUMNS, type ColumnSpec } from './schema.ts';

/**
 * A table declared as data: a JSON Schema (draft 2020-12) of the record value with an
 * `x-streamlake` object that says where the records come from and how the table is laid out.
 * Validation, the Parquet schema, the Glue and DuckDB tables and the stack all derive from it.
 */
export interface TableSpec {
  /** Table name in Glue, Athena and DuckDB. */
  readonly name: string;
  /** Kafka topic the records are read from. */
  readonly topic: string;
  /** The field whose value is the record key, so one entity's records keep their order. */
  readonly key: string | undefined;
  /** The field that places a row in time and partitions the table. */
  readonly eventTime: string;
  /** How the table is partitioned by `eventTime`. */
  readonly partitionBy: PartitionBy;
  /** How the table is stored: Hive-style Parquet directories, or an Apache Iceberg table. */
  readonly format: TableFormatName;
  readonly description: string;
  /** The declared fields, in declaration order. */
  readonly fields: readonly ColumnSpec[];
  /** Hash of what decides a record's verdict and its row: a claimed run records it. */
  readonly fingerprint: string;
  /** Where the declaration came from, for messages. */
  readonly source: string;
}

export const PARTITION_BY = ['hour', 'day'] as const;
export const TABLE_FORMATS = ['hive-parquet', 'iceberg'] as const;
export type TableFormatName = (typeof TABLE_FORMATS)[number];
/** The format of a table whose declaration names none. */
export const DEFAULT_TABLE_FORMAT: TableFormatName = 'hive-parquet';
export type PartitionBy = (typeof PARTITION_BY)[number];

/** A declaration the pipeline cannot honour; the message names the file, the field and what to use instead. */
export class TableDeclarationError extends Error {
  override name = 'TableDeclarationError';
}

const TABLE_NAME = /^[a-z][a-z0-9_]{0,127}$/;
// Kafka's legal topic characters and length.
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const TOP_KEYWORDS = new Set([...ANNOTATIONS, '$schema', '$id', 'type', 'properties', 'required', 'additionalProperties', 'x-streamlake']);
const STREAMLAKE_KEYS = new Set(['table', 'topic', 'key', 'eventTime', 'partitionBy', 'format']);

/**
 * Reads a declaration (the parsed JSON of `<table>.schema.json`) into a table spec, or throws a
 * one-line `TableDeclarationError` naming `source`, the field and the way out.
 */
export function parseTableDeclaration(declaration: unknown, source: string): TableSpec {
  const fail = (message: string): never => {
    throw new TableDeclarationError(`${source}: ${message}`);
  };
  if (!isObject(declaration)) return fail('a table declaration is a JSON Schema object');
  for (const keyword of Object.keys(declaration)) {
    if (!TOP_KEYWORDS.has(keyword)) fail(`keyword "${keyword}" is not supported at the top level${Object.hasOwn(INSTEAD, keyword) ? `: ${INSTEAD[keyword]}` : ''}`);
  }
  if (declaration.$schema !== undefined && declaration.$schema !== DRAFT_2020_12) fail(`"$schema" must be ${DRAFT_2020_12} (or left out)`);
  if (declaration.type !== 'object') fail('"type" must be "object": a record value is a JSON object');
  if (declaration.additionalProperties !== undefined && declaration.additionalProperties !== true) {
    fail('"additionalProperties" can only be true (or left out): fields the declaration does not name are kept in the _extra column, never dropped');
  }
  const options = declaration['x-streamlake'];
  if (!isObject(options)) return fail('"x-streamlake" must be an object with at least "table", "topic" and "eventTime"');
  for (const key of Object.keys(options)) if (!STREAMLAKE_KEYS.has(key)) fail(`"x-streamlake.${key}" is not a setting; the settings are ${[...STREAMLAKE_KEYS].join(', ')}`);
  const table = options.table;
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    fail(`"x-streamlake.table" must be a name of lowercase letters, digits and _ starting with a letter (Glue and Athena names), got ${JSON.stringify(table)}`);
  }
  const topic = options.topic;
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic)) fail(`"x-streamlake.topic" must be a Kafka topic name (letters, digits, ".", "_", "-"), got ${JSON.stringify(topic)}`);
  const partitionBy = options.partitionBy ?? 'hour';
  if (!PARTITION_BY.includes(partitionBy as PartitionBy)) fail(`"x-streamlake.partitionBy" must be "hour" or "day", got ${JSON.stringify(partitionBy)}`);

  const format = options.format ?? DEFAULT_TABLE_FORMAT;
  if (!TABLE_FORMATS.includes(format as TableFormatName)) fail(`"x-streamlake.format" must be ${TABLE_FORMATS.map((f) => `"${f}"`).join(' or ')}, got ${JSON.stringify(format)}`);

  const fields = fieldsOf(declaration.properties, declaration.required, '', fail, RESERVED_COLUMNS);

  const eventTime = options.eventTime;
  const eventField = fields.find((field) => field.name === eventTime);
  if (typeof eventTime !== 'string' || !eventField) return fail(`"x-streamlake.eventTime" must name a field of "properties", got ${JSON.stringify(eventTime)}`);
  if (eventField.type !== 'timestamp') fail(`"x-streamlake.eventTime" field ${eventTime} must be a date-time: {"type": "string", "format": "date-time"} or an integer with "x-streamlake-type": "epoch-millis" or "epoch-seconds"`);
  if (eventField.nullable) fail(`"x-streamlake.eventTime" field ${eventTime} must be required and not nullable: it places every row in time`);
  const key = options.key;
  if (key !== undefined) {
    const keyField = fields.find((field) => field.name === key);
    if (typeof key !== 'string' || !keyField) fail(`"x-streamlake.key" must name a field of "properties", got ${JSON.stringify(key)}`);
    if (keyField!.type !== 'string' || keyField!.nullable) fail(`"x-streamlake.key" field ${String(key)} must be a required string: it becomes the Kafka record key`);
  }
  const description = typeof declaration.description === 'string' ? declaration.description : '';
  return {
    name: table as string, topic: topic as string, key: key as string | undefined, eventTime, partitionBy: partitionBy as PartitionBy, format: format as TableFormatName, description, fields,
    fingerprint: fingerprintOf(eventTime, fields), source,
  };
}

function fingerprintOf(eventTime: string, fields: readonly ColumnSpec[]): string {
  return createHash('sha256').update(JSON.stringify([eventTime, fields.map(shapeOf)])).digest('hex').slice(0, 16);
}

// What of a field decides verdicts and rows. Decimal and nested details are appended only where
// present, so the fingerprints of flat tables, recorded in claimed runs, stay what they were.
function shapeOf(field: ColumnSpec): unknown[] {
  const { name, type, nullable, allowed, minLength, minimum, maximum, timestampInput, precision, scale, decimalInput, fields, items, values } = field;
  const shape: unknown[] = [name, type, nullable, allowed ?? null, minLength ?? null, minimum ?? null, maximum ?? null, timestampInput ?? null];
  if (type === 'decimal') shape.push(precision, scale, decimalInput);
  if (fields) shape.push(fields.map(shapeOf));
  if (items) shape.push(shapeOf(items));
  if (values) shape.push(shapeOf(values));
  return shape;
}

/** The columns of a table's Parquet files, in file order: the declared fields, `_extra`, then the lineage. */
export function tableColumns(table: TableSpec): readonly ColumnSpec[] {
  return [...table.fields, EXTRA_COLUMN, ...LINEAGE_FIELDS];
}

/** Where the fields a declaration does not name are kept, as the JSON text of an object. */
export const EXTRA_COLUMN: ColumnSpec = {
  name: '_extra', type: 'string', nullable: true,
  description: 'Fields the declaration does not name, as the JSON text of an object; null when there were none.',
};
