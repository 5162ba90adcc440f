import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { RESERVED_COLUMNS } from '../../lambdas/core/schema.ts';
import { parseTableDeclaration, TableDeclarationError, type PartitionBy } from '../../lambdas/core/table-declaration.ts';

/** What `streamlake schema infer` starts a declaration from. */
export interface InferenceOptions {
  /** Sample records, one JSON object per line. */
  readonly file: string;
  readonly table: string;
  readonly topic: string;
  /** The event-time field; default: the first field that reads as a date-time with a zone in every record. */
  readonly eventTime?: string;
  /** The record-key field, if any. */
  readonly key?: string;
  readonly partitionBy?: PartitionBy;
}

/** A starting declaration, and what the inference decided that its reader should know. */
export interface InferredDeclaration {
  /** The JSON of `<table>.schema.json`, loadable as it is. */
  readonly declaration: Record<string, unknown>;
  /** One sentence per decision made for the user: the event time chosen, fields left out and why. */
  readonly notes: readonly string[];
}

/** The sample cannot start a declaration; the message says what to pass instead. */
export class SchemaInferenceError extends Error {
  override name = 'SchemaInferenceError';
}

type JsonSchema = Record<string, unknown>;

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// Below this, an integer event time is taken as epoch seconds: 1e11 s is the year 5138, 1e11 ms is 1973.
const EPOCH_SECONDS_BELOW = 1e11;
const INTEGER_TYPES = new Set([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
]);
const TIMESTAMP_TYPES = new Set([DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_S, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_NS, DuckDBTypeId.TIMESTAMP_TZ]);
const STRING_TYPES = new Set([DuckDBTypeId.VARCHAR, DuckDBTypeId.UUID, DuckDBTypeId.TIME, DuckDBTypeId.TIME_TZ, DuckDBTypeId.ENUM]);
// JSON value kinds (json_type) that one JSON Schema type takes: integers are numbers too.
const KIND_FAMILY: Readonly<Record<string, string>> = { BIGINT: 'number', UBIGINT: 'number', DOUBLE: 'number', VARCHAR: 'string', BOOLEAN: 'boolean', OBJECT: 'object', ARRAY: 'array' };

/**
 * The JSON Schema of a column DuckDB detected in JSON (`read_json`): STRUCT → object with
 * properties, LIST → array with items, MAP → object with additionalProperties, DATE and TIMESTAMP
 * → strings with a format. Undefined when DuckDB found no one type (its `JSON` type, or only nulls).
 */
export function jsonSchemaOf(type: DuckDBType): JsonSchema | undefined {
  if (type.alias === 'JSON') return undefined;
  if (type.typeId === DuckDBTypeId.BOOLEAN) return { type: 'boolean' };
  if (INTEGER_TYPES.has(type.typeId)) return { type: 'integer' };
  if (type.typeId === DuckDBTypeId.FLOAT || type.typeId === DuckDBTypeId.DOUBLE || type.typeId === DuckDBTypeId.DECIMAL) return { type: 'number' };
  if (type.typeId === DuckDBTypeId.DATE) return { type: 'string', format: 'date' };
  if (TIMESTAMP_TYPES.has(type.typeId)) return { type: 'string', format: 'date-time' };
  if (STRING_TYPES.has(type.typeId)) return { type: 'string' };
  if (type.typeId === DuckDBTypeId.STRUCT) {
    const properties = Object.fromEntries(type.entryNames.map((name, i) => [name, jsonSchemaOf(type.entryTypes[i]!)]).filter(([, schema]) => schema !== undefined));
    return Object.keys(properties).length > 0 ? { type: 'object', properties } : undefined;
  }
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const items = jsonSchemaOf(type.valueType);
    return items && { type: 'array', items };
  }
  if (type.typeId === DuckDBTypeId.MAP) {
    const values = jsonSchemaOf(type.valueType);
    return values && { type: 'object', additionalProperties: values };
  }
  return undefined;
}

