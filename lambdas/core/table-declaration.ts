import { createHash } from 'node:crypto';
import { LINEAGE_FIELDS, RESERVED_COLUMNS, type ColumnSpec, type TimestampInput } from './schema.ts';

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
  readonly description: string;
  /** The declared fields, in declaration order. */
  readonly fields: readonly ColumnSpec[];
  /** Hash of what decides a record's verdict and its row: a claimed run records it. */
  readonly fingerprint: string;
  /** Where the declaration came from, for messages. */
  readonly source: string;
}

export const PARTITION_BY = ['hour', 'day'] as const;
export type PartitionBy = (typeof PARTITION_BY)[number];

/** A declaration the pipeline cannot honour; the message names the file, the field and what to use instead. */
export class TableDeclarationError extends Error {
  override name = 'TableDeclarationError';
}

const TABLE_NAME = /^[a-z][a-z0-9_]{0,127}$/;
// Kafka's legal topic characters and length.
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// Keywords that only annotate: accepted and ignored by validation.
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'default', '$comment', 'deprecated', 'readOnly', 'writeOnly']);
const FIELD_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'enum', 'format', 'minLength', 'minimum', 'maximum', 'x-streamlake-type']);
const TOP_KEYWORDS = new Set([...ANNOTATIONS, '$schema', '$id', 'type', 'properties', 'required', 'additionalProperties', 'x-streamlake']);
const STREAMLAKE_KEYS = new Set(['table', 'topic', 'key', 'eventTime', 'partitionBy']);

// What to use instead of a keyword the pipeline cannot honour.
const INSTEAD: Readonly<Record<string, string>> = {
  oneOf: 'declare one type per field; a field that takes several shapes can be a string holding JSON',
  anyOf: 'declare one type per field (a type list with "null" makes it nullable)',
  allOf: 'write the constraints on the field itself',
  not: 'declare the accepted values with "enum"',
  $ref: 'write the field inline: declarations are one self-contained file',
  $defs: 'write fields inline: declarations are one self-contained file',
  definitions: 'write fields inline: declarations are one self-contained file',
  prefixItems: 'declare an array of one item type',
  patternProperties: 'name the fields in "properties"; unnamed fields are kept in the _extra column',
  const: 'use "enum" with one value',
  pattern: 'validate the format in the producer, or use "enum"',
  if: 'declare fields without conditions',
};

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
    if (!TOP_KEYWORDS.has(keyword)) fail(`keyword "${keyword}" is not supported at the top level${INSTEAD[keyword] ? `: ${INSTEAD[keyword]}` : ''}`);
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

  const properties = declaration.properties;
  if (!isObject(properties) || Object.keys(properties).length === 0) return fail('"properties" must name at least one field');
  const required = declaration.required ?? [];
  if (!Array.isArray(required) || !required.every((name) => typeof name === 'string')) return fail('"required" must be an array of field names');
  for (const name of required) if (!Object.hasOwn(properties, name)) fail(`"required" names ${name}, which is not in "properties"`);

  const seen = new Map<string, string>();
  const fields = Object.entries(properties).map(([name, schema]) => {
    const fieldFail = (message: string): never => fail(`field ${name}: ${message}`);
    if (!FIELD_NAME.test(name)) fieldFail('a field name is letters, digits and _, not starting with a digit (it becomes a column name)');
    const folded = name.toLowerCase();
    if (RESERVED_COLUMNS.includes(folded)) fieldFail(`${folded} is a column the pipeline adds; rename the field`);
    if (seen.has(folded)) fieldFail(`differs from field ${seen.get(folded)} only in case, and Glue and Athena column names ignore case`);
    seen.set(folded, name);
    return fieldOf(name, schema, required.includes(name), fieldFail);
  });

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
    name: table as string, topic: topic as string, key: key as string | undefined, eventTime, partitionBy: partitionBy as PartitionBy, description, fields,
    fingerprint: fingerprintOf(eventTime, fields), source,
  };
}

