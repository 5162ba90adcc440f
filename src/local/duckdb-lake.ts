import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { curatedPrefix, partitionKeys, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { duckdbType, QUARANTINE_COLUMNS, type ColumnSpec } from '../../lambdas/core/schema.ts';
import { tableColumns, type TableSpec } from '../../lambdas/core/table-declaration.ts';

/** Rows of a query, values made JSON-friendly (timestamps as ISO-8601 UTC strings). */
export interface QueryResult {
  readonly columns: string[];
  readonly rows: Record<string, unknown>[];
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function hasFiles(dir: string, suffix: string): boolean {
  return existsSync(dir) && readdirSync(dir, { recursive: true }).some((name) => String(name).endsWith(suffix));
}

function selectList(columns: readonly ColumnSpec[]): string {
  return columns.map((c) => `CAST(${c.name} AS ${duckdbType(c)}) AS ${c.name}`).join(', ');
}

function emptyView(columns: readonly ColumnSpec[], extra: readonly { name: string; type: ColumnSpec['type'] }[]): string {
  return `SELECT ${[...columns, ...extra].map((c) => `CAST(NULL AS ${duckdbType(c)}) AS ${c.name}`).join(', ')} WHERE false`;
}

/**
 * What SQL on the lake may touch. `lake` (for SQL a user typed): only SELECT statements, reading
 * only the files under the lake directory; nothing is written, no other file is read, no database
 * attached and no extension installed. `any`: DuckDB's full file access, for SQL of our own.
 */
export type LakeFileAccess = 'lake' | 'any';

/** A query the lake's file access does not allow, or a text that is not one statement; the message says what to do. */
export class QueryRefusedError extends Error {
  override name = 'QueryRefusedError';
}

/** How `streamlake query` lifts the `lake` file access, named in the refusals. */
export const UNSAFE_SQL_FLAG = '--unsafe-sql';

/**
 * DuckDB over the local lake, as Athena sees the S3 lake: per declared table, a view over its
 * curated Parquet files with hive partitioning (`dt`, and `hour` for hourly tables, from the path)
 * and `<table>_quarantine` over its quarantine NDJSON. The views take their columns from the
 * table declarations.
 */
export class DuckDbLake {
  private readonly connection: DuckDBConnection;
  private readonly instance: DuckDBInstance;
  private readonly access: LakeFileAccess;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, access: LakeFileAccess) {
    this.instance = instance;
    this.connection = connection;
    this.access = access;
  }

  /** Opens the lake's views; `fileAccess` (default `any`) says what queries may touch, see {@link LakeFileAccess}. */
  static async open(lakeDir: string, tables: readonly TableSpec[], options: { threads?: number; fileAccess?: LakeFileAccess } = {}): Promise<DuckDbLake> {
    const access = options.fileAccess ?? 'any';
    const instance = await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 2) });
    const connection = await instance.connect();
    const lake = new DuckDbLake(instance, connection, access);
    await connection.run("SET TimeZone = 'UTC'");
    for (const table of tables) {
      await connection.run(`CREATE VIEW ${table.name} AS ${curatedView(lakeDir, table)}`);
      await connection.run(`CREATE VIEW ${table.name}_quarantine AS ${quarantineView(lakeDir, table.name)}`);
    }
    // The views read the lake's files when queried, so the lake directory stays readable; the
    // statement check in query() keeps it from being written. Locked, so SQL cannot undo it.
    if (access === 'lake') {
      await connection.run(`SET allowed_directories = [${literal(`${resolve(lakeDir)}/`)}]`);
      await connection.run('SET enable_external_access = false');
      await connection.run('SET lock_configuration = true');
    }
    return lake;
  }

  /** Runs one SQL statement; refuses a text of several, and under `lake` access anything but a SELECT or a file outside the lake. */
  async query(sql: string): Promise<QueryResult> {
    let reader;
    try {
      reader = await (await this.prepare(sql)).runAndReadAll();
    } catch (error) {
      if (this.access === 'lake' && /Permission Error/.test((error as Error).message)) {
        throw new QueryRefusedError(
          `the query reaches outside the lake (${deniedAccess((error as Error).message)}): queries read only the lake's files; pass ${UNSAFE_SQL_FLAG} to run it with DuckDB's full file access`,
        );
      }
      throw error;
    }
    const columns = reader.columnNames();
    const types = reader.columnTypes().map(String);
    const rows = reader.getRowObjectsJS().map((row) => {
      const out: Record<string, unknown> = {};
      columns.forEach((name, i) => (out[name] = jsonValue(row[name], types[i]!)));
      return out;
    });
    return { columns, rows };
  }

  private async prepare(sql: string) {
    const statements = await this.connection.extractStatements(sql);
    if (statements.count !== 1) {
      throw new QueryRefusedError(`the query text holds ${statements.count} SQL statements: pass exactly one (streamlake query prints one result)`);
    }
    const statement = await statements.prepare(0);
    if (this.access === 'lake' && statement.statementType !== StatementType.SELECT) {
      throw new QueryRefusedError(
        `only SELECT queries run on the lake (this is a ${StatementType[statement.statementType]} statement), so that a query cannot change the lake or anything beside it; pass ${UNSAFE_SQL_FLAG} to run it with DuckDB's full file access`,
      );
    }
    return statement;
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

function curatedView(lakeDir: string, table: TableSpec): string {
  const columns = tableColumns(table);
  const keys = partitionKeys(table.partitionBy);
  const curated = join(lakeDir, curatedPrefix(table.name));
  if (!hasFiles(curated, '.parquet')) return emptyView(columns, keys);
  const glob = join(curated, ...keys.map(() => '*'), '*.parquet');
  const hiveTypes = `{${keys.map((key) => `${literal(key.name)}: ${literal(duckdbType(key))}`).join(', ')}}`;
  const files = `SELECT * FROM read_parquet(${literal(glob)}, hive_partitioning = true, hive_types = ${hiveTypes}, union_by_name = true)`;
  // Files written before a field was added read it as NULL (union_by_name), and so does every file
  // while none has it yet (the union by name with an empty row of every column).
  return `SELECT ${selectList(columns)}, ${keys.map((k) => k.name).join(', ')} FROM (${files} UNION ALL BY NAME ${emptyView(columns, keys)})`;
}

function quarantineView(lakeDir: string, table: string): string {
  const quarantine = join(lakeDir, quarantinePrefix(table));
  if (!hasFiles(quarantine, '.ndjson')) return emptyView(QUARANTINE_COLUMNS, [{ name: 'dt', type: 'string' }]);
  const jsonColumns = `{${QUARANTINE_COLUMNS.map((c) => `${literal(c.name)}: ${literal(duckdbType(c))}`).join(', ')}}`;
  return `SELECT * FROM read_json(${literal(join(quarantine, '*/*.ndjson'))}, format = 'newline_delimited', columns = ${jsonColumns}, hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})`;
}

/** DuckDB's permission error, without its error class, its reason (our own lock-down) and the LINE marker that follows. */
function deniedAccess(message: string): string {
  const line = /Permission Error: ([^\n]*)/.exec(message)?.[1] ?? message;
  return line.replace(/ - file system operations are disabled by configuration$/, '');
}

function jsonValue(value: unknown, type: string): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}
