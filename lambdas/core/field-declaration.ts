import type { ColumnSpec, DecimalInput, TimestampInput } from './schema.ts';

/**
 * The fields of a table declaration: the JSON Schema of one property (and, for objects and arrays,
 * of what it holds) turned into a column spec. Anything the pipeline cannot honour is refused here,
 * when the declaration is loaded, naming the field's path and what to use instead.
 */

/** Refuses the declaration with `message` (the caller adds the file). */
export type Fail = (message: string) => never;

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const DECIMAL = /^decimal\((\d{1,2}),\s*(\d{1,2})\)$/;
/** The widest decimal Glue, Athena and DuckDB all take. */
const MAX_PRECISION = 38;

// Keywords that only annotate: accepted and ignored by validation.
export const ANNOTATIONS: readonly string[] = ['description', 'title', 'examples', 'default', '$comment', 'deprecated', 'readOnly', 'writeOnly'];
const SCALAR_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'enum', 'format', 'minLength', 'minimum', 'maximum', 'x-streamlake-type']);
const DECIMAL_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'x-streamlake-type']);
const OBJECT_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'properties', 'required', 'additionalProperties']);
const ARRAY_KEYWORDS = new Set([...ANNOTATIONS, 'type', 'items']);

/** What to use instead of a keyword the pipeline cannot honour. */
export const INSTEAD: Readonly<Record<string, string>> = {
  oneOf: 'declare one type per field; a field that takes several shapes can be a string holding JSON',
  anyOf: 'declare one type per field (a type list with "null" makes it nullable)',
  allOf: 'write the constraints on the field itself',
  not: 'declare the accepted values with "enum"',
  $ref: 'write the field inline: declarations are one self-contained file',
  $defs: 'write fields inline: declarations are one self-contained file',
  definitions: 'write fields inline: declarations are one self-contained file',
  prefixItems: 'declare an array of one item type ("items"), or an object with named properties',
  patternProperties: 'name the fields in "properties", or declare a map with "additionalProperties"; unnamed fields are kept in the _extra column',
  const: 'use "enum" with one value',
  pattern: 'validate the format in the producer, or use "enum"',
  if: 'declare fields without conditions',
};

/**
 * The columns of an object's `properties`, in declaration order, with `required` deciding
 * nullability. `prefix` is the object's path (empty at the top level, where `fail` is the file's);
 * `reserved` lists names a field may not take there. Messages name the field by its path:
 * `address.city`, `items[*].sku`.
 */
export function fieldsOf(properties: unknown, required: unknown, prefix: string, fileFail: Fail, reserved: readonly string[] = []): ColumnSpec[] {
  const fail = prefix === '' ? fileFail : (message: string): never => fileFail(`field ${prefix}: ${message}`);
  if (!isObject(properties) || Object.keys(properties).length === 0) return fail('"properties" must name at least one field');
  const names = required ?? [];
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) return fail('"required" must be an array of field names');
  for (const name of names) if (!Object.hasOwn(properties, name)) fail(`"required" names ${name}, which is not in "properties"`);
  const seen = new Map<string, string>();
  return Object.entries(properties).map(([name, schema]) => {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const fieldFail = (message: string): never => fileFail(`field ${path}: ${message}`);
    if (!FIELD_NAME.test(name)) fieldFail('a field name is letters, digits and _, not starting with a digit (it becomes a column name)');
    const folded = name.toLowerCase();
    if (reserved.includes(folded)) fieldFail(`${folded} is a column the pipeline adds; rename the field`);
    // Glue keeps column and struct field names in lowercase, and Athena resolves them ignoring case.
    if (seen.has(folded)) fieldFail(`differs from field ${seen.get(folded)} only in case, and Glue and Athena names ignore case`);
    seen.set(folded, name);
    return columnOf(name, path, schema, names.includes(name), fileFail);
  });
}

/** The column `schema` declares for the field `name` at `path`. */
function columnOf(name: string, path: string, schema: unknown, isRequired: boolean, fileFail: Fail): ColumnSpec {
  const fail = (message: string): never => fileFail(`field ${path}: ${message}`);
  if (!isObject(schema)) return fail('a field is a JSON Schema object such as {"type": "string"}');
  for (const keyword of Object.keys(schema)) if (Object.hasOwn(INSTEAD, keyword)) fail(`keyword "${keyword}" is not supported: ${INSTEAD[keyword]}`);
  const declared = Array.isArray(schema.type) ? schema.type : [schema.type];
  const types = declared.filter((type) => type !== 'null');
  const base = { name, nullable: !isRequired || types.length < declared.length, description: typeof schema.description === 'string' ? schema.description : '' };
  const key = [...types].sort().join(',');
  const special = schema['x-streamlake-type'];
  if (typeof special === 'string' && DECIMAL.test(special)) {
    allowOnly(schema, DECIMAL_KEYWORDS, 'decimal', fail);
    return { ...base, ...decimalOf(special, key, fail) };
  }
  if (key === 'object') {
    allowOnly(schema, OBJECT_KEYWORDS, 'object', fail);
    return { ...base, ...objectOf(schema, path, fail, fileFail) };
  }
  if (key === 'array') {
    allowOnly(schema, ARRAY_KEYWORDS, 'array', fail);
    return { ...base, type: 'array', items: elementOf(schema.items, `${path}[*]`, 'element', '"items"', fail, fileFail) };
  }
  allowOnly(schema, SCALAR_KEYWORDS, key || 'untyped', fail);
  return { ...base, ...scalarOf(schema, key, fail) };
}

