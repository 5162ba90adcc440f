import type { ColumnSpec, ColumnType, DecimalInput, TimestampInput } from './schema.ts';
import { DEFAULT_TABLE_FORMAT, type PartitionBy, type TableFormatName, type TableSpec } from './table-declaration.ts';

/**
 * Schema evolution: the shape of every deployed table is recorded in a lock file committed beside
 * the declarations, and a declaration may only change it in ways every reader of the files already
 * written still understands (columns resolve by name, so old files read NULL for a new column).
 */

/** A field as recorded in the lock file: its column spec without the description, nested fields included. */
export type LockedField = Omit<ColumnSpec, 'description' | 'fields' | 'items' | 'values'> & {
  readonly fields?: readonly LockedField[];
  readonly items?: LockedField;
  readonly values?: LockedField;
};

/** A table as deployed. */
export interface LockedTable {
  readonly topic: string;
  readonly key: string | null;
  readonly eventTime: string;
  readonly partitionBy: PartitionBy;
  /** Absent for Hive-Parquet, the format of tables locked before formats could be chosen. */
  readonly format?: TableFormatName;
  readonly fields: readonly LockedField[];
}

/** The lock file: the deployed shape of every table, by name. */
export interface TablesLock {
  readonly format: 1;
  readonly tables: Readonly<Record<string, LockedTable>>;
}

export const EMPTY_LOCK: TablesLock = { format: 1, tables: {} };

/** The lock that records `tables` as they are declared now. */
export function lockOf(tables: readonly TableSpec[]): TablesLock {
  return { format: 1, tables: Object.fromEntries(tables.map((table) => [table.name, lockedTableOf(table)])) };
}

function lockedTableOf(table: TableSpec): LockedTable {
  return {
    topic: table.topic, key: table.key ?? null, eventTime: table.eventTime, partitionBy: table.partitionBy,
    ...(table.format !== DEFAULT_TABLE_FORMAT && { format: table.format }), fields: table.fields.map(lockedFieldOf),
  };
}

// Only the keys a field has are written, so the lock of a flat table reads as it always did.
function lockedFieldOf(field: ColumnSpec): LockedField {
  const { name, type, nullable, allowed, minLength, minimum, maximum, timestampInput, precision, scale, decimalInput, fields, items, values } = field;
  return {
    name, type, nullable, ...(allowed && { allowed }), ...(minLength !== undefined && { minLength }), ...(minimum !== undefined && { minimum }), ...(maximum !== undefined && { maximum }),
    ...(timestampInput && { timestampInput }), ...(precision !== undefined && { precision, scale, decimalInput }),
    ...(fields && { fields: fields.map(lockedFieldOf) }), ...(items && { items: lockedFieldOf(items) }), ...(values && { values: lockedFieldOf(values) }),
  };
}

// Types a column may widen to: every value the old type held reads the same as the new.
const WIDENINGS: Readonly<Partial<Record<ColumnType, readonly ColumnType[]>>> = { int: ['bigint'] };
// Timestamp and decimal inputs that accept everything another accepts.
const INPUT_WIDENINGS: Readonly<Partial<Record<TimestampInput, readonly TimestampInput[]>>> = { iso: ['iso-or-epoch-millis'], 'epoch-millis': ['iso-or-epoch-millis'] };
const DECIMAL_INPUT_WIDENINGS: Readonly<Partial<Record<DecimalInput, readonly DecimalInput[]>>> = { number: ['number-or-string'], string: ['number-or-string'] };

/**
 * Why the declared tables cannot replace the locked ones, one sentence each naming the table, the
 * field and the way out; empty when every change is compatible. Tables that are not locked yet
 * are new and always compatible.
 */
export function evolutionProblems(lock: TablesLock, tables: readonly TableSpec[]): string[] {
  const problems: string[] = [];
  for (const [name, locked] of Object.entries(lock.tables)) {
    const table = tables.find((t) => t.name === name);
    if (!table) {
      problems.push(`table ${name} is deployed but no longer declared: restore its declaration, or remove it from the lock file to drop it from the stack (its files stay in the bucket)`);
      continue;
    }
    problems.push(...tableProblems(locked, lockedTableOf(table), name));
  }
  return problems;
}

function tableProblems(locked: LockedTable, declared: LockedTable, table: string): string[] {
  const problems: string[] = [];
  for (const setting of ['topic', 'key', 'eventTime', 'partitionBy'] as const) {
    if (locked[setting] !== declared[setting]) {
      problems.push(`table ${table}: x-streamlake.${setting} changed from ${JSON.stringify(locked[setting])} to ${JSON.stringify(declared[setting])}, which the files already written cannot follow; declare a new table instead`);
    }
  }
  const [was, is] = [locked.format ?? DEFAULT_TABLE_FORMAT, declared.format ?? DEFAULT_TABLE_FORMAT];
  if (was !== is) {
    problems.push(`table ${table}: x-streamlake.format changed from "${was}" to "${is}": the deployed table and its files stay ${was}; declare a new table (a new name and topic) in the ${is} format and move readers to it`);
  }
  problems.push(...fieldsProblems(locked.fields, declared.fields, '').map((problem) => `table ${table}: ${problem}`));
  return problems;
}

