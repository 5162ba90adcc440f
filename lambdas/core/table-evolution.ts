import type { ColumnSpec, ColumnType, TimestampInput } from './schema.ts';
import type { PartitionBy, TableSpec } from './table-declaration.ts';

/**
 * Schema evolution: the shape of every deployed table is recorded in a lock file committed beside
 * the declarations, and a declaration may only change it in ways every reader of the files already
 * written still understands (columns resolve by name, so old files read NULL for a new column).
 */

/** A field as recorded in the lock file: what decides its column and its verdicts. */
export interface LockedField {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly allowed?: readonly string[];
  readonly minLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly timestampInput?: TimestampInput;
}

/** A table as deployed. */
export interface LockedTable {
  readonly topic: string;
  readonly key: string | null;
  readonly eventTime: string;
  readonly partitionBy: PartitionBy;
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
  return { topic: table.topic, key: table.key ?? null, eventTime: table.eventTime, partitionBy: table.partitionBy, fields: table.fields.map(lockedFieldOf) };
}

function lockedFieldOf({ name, type, nullable, allowed, minLength, minimum, maximum, timestampInput }: ColumnSpec): LockedField {
  return { name, type, nullable, ...(allowed && { allowed }), ...(minLength !== undefined && { minLength }), ...(minimum !== undefined && { minimum }), ...(maximum !== undefined && { maximum }), ...(timestampInput && { timestampInput }) };
}

// Types a column may widen to: every value the old type held reads the same as the new.
const WIDENINGS: Readonly<Partial<Record<ColumnType, readonly ColumnType[]>>> = { int: ['bigint'] };
// Timestamp inputs that accept everything another accepts.
const INPUT_WIDENINGS: Readonly<Partial<Record<TimestampInput, readonly TimestampInput[]>>> = { iso: ['iso-or-epoch-millis'], 'epoch-millis': ['iso-or-epoch-millis'] };

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
  for (const old of locked.fields) {
    const field = declared.fields.find((f) => f.name === old.name);
    if (!field) {
      problems.push(`table ${table}: field ${old.name} was removed or renamed, which would hide its column in every file already written; keep it (make it optional), or add the new name as a new optional field`);
      continue;
    }
    problems.push(...fieldProblems(old, field).map((problem) => `table ${table}: field ${old.name} ${problem}`));
  }
  for (const field of declared.fields) {
    if (!locked.fields.some((f) => f.name === field.name) && !field.nullable) {
      problems.push(`table ${table}: new field ${field.name} is required, but the rows already written have no value for it; add it as optional (leave it out of "required")`);
    }
  }
  return problems;
}

function fieldProblems(old: LockedField, field: LockedField): string[] {
  const problems: string[] = [];
  if (old.type !== field.type && !WIDENINGS[old.type]?.includes(field.type)) {
    problems.push(`changed type from ${old.type} to ${field.type}, which only widening allows (int to bigint); add a new field of the new type instead`);
  }
  if (old.type === 'timestamp' && field.type === 'timestamp' && old.timestampInput !== field.timestampInput && !INPUT_WIDENINGS[old.timestampInput ?? 'iso']?.includes(field.timestampInput ?? 'iso')) {
    problems.push(`changed how its timestamps are written from ${old.timestampInput} to ${field.timestampInput}, which would refuse records valid today; accept both forms ("type": ["string", "integer"]) or add a new field`);
  }
  if (old.nullable && !field.nullable) problems.push('became required, but rows already written may hold null; keep it optional');
  if (field.allowed && (!old.allowed || old.allowed.some((value) => !field.allowed!.includes(value)))) {
    const dropped = old.allowed ? old.allowed.filter((value) => !field.allowed!.includes(value)) : ['any value'];
    problems.push(`no longer accepts ${dropped.map((value) => JSON.stringify(value)).join(', ')}; enum values can be added, never removed`);
  }
  if ((field.minLength ?? 0) > (old.minLength ?? 0)) problems.push(`raised minLength from ${old.minLength ?? 0} to ${field.minLength}; constraints can be loosened, never tightened`);
  if (field.minimum !== undefined && (old.minimum === undefined || field.minimum > old.minimum)) problems.push(`raised its minimum to ${field.minimum}; constraints can be loosened, never tightened`);
  if (field.maximum !== undefined && (old.maximum === undefined || field.maximum < old.maximum)) problems.push(`lowered its maximum to ${field.maximum}; constraints can be loosened, never tightened`);
  return problems;
}
