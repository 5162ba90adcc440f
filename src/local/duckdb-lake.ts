import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
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
 * DuckDB over the local lake, as Athena sees the S3 lake: per declared table, a view over its
 * curated Parquet files with hive partitioning (`dt`, and `hour` for hourly tables, from the path)
 * and `<table>_quarantine` over its quarantine NDJSON. The views take their columns from the
 * table declarations.
 */
export class DuckDbLake {
  private readonly connection: DuckDBConnection;
  private readonly instance: DuckDBInstance;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  static async open(lakeDir: string, tables: readonly TableSpec[], options: { threads?: number } = {}): Promise<DuckDbLake> {
    const instance = await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 2) });
    const connection = await instance.connect();
    const lake = new DuckDbLake(instance, connection);
    await connection.run("SET TimeZone = 'UTC'");
    for (const table of tables) {
      await connection.run(`CREATE VIEW ${table.name} AS ${curatedView(lakeDir, table)}`);
      await connection.run(`CREATE VIEW ${table.name}_quarantine AS ${quarantineView(lakeDir, table.name)}`);
    }
    return lake;
  }

  async query(sql: string): Promise<QueryResult> {
    const reader = await this.connection.runAndReadAll(sql);
    const columns = reader.columnNames();
    const types = reader.columnTypes().map(String);
    const rows = reader.getRowObjectsJS().map((row) => {
      const out: Record<string, unknown> = {};
      columns.forEach((name, i) => (out[name] = jsonValue(row[name], types[i]!)));
      return out;
    });
    return { columns, rows };
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

function jsonValue(value: unknown, type: string): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}
