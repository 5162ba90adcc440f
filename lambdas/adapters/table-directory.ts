import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseNamedQuery, type NamedQuery } from '../core/queries.ts';
import { parseTableDeclaration, TableDeclarationError, type TableSpec } from '../core/table-declaration.ts';
import { EMPTY_LOCK, evolutionProblems, lockOf, type TablesLock } from '../core/table-evolution.ts';

/** The tables declared in a directory, with their named queries. */
export interface DeclaredTables {
  readonly dir: string;
  /** Sorted by name. */
  readonly tables: readonly TableSpec[];
  /** Every table's named queries, by table then name. */
  readonly queries: readonly NamedQuery[];
}

const DECLARATION_SUFFIX = '.schema.json';

/**
 * Reads the table declarations of `dir`: one `<table>.schema.json` per table, and its named queries
 * as `<table>/<query>.sql` beside it. Every problem is a `TableDeclarationError` naming the file.
 * Synchronous, because the CDK app builds the stack synchronously.
 */
export function loadTables(dir: string): DeclaredTables {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new TableDeclarationError(`${dir}: no such directory of table declarations; pass --tables DIR (or -c tablesDir=DIR) with one <table>${DECLARATION_SUFFIX} per table`);
  }
  const files = readdirSync(dir).filter((file) => file.endsWith(DECLARATION_SUFFIX)).sort();
  if (files.length === 0) throw new TableDeclarationError(`${dir}: no table declarations; declare each table as <table>${DECLARATION_SUFFIX} (see the README's "Your own tables")`);
  const tables = files.map((file) => loadDeclaration(join(dir, file)));
  const byTopic = new Map<string, string>();
  for (const table of tables) {
    const other = byTopic.get(table.topic);
    if (other !== undefined) throw new TableDeclarationError(`${table.source}: topic ${table.topic} is already read by table ${other}; one topic holds one table's records`);
    byTopic.set(table.topic, table.name);
  }
  // Each table also has views named after it (its quarantine, an Iceberg table's snapshots): no table may take those names.
  for (const table of tables) {
    const owner = tables.find((other) => other !== table && [`${other.name}_quarantine`, `${other.name}_snapshots`].includes(table.name));
    if (owner) throw new TableDeclarationError(`${table.source}: the name ${table.name} belongs to a view of table ${owner.name}; give this table another name`);
  }
  const queries = tables.flatMap((table) => loadQueries(join(dir, table.name), table.name));
  const names = new Set<string>();
  for (const query of queries) {
    if (names.has(query.name)) throw new TableDeclarationError(`${join(dir, query.table, `${query.name}.sql`)}: another table already has a query named ${query.name}; query names are unique in a deployment`);
    names.add(query.name);
  }
  return { dir, tables, queries };
}

function loadDeclaration(path: string): TableSpec {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TableDeclarationError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const table = parseTableDeclaration(json, path);
  const named = basename(path).slice(0, -DECLARATION_SUFFIX.length);
  if (named !== table.name) throw new TableDeclarationError(`${path}: declares table ${table.name}; name the file ${table.name}${DECLARATION_SUFFIX}`);
  return table;
}

function loadQueries(dir: string, table: string): NamedQuery[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => parseNamedQuery(table, file.slice(0, -'.sql'.length), readFileSync(join(dir, file), 'utf8'), join(dir, file)));
}

/** The declared table called `name`. */
export function tableNamed(declared: DeclaredTables, name: string): TableSpec {
  const table = declared.tables.find((t) => t.name === name);
  if (!table) throw new TableDeclarationError(`no table ${JSON.stringify(name)} is declared in ${declared.dir}; the tables are ${declared.tables.map((t) => t.name).join(', ')}`);
  return table;
}

/** The lock file beside the declarations: the shape of every deployed table. */
export const LOCK_FILE = 'tables.lock.json';

/** The declared tables cannot replace the deployed ones; the message lists every reason. */
export class IncompatibleSchemaError extends Error {
  override name = 'IncompatibleSchemaError';
}

/** The lock file of `dir`; an empty lock when there is none yet (nothing deployed). */
export function loadTablesLock(dir: string): TablesLock {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return EMPTY_LOCK;
  let lock: Partial<TablesLock>;
  try {
    lock = JSON.parse(readFileSync(path, 'utf8')) as Partial<TablesLock>;
  } catch (error) {
    throw new TableDeclarationError(`${path}: not valid JSON (${(error as Error).message}); restore it from version control`);
  }
  if (lock.format !== 1 || typeof lock.tables !== 'object' || lock.tables === null) throw new TableDeclarationError(`${path}: unknown format; restore it from version control`);
  return lock as TablesLock;
}

/** Throws an `IncompatibleSchemaError` listing every change of `declared` its lock file does not allow. */
export function assertCompatible(declared: DeclaredTables): void {
  const problems = evolutionProblems(loadTablesLock(declared.dir), declared.tables);
  if (problems.length > 0) {
    throw new IncompatibleSchemaError(`the table declarations in ${declared.dir} change deployed tables in ways their files cannot follow:\n- ${problems.join('\n- ')}`);
  }
}

/** Records the declared tables as deployed, after checking they may replace what the lock holds. */
export function writeTablesLock(declared: DeclaredTables): TablesLock {
  assertCompatible(declared);
  const lock = lockOf(declared.tables);
  writeFileSync(join(declared.dir, LOCK_FILE), `${JSON.stringify(lock, null, 2)}\n`);
  return lock;
}
