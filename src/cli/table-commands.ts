import { join } from 'node:path';
import { assertCompatible, loadTables, loadTablesLock, LOCK_FILE, writeTablesLock, type DeclaredTables } from '../../lambdas/adapters/table-directory.ts';
import { partitionKeys } from '../../lambdas/core/lake-layout.ts';
import { glueType } from '../../lambdas/core/schema.ts';
import { tableColumns, type PartitionBy, type TableFormatName, type TableSpec } from '../../lambdas/core/table-declaration.ts';
import { lockOf } from '../../lambdas/core/table-evolution.ts';
import { inferDeclaration } from '../local/schema-inference.ts';
import { note, print, printJson } from './output.ts';
import { formatTable } from './table.ts';

/** A table as `streamlake tables --json` prints it: its settings, its columns with their Glue types, and its partition keys. */
export interface TableListing {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly key: string | null;
  readonly eventTime: string;
  readonly partitionBy: PartitionBy;
  readonly format: TableFormatName;
  /** The columns of its Parquet files: the declared fields, `_extra`, then the lineage. */
  readonly columns: readonly { name: string; type: string; nullable: boolean; description: string }[];
  /** Hive partition keys, from the object path; none for an Iceberg table (hidden partitioning on the event time). */
  readonly partitionKeys: readonly { name: string; type: string }[];
}

function listing(table: TableSpec): TableListing {
  return {
    name: table.name,
    description: table.description,
    topic: table.topic,
    key: table.key ?? null,
    eventTime: table.eventTime,
    partitionBy: table.partitionBy,
    format: table.format,
    columns: tableColumns(table).map((c) => ({ name: c.name, type: glueType(c), nullable: c.nullable, description: c.description })),
    partitionKeys: table.format === 'iceberg' ? [] : partitionKeys(table.partitionBy).map((k) => ({ name: k.name, type: glueType(k) })),
  };
}

/** `streamlake tables`: every declared table with its topic, key, event time, partitioning and columns. */
export function tablesCommand(flags: { tables: string; json?: boolean }): void {
  const tables = loadTables(flags.tables).tables.map(listing);
  if (flags.json) {
    printJson(tables);
    return;
  }
  const blocks = tables.map((t) => {
    const rows = [
      ...t.columns.map((c) => ({ column: c.name, type: c.type, nullable: c.nullable ? 'yes' : 'no' })),
      ...t.partitionKeys.map((k) => ({ column: k.name, type: k.type, nullable: 'partition key' })),
    ];
    const settings = `topic ${t.topic} · key ${t.key ?? '(none)'} · event time ${t.eventTime} · partitioned by ${t.partitionBy}${t.format === 'iceberg' ? ` of ${t.eventTime} (Iceberg, hidden)` : ''} · format ${t.format}`;
    return `${t.name}${t.description ? ` — ${t.description}` : ''}\n${settings}\n${formatTable(['column', 'type', 'nullable'], rows)}`;
  });
  print(blocks.join('\n\n'));
}

/** How each declared table stands against the lock file, once the change is known to be compatible. */
function lockStatus(declared: DeclaredTables): { table: string; status: string }[] {
  const locked = loadTablesLock(declared.dir).tables;
  const current = lockOf(declared.tables).tables;
  return declared.tables.map(({ name }) => ({
    table: name,
    status: !locked[name] ? 'new, not locked yet' : JSON.stringify(locked[name]) === JSON.stringify(current[name]) ? 'as locked' : 'changed compatibly, not locked yet',
  }));
}

/**
 * `streamlake schema check`: exits 0 when every declaration may replace what the lock file
 * records, 1 with the reasons (an `IncompatibleSchemaError`) when not.
 */
export function schemaCheckCommand(flags: { tables: string }): void {
  const declared = loadTables(flags.tables);
  assertCompatible(declared);
  const statuses = lockStatus(declared);
  print(`${declared.dir}: every table declaration is compatible with ${LOCK_FILE}\n${formatTable(['table', 'status'], statuses)}`);
  if (statuses.some((s) => s.status !== 'as locked')) note(`record the changes with \`streamlake schema lock\`, and commit ${LOCK_FILE} with them before you deploy`);
}

/** `streamlake schema lock`: records the declared shape of every table in the lock file, after the same check. */
export function schemaLockCommand(flags: { tables: string }): void {
  const declared = loadTables(flags.tables);
  const statuses = lockStatus(declared);
  writeTablesLock(declared);
  print(`${join(declared.dir, LOCK_FILE)} records ${declared.tables.length} table${declared.tables.length === 1 ? '' : 's'}\n${formatTable(['table', 'before'], statuses.map(({ table, status }) => ({ table, before: status })))}`);
  note(`commit ${LOCK_FILE} with the declarations: cdk synth and every command that writes check them against it`);
}

/** The flags of `streamlake schema infer`. */
export interface InferFlags {
  file: string;
  table: string;
  topic: string;
  eventTime?: string;
  key?: string;
  partitionBy?: PartitionBy;
}

/** `streamlake schema infer`: prints a starting declaration for sample records; its decisions go to stderr. */
export async function schemaInferCommand(flags: InferFlags): Promise<void> {
  const { declaration, notes } = await inferDeclaration(flags);
  printJson(declaration);
  for (const line of notes) note(line);
  note(`save it as ${flags.table}.schema.json in your tables directory, review it, then run \`streamlake schema check\``);
}
