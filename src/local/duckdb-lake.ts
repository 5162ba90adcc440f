import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { CURATED_PREFIX, QUARANTINE_PREFIX, TABLE } from '../../lambdas/core/lake-layout.ts';
import { duckdbType, PARTITION_KEYS, QUARANTINE_COLUMNS, TABLE_COLUMNS, type ColumnSpec } from '../../lambdas/core/schema.ts';

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

const HIVE_TYPES = `{${PARTITION_KEYS.map((key) => `${literal(key.name)}: ${literal(duckdbType(key.type))}`).join(', ')}}`;

function selectList(columns: readonly ColumnSpec[]): string {
  return columns.map((c) => `CAST(${c.name} AS ${duckdbType(c.type)}) AS ${c.name}`).join(', ');
}

function emptyView(columns: readonly ColumnSpec[], extra: readonly { name: string; type: ColumnSpec['type'] }[]): string {
  return `SELECT ${[...columns, ...extra].map((c) => `CAST(NULL AS ${duckdbType(c.type)}) AS ${c.name}`).join(', ')} WHERE false`;
}

/**
 * DuckDB over the local lake, as Athena sees the S3 lake: `device_logs` over the curated Parquet
 * files with hive partitioning (`dt`, `hour` from the path) and `device_logs_quarantine` over the
 * quarantine NDJSON. Both views take their columns from the one schema module.
 */
export class DuckDbLake {
  private readonly connection: DuckDBConnection;
  private readonly instance: DuckDBInstance;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  static async open(lakeDir: string, options: { threads?: number } = {}): Promise<DuckDbLake> {
    const instance = await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 2) });
    const connection = await instance.connect();
    const lake = new DuckDbLake(instance, connection);
    await connection.run("SET TimeZone = 'UTC'");
    const curated = join(lakeDir, CURATED_PREFIX);
    const partitionKeys = PARTITION_KEYS.map((k) => k.name).join(', ');
    await connection.run(
      `CREATE VIEW ${TABLE} AS ${
        hasFiles(curated, '.parquet')
          ? `SELECT ${selectList(TABLE_COLUMNS)}, ${partitionKeys} FROM read_parquet(${literal(join(curated, '*/*/*.parquet'))}, hive_partitioning = true, hive_types = ${HIVE_TYPES}, union_by_name = true)`
          : emptyView(TABLE_COLUMNS, PARTITION_KEYS)
      }`,
    );
    const quarantine = join(lakeDir, QUARANTINE_PREFIX);
    const jsonColumns = `{${QUARANTINE_COLUMNS.map((c) => `${literal(c.name)}: ${literal(duckdbType(c.type))}`).join(', ')}}`;
    await connection.run(
      `CREATE VIEW ${TABLE}_quarantine AS ${
        hasFiles(quarantine, '.ndjson')
          ? `SELECT * FROM read_json(${literal(join(quarantine, '*/*.ndjson'))}, format = 'newline_delimited', columns = ${jsonColumns}, hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})`
          : emptyView(QUARANTINE_COLUMNS, [{ name: 'dt', type: 'string' }])
      }`,
    );
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

function jsonValue(value: unknown, type: string): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}