function allowOnly(schema: Record<string, unknown>, allowed: ReadonlySet<string>, kind: string, fail: Fail): void {
  for (const keyword of Object.keys(schema)) if (!allowed.has(keyword)) fail(`keyword "${keyword}" is not supported on ${kind} fields`);
}

type Typed = Omit<ColumnSpec, 'name' | 'nullable' | 'description'>;

function scalarOf(schema: Record<string, unknown>, key: string, fail: Fail): Typed {
  const special = schema['x-streamlake-type'];
  if (special !== undefined) {
    if (key !== 'integer' || (special !== 'epoch-millis' && special !== 'epoch-seconds')) {
      fail(`"x-streamlake-type" ${JSON.stringify(special)} is not supported here; use "epoch-millis" or "epoch-seconds" on an integer field for a timestamp, or "decimal(P,S)" on a number or string field for an exact decimal`);
    }
    return { type: 'timestamp', timestampInput: special as TimestampInput };
  }
  if (schema.format !== undefined && schema.format !== 'date-time' && schema.format !== 'date') fail(`format ${JSON.stringify(schema.format)} is not supported; use "date-time" or "date"`);
  if (schema.format === 'date') {
    if (key !== 'string') fail('"format": "date" applies to a string field');
    return { type: 'date' };
  }
  if (schema.format === 'date-time') {
    if (key === 'string') return { type: 'timestamp', timestampInput: 'iso' };
    if (key === 'integer,string') return { type: 'timestamp', timestampInput: 'iso-or-epoch-millis' };
    return fail('"format": "date-time" applies to a string field (or ["string", "integer"] to also take epoch milliseconds)');
  }
  switch (key) {
    case 'string':
      return { type: 'string', ...stringChecks(schema, fail) };
    case 'integer': {
      const { minimum, maximum } = integerBounds(schema, fail);
      const int32 = minimum !== undefined && maximum !== undefined && minimum >= INT32_MIN && maximum <= INT32_MAX;
      return { type: int32 ? 'int' : 'bigint', ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) };
    }
    case 'number':
      return { type: 'double' };
    case 'boolean':
      return { type: 'boolean' };
    default:
      return fail(`"type" must be one of string, integer, number, boolean, object or array (optionally with "null"), got ${JSON.stringify(schema.type)}`);
  }
}

// A decimal is read from the exact digits of a JSON number or string: never through a double.
function decimalOf(declared: string, key: string, fail: Fail): Typed {
  const [, p, s] = DECIMAL.exec(declared)!;
  const precision = Number(p);
  const scale = Number(s);
  if (precision < 1 || precision > MAX_PRECISION || scale > precision) {
    fail(`"x-streamlake-type" ${declared} is out of range: the precision is 1 to ${MAX_PRECISION} (what Glue, Athena and DuckDB take) and the scale 0 to the precision`);
  }
  const inputs: Readonly<Record<string, DecimalInput>> = { number: 'number', string: 'string', 'number,string': 'number-or-string' };
  const decimalInput = inputs[key];
  if (!decimalInput) fail(`"x-streamlake-type" ${declared} applies to a number or string field (or ["number", "string"] to take both)`);
  return { type: 'decimal', precision, scale, decimalInput };
}

function objectOf(schema: Record<string, unknown>, path: string, fail: Fail, fileFail: Fail): Typed {
  const additional = schema.additionalProperties;
  if (schema.properties !== undefined) {
    if (additional !== undefined && additional !== true) {
      fail(isObject(additional)
        ? 'declares both "properties" and "additionalProperties": declare named properties (a struct) or the values of any key (a map), not both'
        : '"additionalProperties" can only be true (or left out): properties the declaration does not name are kept in the _extra column, never dropped');
    }
    return { type: 'struct', fields: fieldsOf(schema.properties, schema.required, path, fileFail) };
  }
  if (schema.required !== undefined) fail('"required" needs "properties" to name the fields it requires');
  // An object of any shape has no column type: it stays JSON text in _extra, where undeclared fields go.
  if (!isObject(additional)) {
    return fail('an object field declares "properties" (a struct) or "additionalProperties" with the type of its values (a map), e.g. {"type": "object", "additionalProperties": {"type": "string"}}; to keep an object of any shape as JSON text, leave it out of "properties" and it is kept in _extra');
  }
  return { type: 'map', values: elementOf(additional, `${path}[*]`, 'value', '"additionalProperties"', fail, fileFail) };
}

/** The column of an array's items or a map's values (at `path`): not null unless its type admits "null". */
function elementOf(schema: unknown, path: string, name: string, keyword: string, fail: Fail, fileFail: Fail): ColumnSpec {
  if (Array.isArray(schema)) return fail(`${keyword} is a list: ${INSTEAD.prefixItems}`);
  if (!isObject(schema)) return fail(`${keyword} must declare the type of every item, e.g. {"type": "string"}`);
  return columnOf(name, path, schema, true, fileFail);
}

function stringChecks(schema: Record<string, unknown>, fail: Fail): Pick<ColumnSpec, 'allowed' | 'minLength'> {
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
function integerBounds(schema: Record<string, unknown>, fail: Fail): { minimum?: number; maximum?: number } {
  for (const bound of ['minimum', 'maximum'] as const) {
    if (schema[bound] !== undefined && !Number.isSafeInteger(schema[bound])) fail(`"${bound}" must be an integer`);
  }
  return schema as { minimum?: number; maximum?: number };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