function fieldOf(name: string, schema: unknown, isRequired: boolean, fail: (message: string) => never): ColumnSpec {
  if (!isObject(schema)) return fail('a field is a JSON Schema object such as {"type": "string"}');
  for (const keyword of Object.keys(schema)) {
    if (!FIELD_KEYWORDS.has(keyword)) fail(`keyword "${keyword}" is not supported${INSTEAD[keyword] ? `: ${INSTEAD[keyword]}` : ''}`);
  }
  const declared = Array.isArray(schema.type) ? schema.type : [schema.type];
  const types = declared.filter((type) => type !== 'null');
  const nullable = !isRequired || types.length < declared.length;
  const description = typeof schema.description === 'string' ? schema.description : '';
  const base = { name, nullable, description };
  const special = schema['x-streamlake-type'];
  const key = [...types].sort().join(',');
  if (special !== undefined) {
    if (key !== 'integer' || (special !== 'epoch-millis' && special !== 'epoch-seconds')) {
      fail(`"x-streamlake-type" ${JSON.stringify(special)} is not supported here; use "epoch-millis" or "epoch-seconds" on an integer field for a timestamp`);
    }
    return { ...base, type: 'timestamp', timestampInput: special as TimestampInput };
  }
  if (schema.format !== undefined && schema.format !== 'date-time' && schema.format !== 'date') fail(`format ${JSON.stringify(schema.format)} is not supported; use "date-time" or "date"`);
  if (schema.format === 'date') {
    if (key !== 'string') fail('"format": "date" applies to a string field');
    return { ...base, type: 'date' };
  }
  if (schema.format === 'date-time') {
    if (key === 'string') return { ...base, type: 'timestamp', timestampInput: 'iso' };
    if (key === 'integer,string') return { ...base, type: 'timestamp', timestampInput: 'iso-or-epoch-millis' };
    return fail('"format": "date-time" applies to a string field (or ["string", "integer"] to also take epoch milliseconds)');
  }
  switch (key) {
    case 'string':
      return { ...base, type: 'string', ...stringChecks(schema, fail) };
    case 'integer': {
      const { minimum, maximum } = integerBounds(schema, fail);
      const int32 = minimum !== undefined && maximum !== undefined && minimum >= INT32_MIN && maximum <= INT32_MAX;
      return { ...base, type: int32 ? 'int' : 'bigint', ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) };
    }
    case 'number':
      return { ...base, type: 'double' };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'object':
    case 'array':
      return fail(`${key} fields are not supported yet; declare the value as a string field holding its JSON, or leave it out of "properties" to keep it in _extra`);
    default:
      return fail(`"type" must be one of string, integer, number or boolean (optionally with "null"), got ${JSON.stringify(schema.type)}`);
  }
}

function stringChecks(schema: Record<string, unknown>, fail: (message: string) => never): Pick<ColumnSpec, 'allowed' | 'minLength'> {
  const checks: { allowed?: readonly string[]; minLength?: number } = {};
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0 || !schema.enum.every((value) => typeof value === 'string')) fail('"enum" must list one or more strings');
    checks.allowed = schema.enum as string[];
  }
  if (schema.minLength !== undefined) {
    if (!Number.isSafeInteger(schema.minLength) || (schema.minLength as number) < 0) fail('"minLength" must be a whole number');
    checks.minLength = schema.minLength as number;
  }
  return checks;
}

// An integer column is int32 when its declared range fits, bigint otherwise.
function integerBounds(schema: Record<string, unknown>, fail: (message: string) => never): { minimum?: number; maximum?: number } {
  for (const bound of ['minimum', 'maximum'] as const) {
    if (schema[bound] !== undefined && !Number.isSafeInteger(schema[bound])) fail(`"${bound}" must be an integer`);
  }
  return schema as { minimum?: number; maximum?: number };
}

function fingerprintOf(eventTime: string, fields: readonly ColumnSpec[]): string {
  const shape = fields.map(({ name, type, nullable, allowed, minLength, minimum, maximum, timestampInput }) => [name, type, nullable, allowed ?? null, minLength ?? null, minimum ?? null, maximum ?? null, timestampInput ?? null]);
  return createHash('sha256').update(JSON.stringify([eventTime, shape])).digest('hex').slice(0, 16);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
