import type { Command } from 'commander';
import { loadTables } from '../../lambdas/adapters/table-directory.ts';
import { namedQuery } from '../../lambdas/core/queries.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout, requireDataDir } from '../local/data-dir.ts';
import { DuckDbLake, type AsOf } from '../local/duckdb-lake.ts';
import { InterruptedError, STOP_SIGNALS, UsageError } from './errors.ts';
import { endProgress, print, printJson, printRows, progressLine } from './output.ts';
import { formatBytes, formatTable, formatUsd } from './table.ts';

/** The flags of `streamlake query`. */
export interface QueryFlags {
  dataDir: string;
  tables: string;
  named?: string;
  json?: boolean;
  athena?: boolean;
  workgroup?: string;
  database?: string;
  unsafeSql?: boolean;
  asOf?: AsOf;
}

/**
 * `streamlake query`: SQL, or a named query of any declared table, on DuckDB over the local lake
 * (a view per table and per quarantine table) or with `--athena` on the deployed lake.
 */
export async function queryCommand(sql: string | undefined, flags: QueryFlags, command: Command): Promise<void> {
  if ((sql === undefined) === (flags.named === undefined)) throw new UsageError('pass either SQL or --named <name>, e.g. streamlake query "SELECT count(*) FROM device_logs"');
  const declared = loadTables(flags.tables);
  const text = flags.named === undefined ? sql! : namedQuery(declared.queries, flags.named).sql;
  if (flags.athena) {
    if (flags.unsafeSql) throw new UsageError('--unsafe-sql lifts the local lake\'s file limits: drop it to query Athena, whose workgroup sets what a query may do');
    if (flags.asOf !== undefined) throw new UsageError('--as-of reads the local lake\'s Iceberg snapshots: on Athena, write FOR TIMESTAMP AS OF (or FOR VERSION AS OF) after the table name in the SQL');
    if (command.getOptionValueSource('dataDir') === 'cli') throw new UsageError('--data-dir names a local lake: drop it to query Athena, or drop --athena to query locally');
    await athenaQueryCommand(text, flags);
    return;
  }
  if (flags.workgroup !== undefined || flags.database !== undefined) throw new UsageError('--workgroup and --database choose where Athena runs: add --athena');
  requireDataDir(flags.dataDir);
  // SQL from the command line reads the lake and nothing else unless --unsafe-sql says otherwise.
  const lake = await DuckDbLake.open(dataDirLayout(flags.dataDir).lakeDir, declared.tables, { fileAccess: flags.unsafeSql ? 'any' : 'lake', asOf: flags.asOf });
  try {
    const result = await lake.query(text);
    printRows(result.columns, result.rows, flags.json);
  } finally {
    lake.close();
  }
}

async function athenaQueryCommand(sql: string, flags: QueryFlags): Promise<void> {
  // Loaded only here: the AWS SDK would slow every local command's start.
  const [{ AthenaClient }, { ATHENA_MINIMUM_BILLED_MB, AthenaQueryStoppedError, runAthenaQuery }] = await Promise.all([import('@aws-sdk/client-athena'), import('../athena/athena-query.ts')]);
  let lastState = '';
  // Ctrl-C stops the query on Athena before the process ends, so it scans (and bills) no further.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    for (const name of STOP_SIGNALS) process.removeListener(name, onSignal);
    endProgress();
    process.stderr.write(`${signal}: stopping the Athena query\n`);
    stop.abort(signal);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  const result = await runAthenaQuery(new AthenaClient({}), {
    sql,
    workgroup: flags.workgroup ?? DEFAULTS.athenaWorkgroup,
    database: flags.database ?? DEFAULTS.glueDatabase,
    signal: stop.signal,
    onProgress: ({ executionId, state, elapsedMs }) => {
      progressLine(`Athena query ${executionId}: ${state.toLowerCase()} after ${(elapsedMs / 1000).toFixed(1)} s`, state !== lastState);
      lastState = state;
    },
  })
    .catch((error: unknown) => {
      throw error instanceof AthenaQueryStoppedError ? new InterruptedError(error.message, stop.signal.reason as NodeJS.Signals) : error;
    })
    .finally(() => {
      for (const name of STOP_SIGNALS) process.removeListener(name, onSignal);
      endProgress();
    });
  printRows(result.columns, result.rows, flags.json);
  process.stderr.write(`scanned ${formatBytes(result.dataScannedBytes)}, cost ${formatUsd(result.costUsd)} (Athena bills at least ${ATHENA_MINIMUM_BILLED_MB} MB per query)\n`);
}

/** `streamlake queries`: every declared table's named queries, with their table. */
export function queriesCommand(flags: { tables: string; json?: boolean }): void {
  const { queries } = loadTables(flags.tables);
  if (flags.json) printJson(queries);
  else print(formatTable(['name', 'table', 'description'], queries.map(({ name, table, description }) => ({ name, table, description }))));
}