/** How often a top-level field appears in the sample, and as which JSON kinds. */
interface Presence {
  readonly present: number;
  readonly nulls: number;
  readonly kinds: readonly string[];
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * A starting declaration for the records of `options.file`, with the types DuckDB's JSON reader
 * detects (`read_json`, every record sampled). A top-level field present in every record is
 * required; one that is null in some record is nullable. Fields the sample cannot type, or that
 * the pipeline cannot declare, are left out (their values land in `_extra`) and named in `notes`.
 */
export async function inferDeclaration(options: InferenceOptions): Promise<InferredDeclaration> {
  if (!existsSync(options.file) || !statSync(options.file).isFile()) throw new SchemaInferenceError(`no file ${options.file}; pass a file of sample records, one JSON object per line, to --file`);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    const sample = await readSample(connection, options.file);
    const notes: string[] = [];
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [name, type] of sample.columns) {
      const field = await fieldSchema(connection, options.file, name, type, sample.presence.get(name), notes);
      if (!field) continue;
      properties[name] = field.schema;
      if (sample.presence.get(name)!.present === sample.records) required.push(name);
    }
    const eventTime = await chooseEventTime(connection, options, properties, required, notes);
    const declaration: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      description: `Inferred by streamlake schema infer from ${basename(options.file)} (${sample.records} records): check the types, add enums and descriptions before you deploy it.`,
      type: 'object',
      'x-streamlake': { table: options.table, topic: options.topic, ...(options.key && { key: options.key }), eventTime, partitionBy: options.partitionBy ?? 'hour' },
      properties,
      required,
    };
    dropUndeclarable(declaration, eventTime, notes);
    parseTableDeclaration(declaration, `the declaration inferred from ${options.file}`);
    return { declaration, notes };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function readSample(connection: DuckDBConnection, file: string) {
  const objects = `read_json_objects(${literal(file)}, format = 'newline_delimited')`;
  try {
    const columns = await connection.runAndReadAll(`SELECT * FROM read_json(${literal(file)}, format = 'newline_delimited', records = true, sample_size = -1) LIMIT 0`);
    const [{ records }] = (await connection.runAndReadAll(`SELECT count(*)::INTEGER AS records FROM ${objects}`)).getRowObjectsJS() as [{ records: number }];
    const presence = await connection.runAndReadAll(`
      SELECT key, count(*)::INTEGER AS present, count(*) FILTER (WHERE json_type(json, '$.' || key) = 'NULL')::INTEGER AS nulls,
        list(DISTINCT json_type(json, '$.' || key)) FILTER (WHERE json_type(json, '$.' || key) <> 'NULL') AS kinds
      FROM (SELECT json, unnest(json_keys(json)) AS key FROM ${objects}) WHERE regexp_full_match(key, '[A-Za-z_][A-Za-z0-9_]*') GROUP BY key`);
    return {
      records,
      columns: columns.columnNames().map((name, i) => [name, columns.columnTypes()[i]!] as const),
      presence: new Map((presence.getRowObjectsJS() as unknown as (Presence & { key: string })[]).map(({ key, ...rest }) => [key, { ...rest, kinds: rest.kinds ?? [] }])),
    };
  } catch (error) {
    throw new SchemaInferenceError(`${file}: DuckDB cannot read it as JSON objects, one per line (${(error as Error).message.split('\n')[0]}); pass a file of sample records in that form`);
  }
}

async function fieldSchema(connection: DuckDBConnection, file: string, name: string, type: DuckDBType, presence: Presence | undefined, notes: string[]) {
  const leftOut = (why: string) => void notes.push(`field ${name} is left out (its values land in _extra): ${why}`);
  if (!FIELD_NAME.test(name) || !presence) return leftOut('a field name is letters, digits and _, not starting with a digit');
  if (RESERVED_COLUMNS.includes(name.toLowerCase())) return leftOut(`${name.toLowerCase()} is a column the pipeline adds`);
  if (presence.kinds.length === 0) return leftOut('it is null in every sample record, so its type is unknown');
  if (new Set(presence.kinds.map((kind) => KIND_FAMILY[kind])).size > 1) return leftOut(`it holds several kinds of values in the sample (${presence.kinds.join(', ')})`);
  let schema = jsonSchemaOf(type);
  if (!schema) return leftOut('DuckDB found no one type for its values');
  if (schema.format === 'date-time' && !(await allInstants(connection, file, name))) {
    notes.push(`field ${name} holds date-times without a zone (or without the T), which the pipeline does not take as timestamps: declared as a string`);
    schema = { type: 'string' };
  } else if (schema.type === 'string' && schema.format === undefined && (await allInstants(connection, file, name))) {
    // DuckDB types a column TIMESTAMP only when one format fits every value; ISO instants may vary (fractions, offsets).
    schema = { type: 'string', format: 'date-time' };
  }
  return { schema: presence.nulls > 0 ? { ...schema, type: [schema.type, 'null'] } : schema };
}

