import { namedQuery } from '../../lambdas/core/queries.ts';
import type { TableFormatName } from '../../lambdas/core/table-declaration.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import { DEMO_TABLE, deployableTables } from '../../lib/tables.ts';
import { dataDirLayout } from '../local/data-dir.ts';
import { DuckDbLake } from '../local/duckdb-lake.ts';
import { runLocal, type LocalRunSummary } from '../local/runner.ts';
import { InterruptedError, STOP_SIGNALS } from './errors.ts';
import { describeCompaction, endProgress, print, printJson, progressLine } from './output.ts';
import { formatBytes, formatTable } from './table.ts';

/** The named queries of the fleet's table that `streamlake local` shows after its summary, and how many rows of each. */
const SUMMARY_QUERIES = [
  { name: 'latest_reading_per_device', rows: 8 },
  { name: 'site_summary', rows: 10 },
  { name: 'anomalies', rows: 8 },
  { name: 'ingestion_freshness', rows: 12 },
];


/** The flags of `streamlake local`. */
export interface LocalFlags {
  minutes: number;
  devices: number;
  seed: number;
  partitions?: number;
  start?: number;
  kafka?: string[];
  dataDir: string;
  tables: string;
  codec: Codec;
  tableFormat?: TableFormatName;
  shards?: number;
  json?: boolean;
}

/** `streamlake local`: the fleet and every table's compactor on simulated time, then a summary and the fleet table's named queries. */
export async function localCommand(flags: LocalFlags): Promise<void> {
  const declared = deployableTables(flags.tables);
  // The first Ctrl-C stops the run after the minute being produced; the handler is then gone, so a
  // second one ends the process at once, which loses nothing either: the clock is saved every minute.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    for (const name of STOP_SIGNALS) process.removeListener(name, onSignal);
    stop.abort(signal);
    endProgress();
    process.stderr.write(`${signal}: stopping after this simulated minute (again to stop at once; nothing is lost either way)\n`);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  let summary: LocalRunSummary;
  try {
    summary = await runLocal({
      ...flags,
      tables: declared.tables,
      signal: stop.signal,
      onProgress: ({ minute, minutes, produced, compactions }) => {
        progressLine(`minute ${minute}/${minutes}: ${produced} events produced`, false);
        for (const compaction of compactions) progressLine(`minute ${minute}/${minutes}: ${produced} events produced; ${describeCompaction(compaction)}`, true);
      },
    });
  } finally {
    for (const name of STOP_SIGNALS) process.removeListener(name, onSignal);
  }
  endProgress();
  if (flags.json) printJson(summary);
  else print(renderSummary(summary, flags));
  if (summary.interrupted) throw new InterruptedError(describeInterruption(summary, flags), stop.signal.reason as NodeJS.Signals);
  if (flags.json) return;
  const lake = await DuckDbLake.open(dataDirLayout(flags.dataDir).lakeDir, declared.tables, { fileAccess: 'lake' });
  try {
    for (const { name, rows } of SUMMARY_QUERIES.filter((q) => declared.queries.some((d) => d.name === q.name))) {
      const query = namedQuery(declared.queries, name);
      const result = await lake.query(query.sql);
      print(`\n${query.name} — ${query.description}\n${formatTable(result.columns, result.rows, rows)}`);
    }
  } finally {
    lake.close();
  }
  print(`\nMore: npx streamlake queries · npx streamlake query --data-dir ${flags.dataDir} "SELECT count(*) FROM ${DEMO_TABLE}"`);
}

function describeInterruption(s: LocalRunSummary, flags: LocalFlags): string {
  const rest = flags.minutes - s.minutes;
  return (
    `stopped after ${s.minutes} of ${flags.minutes} simulated minutes; the clock is saved at ${s.end}, where the log ends. ` +
    `Run the same command again to continue from there${rest > 0 ? ` (--minutes ${rest} finishes the ${flags.minutes} asked for)` : ''}: ` +
    'no reading is sent twice, and the lake catches up with the log at its next compaction.'
  );
}

function renderSummary(s: LocalRunSummary, flags: LocalFlags): string {
  // The JSON's size is this run's; it compares with the lake's Parquet only while the lake holds nothing else.
  const onlyThisRun = s.produced === s.lakeRows + s.quarantined;
  const ratio = s.parquetBytes === 0 ? '' : `  (${formatBytes(s.parquetBytes)}${onlyThisRun ? `, ${(s.producedBytes / s.parquetBytes).toFixed(1)}× smaller than the JSON` : ''})`;
  const resumed = s.resumedRecords > 0 ? `, after finishing the minute the last run was stopped in (${s.resumedRecords} events)` : '';
  const others = s.tables.filter((t) => t.table !== DEMO_TABLE);
  return [
    `streamlake local: ${s.minutes} simulated minutes (${s.start} → ${s.end})${resumed}, ${flags.devices} devices, data in ${s.dataDir}${flags.kafka ? `, topics on Kafka at ${flags.kafka.join(',')}` : ''}`,
    '',
    '  this run:',
    `  events produced   ${String(s.produced).padStart(9)}  (${formatBytes(s.producedBytes)} of JSON)`,
    `  compactor runs    ${String(s.compactions).padStart(9)}`,
    '',
    `  the whole lake, every run so far (table ${DEMO_TABLE}):`,
    `  rows in the lake  ${String(s.lakeRows).padStart(9)}`,
    `  quarantined       ${String(s.quarantined).padStart(9)}  (table ${DEMO_TABLE}_quarantine)`,
    `  Parquet files     ${String(s.files).padStart(9)}${ratio}`,
    ...(others.length > 0 ? ['', '  the other tables in the lake, every run so far:', ...others.map((t) => `  ${t.table.padEnd(16)}  ${t.lakeRows} rows, ${t.quarantined} quarantined, ${t.files} Parquet files (${t.compactions} compactor runs in this run)`)] : []),
  ].join('\n');
}
