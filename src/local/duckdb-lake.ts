import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { curatedPrefix, partitionKeys, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { duckdbType, QUARANTINE_COLUMNS, type ColumnSpec } from '../../lambdas/core/schema.ts';
import { currentSnapshot, sequencesOf, shardTagOf, snapshotAt, snapshotById, SUMMARY, type Snapshot, type TableMetadata } from '../../lambdas/core/iceberg-metadata.ts';
import { tableColumns, type TableSpec } from '../../lambdas/core/table-declaration.ts';
import { LocalLake } from './local-lake.ts';

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

/** Which snapshot of the lake's Iceberg tables a query reads: one by its id, or each table's as of an instant. */
export type AsOf = { readonly snapshotId: string } | { readonly timestampMs: number };

/** `--as-of` names no snapshot the lake's Iceberg tables have, or the lake has no Iceberg table. */
export class AsOfError extends Error {
  override name = 'AsOfError';
}

/**
 * DuckDB over the local lake, as Athena sees the S3 lake: per declared table, a view over its
 * curated Parquet files — for a Hive-Parquet table with hive partitioning (`dt`, and `hour` for
 * hourly tables, from the path), for an Iceberg table the data files of its current snapshot (or
 * the one `asOf` picks) — and `<table>_quarantine` over its quarantine NDJSON. The views take
 * their columns from the table declarations.
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
  static async open(lakeDir: string, tables: readonly TableSpec[], options: { threads?: number; fileAccess?: LakeFileAccess; asOf?: AsOf } = {}): Promise<DuckDbLake> {
    const access = options.fileAccess ?? 'any';
    const instance = await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 2) });
    const connection = await instance.connect();
    const lake = new DuckDbLake(instance, connection, access);
    await connection.run("SET TimeZone = 'UTC'");
    const local = new LocalLake(lakeDir);
    const iceberg = tables.filter((table) => local.storedFormat(table.name) === 'iceberg');
    const snapshots = await icebergSnapshots(local, iceberg, options.asOf);
    for (const table of tables) {
      const view = snapshots.has(table) ? await icebergView(local, table, snapshots.get(table)!) : curatedView(lakeDir, table);
      await connection.run(`CREATE VIEW ${table.name} AS ${view}`);
      await connection.run(`CREATE VIEW ${table.name}_quarantine AS ${await quarantineView(local, table.name)}`);
      if (snapshots.has(table)) await connection.run(`CREATE VIEW ${table.name}_snapshots AS ${snapshotsView(snapshots.get(table)!.metadata)}`);
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

/** The snapshot each Iceberg table is read at: the current one, or the one `asOf` picks (undefined: the table is empty then). */
async function icebergSnapshots(lake: LocalLake, tables: readonly TableSpec[], asOf: AsOf | undefined): Promise<Map<TableSpec, { metadata: TableMetadata; snapshot: Snapshot | undefined }>> {
  const picked = new Map<TableSpec, { metadata: TableMetadata; snapshot: Snapshot | undefined }>();
  for (const table of tables) {
    const loaded = await lake.iceberg(table).load();
    if (!loaded) continue;
    const { metadata } = loaded;
    const snapshot =
      asOf === undefined ? currentSnapshot(metadata)
      : 'timestampMs' in asOf ? snapshotAt(metadata, asOf.timestampMs)
      : (snapshotById(metadata, asOf.snapshotId) ?? currentSnapshot(metadata));
    picked.set(table, { metadata, snapshot });
  }
  if (asOf === undefined) return picked;
  if (picked.size === 0) throw new AsOfError('--as-of reads earlier snapshots of Iceberg tables, and this lake has none: Hive-Parquet tables keep no history');
  if ('snapshotId' in asOf && ![...picked.values()].some(({ metadata }) => snapshotById(metadata, asOf.snapshotId))) {
    const tables = [...picked.keys()].map((t) => t.name).join(', ');
    throw new AsOfError(`no Iceberg table of this lake (${tables}) has snapshot ${asOf.snapshotId}; list them with: streamlake query "SELECT * FROM <table>_snapshots"`);
  }
  if ('timestampMs' in asOf && [...picked.values()].every(({ snapshot }) => snapshot === undefined)) {
    const first = Math.min(...[...picked.values()].flatMap(({ metadata }) => metadata.snapshots.map((s) => s['timestamp-ms'])));
    throw new AsOfError(`--as-of ${new Date(asOf.timestampMs).toISOString()} is before the first snapshot of every Iceberg table of this lake (the first is from ${new Date(first).toISOString()})`);
  }
  return picked;
}

async function icebergView(lake: LocalLake, table: TableSpec, at: { metadata: TableMetadata; snapshot: Snapshot | undefined }): Promise<string> {
  const columns = tableColumns(table);
  const files = (await lake.iceberg(table).dataFiles(at.snapshot)).map((entry) => fileURLToPath(entry.file.path));
  if (files.length === 0) return emptyView(columns, []);
  const read = `SELECT * FROM read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`;
  return `SELECT ${selectList(columns)} FROM (${read} UNION ALL BY NAME ${emptyView(columns, [])})`;
}

const SNAPSHOT_COLUMNS = [
  ['snapshot_id', 'VARCHAR'], ['committed_at', 'TIMESTAMP'], ['operation', 'VARCHAR'], ['parent_id', 'VARCHAR'], ['compactor_run', 'BIGINT'], ['compactor_shard', 'VARCHAR'],
  ['kafka_offsets', 'VARCHAR'], ['redrive_run', 'BIGINT'], ['added_records', 'BIGINT'], ['total_records', 'BIGINT'],
] as const;

/**
 * An Iceberg table's snapshots, oldest first, as Trino's `"<table>$snapshots"` shows them, with the
 * compactor run and the Kafka offsets each holds; a compactor shard's run is named with its shard.
 */
function snapshotsView(metadata: TableMetadata): string {
  if (metadata.snapshots.length === 0) return `SELECT ${SNAPSHOT_COLUMNS.map(([name, type]) => `NULL::${type} AS ${name}`).join(', ')} WHERE false`;
  const rows = metadata.snapshots.map((s) => {
    const summary = s.summary;
    const text = (value: string | undefined) => (value === undefined ? 'NULL' : literal(value));
    const run = compactorRun(metadata, s);
    return `(${literal(String(s['snapshot-id']))}, make_timestamp(${s['timestamp-ms']}::BIGINT * 1000), ${literal(summary.operation)}, ${text(s['parent-snapshot-id']?.toString())}, ` +
      `${run.sequence ?? 'NULL'}, ${text(run.shard)}, ${text(summary[SUMMARY.offsets])}, ${summary[SUMMARY.redriveSequence] ?? 'NULL'}, ${summary['added-records'] ?? 'NULL'}, ${summary['total-records'] ?? 'NULL'})`;
  });
  const columns = SNAPSHOT_COLUMNS.map(([name, type]) => `CAST(${name} AS ${type}) AS ${name}`).join(', ');
  return `SELECT ${columns} FROM (VALUES ${rows.join(', ')}) AS snapshots(${SNAPSHOT_COLUMNS.map(([name]) => name).join(', ')})`;
}

/**
 * The compactor run a snapshot shows. A shard's commit changes only its own sequence key (the
 * others are carried forward), so the one key that differs from the parent's names the shard and
 * its run (every key counts when the parent was expired, so one left names it). Otherwise (the
 * single compactor, or a snapshot no compactor committed) the single compactor's run it holds.
 */
function compactorRun(metadata: TableMetadata, snapshot: Snapshot): { sequence?: string; shard?: string } {
  const parentId = snapshot['parent-snapshot-id'];
  const before = sequencesOf(parentId === undefined ? undefined : snapshotById(metadata, parentId));
  const changed = Object.entries(sequencesOf(snapshot)).filter(([key, sequence]) => before[key] !== sequence);
  const shard = changed.length === 1 ? shardTagOf(changed[0]![0]) : undefined;
  if (shard !== undefined) return { sequence: String(changed[0]![1]), shard };
  return { sequence: snapshot.summary[SUMMARY.sequence] };
}

// The current version of each quarantine file: a redrive rewrites a file's lines with their new verdicts.
async function quarantineView(local: LocalLake, table: string): Promise<string> {
  const files = (await local.store.currentFiles(quarantinePrefix(table))).filter((path) => /\.ndjson(\.versions\/\d+)?$/.test(path));
  if (files.length === 0) return emptyView(QUARANTINE_COLUMNS, [{ name: 'dt', type: 'string' }]);
  const jsonColumns = `{${QUARANTINE_COLUMNS.map((c) => `${literal(c.name)}: ${literal(duckdbType(c))}`).join(', ')}}`;
  return `SELECT * FROM read_json([${files.map(literal).join(', ')}], format = 'newline_delimited', columns = ${jsonColumns}, hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})`;
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