/**
 * Whether every value of a string field is an instant the pipeline takes as a timestamp: an
 * ISO-8601 date-time with a T and a zone (a time without a zone is ambiguous) that DuckDB casts.
 */
async function allInstants(connection: DuckDBConnection, file: string, name: string): Promise<boolean> {
  const [{ others }] = (
    await connection.runAndReadAll(`
      SELECT count(*) FILTER (WHERE NOT regexp_full_match(value, '\\d{4}-\\d{2}-\\d{2}T[0-9:.]+(Z|[+-]\\d{2}:\\d{2})') OR TRY_CAST(value AS TIMESTAMPTZ) IS NULL)::INTEGER AS others
      FROM (SELECT json_extract_string(json, ${literal(`$.${name}`)}) AS value FROM read_json_objects(${literal(file)}, format = 'newline_delimited')) WHERE value IS NOT NULL`)
  ).getRowObjectsJS() as [{ others: number }];
  return others === 0;
}

async function chooseEventTime(connection: DuckDBConnection, options: InferenceOptions, properties: Record<string, JsonSchema>, required: readonly string[], notes: string[]): Promise<string> {
  const everywhere = (name: string) => required.includes(name) && !Array.isArray(properties[name]!.type);
  if (options.eventTime === undefined) {
    const chosen = Object.keys(properties).find((name) => properties[name]!.format === 'date-time' && everywhere(name));
    if (chosen === undefined) {
      throw new SchemaInferenceError(`no field of ${options.file} reads as a date-time with a zone in every record; pass --event-time FIELD (a field of integer epoch milliseconds or seconds works too)`);
    }
    notes.push(`event time: ${chosen}, the first field that is a date-time in every record; pass --event-time to choose another`);
    return chosen;
  }
  const name = options.eventTime;
  const schema = properties[name];
  if (!schema || !everywhere(name)) throw new SchemaInferenceError(`--event-time ${name} must be a field present and not null in every record of ${options.file}: it places each row in time`);
  if (schema.format === 'date-time') return name;
  if (schema.type !== 'integer') throw new SchemaInferenceError(`--event-time ${name} holds ${String(schema.type)} values; the event time is a date-time string with a zone, or integer epoch milliseconds or seconds`);
  const [{ largest }] = (await connection.runAndReadAll(`SELECT max(abs(json_extract(json, ${literal(`$.${name}`)})::HUGEINT))::DOUBLE AS largest FROM read_json_objects(${literal(options.file)}, format = 'newline_delimited')`)).getRowObjectsJS() as [{ largest: number }];
  const unit = largest < EPOCH_SECONDS_BELOW ? 'epoch-seconds' : 'epoch-millis';
  properties[name] = { type: 'integer', 'x-streamlake-type': unit };
  notes.push(`event time: ${name}, integers read as ${unit === 'epoch-seconds' ? 'epoch seconds' : 'epoch milliseconds'} (the largest is ${largest}); change "x-streamlake-type" if that is wrong`);
  return name;
}

/**
 * Leaves out the fields the pipeline refuses to declare yet (each tried alone beside the event
 * time), so the declaration printed always loads; the note says why each was left out.
 */
function dropUndeclarable(declaration: JsonSchema, eventTime: string, notes: string[]): void {
  const properties = declaration.properties as Record<string, JsonSchema>;
  const { key: _key, ...settings } = declaration['x-streamlake'] as Record<string, unknown>;
  for (const [name, schema] of Object.entries(properties)) {
    if (name === eventTime) continue;
    try {
      parseTableDeclaration({ ...declaration, 'x-streamlake': settings, properties: { [eventTime]: properties[eventTime], [name]: schema }, required: [eventTime] }, 'inferred');
    } catch (error) {
      if (!(error instanceof TableDeclarationError)) throw error;
      delete properties[name];
      declaration.required = (declaration.required as string[]).filter((field) => field !== name);
      notes.push(`field ${name} is left out (its values land in _extra): ${error.message.replace(/^inferred: field \w+: /, '')}`);
    }
  }
}