/** What changed among the fields of an object (the table, or a struct at `prefix`) that rows already written cannot follow. */
function fieldsProblems(locked: readonly LockedField[], declared: readonly LockedField[], prefix: string): string[] {
  const problems: string[] = [];
  const pathOf = (name: string) => (prefix === '' ? name : `${prefix}.${name}`);
  for (const old of locked) {
    const field = declared.find((f) => f.name === old.name);
    if (!field) {
      problems.push(`field ${pathOf(old.name)} was removed or renamed, which would hide its ${prefix === '' ? 'column' : 'values'} in every file already written; keep it (make it optional), or add the new name as a new optional field`);
      continue;
    }
    problems.push(...fieldProblems(old, field, pathOf(old.name)));
  }
  for (const field of declared) {
    if (!locked.some((f) => f.name === field.name) && !field.nullable) {
      problems.push(`new field ${pathOf(field.name)} is required, but the rows already written have no value for it; add it as optional (leave it out of "required")`);
    }
  }
  return problems;
}

/** What changed in one field at `path` (`total`, `address.city`, `items[*].sku`), recursively for nested fields. */
function fieldProblems(old: LockedField, field: LockedField, path: string): string[] {
  const problems: string[] = [];
  const problem = (text: string) => problems.push(`field ${path} ${text}`);
  if (old.type !== field.type && !WIDENINGS[old.type]?.includes(field.type)) {
    problem(`changed type from ${old.type} to ${field.type}, which only widening allows (int to bigint, a decimal's precision at the same scale); add a new field of the new type instead`);
  }
  if (old.type === 'timestamp' && field.type === 'timestamp' && old.timestampInput !== field.timestampInput && !INPUT_WIDENINGS[old.timestampInput ?? 'iso']?.includes(field.timestampInput ?? 'iso')) {
    problem(`changed how its timestamps are written from ${old.timestampInput} to ${field.timestampInput}, which would refuse records valid today; accept both forms ("type": ["string", "integer"]) or add a new field`);
  }
  if (old.type === 'decimal' && field.type === 'decimal') problems.push(...decimalProblems(old, field).map((text) => `field ${path} ${text}`));
  if (old.nullable && !field.nullable) problem('became required, but rows already written may hold null; keep it optional');
  if (field.allowed && (!old.allowed || old.allowed.some((value) => !field.allowed!.includes(value)))) {
    const dropped = old.allowed ? old.allowed.filter((value) => !field.allowed!.includes(value)) : ['any value'];
    problem(`no longer accepts ${dropped.map((value) => JSON.stringify(value)).join(', ')}; enum values can be added, never removed`);
  }
  if ((field.minLength ?? 0) > (old.minLength ?? 0)) problem(`raised minLength from ${old.minLength ?? 0} to ${field.minLength}; constraints can be loosened, never tightened`);
  if (field.minimum !== undefined && (old.minimum === undefined || field.minimum > old.minimum)) problem(`raised its minimum to ${field.minimum}; constraints can be loosened, never tightened`);
  if (field.maximum !== undefined && (old.maximum === undefined || field.maximum < old.maximum)) problem(`lowered its maximum to ${field.maximum}; constraints can be loosened, never tightened`);
  if (old.type !== field.type) return problems;
  // The same nested type: what it holds follows the same rules, by path.
  if (old.fields && field.fields) problems.push(...fieldsProblems(old.fields, field.fields, path));
  if (old.items && field.items) problems.push(...fieldProblems(old.items, field.items, `${path}[*]`));
  if (old.values && field.values) problems.push(...fieldProblems(old.values, field.values, `${path}[*]`));
  return problems;
}

// A decimal widens by precision at the same scale: every value written before reads the same. Any
// other change would read old values as other numbers, or refuse values valid today.
function decimalProblems(old: LockedField, field: LockedField): string[] {
  const problems: string[] = [];
  const was = `decimal(${old.precision},${old.scale})`;
  const is = `decimal(${field.precision},${field.scale})`;
  if (old.scale !== field.scale) problems.push(`changed scale from ${was} to ${is}, which would change what the values already written mean; keep the scale (raise the precision), or add a new field`);
  else if (field.precision! < old.precision!) problems.push(`narrowed from ${was} to ${is}, which values already written may not fit; keep or raise the precision`);
  if (old.decimalInput !== field.decimalInput && !DECIMAL_INPUT_WIDENINGS[old.decimalInput!]?.includes(field.decimalInput!)) {
    problems.push(`changed how its decimals are written from ${old.decimalInput} to ${field.decimalInput}, which would refuse records valid today; accept both ("type": ["number", "string"]) or add a new field`);
  }
  return problems;
}
