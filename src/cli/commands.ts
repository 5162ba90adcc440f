import { createReadStream, existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { CompactionReport } from '../../lambdas/core/compactor.ts';
import { NAMED_QUERIES, namedQuery } from '../../lambdas/core/queries.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import type { OutgoingRecord } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout, openDataDir, requireDataDir } from '../local/data-dir.ts';
import { DuckDbLake } from '../local/duckdb-lake.ts';
import { compactLocal, runLocal, type LocalRunSummary } from '../local/runner.ts';
import { formatBytes, formatTable, formatUsd } from './table.ts';

/** The command was called wrong; the message says how to call it. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A signal stopped the command early; the message says what was done and how to go on. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  /** 128 + the signal's number, as a shell reports a process the signal ended. */
  readonly exitCode: number;

  constructor(message: string, signal: NodeJS.Signals) {
    super(message);
    this.exitCode = 128 + osConstants.signals[signal];
  }
}

const PRODUCE_BATCH = 10_000;
const SUMMARY_QUERIES = [
  { name: 'latest_reading_per_device', rows: 8 },
  { name: 'site_summary', rows: 10 },
  { name: 'anomalies', rows: 8 },
  { name: 'ingestion_freshness', rows: 12 },
];

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Progress on stderr: one rewritten line on a terminal, a line per step otherwise. */
function progressLine(text: string, step: boolean): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
  else if (step) process.stderr.write(`${text}\n`);
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

function describeCompaction(report: CompactionReport): string {
  return `compactor run ${report.sequence}: ${report.rowsWritten} rows in ${report.files.length} files, ${report.quarantined} quarantined`;
}

interface LocalFlags {
  minutes: number;
  devices: number;
  seed: number;
  partitions?: number;
  start?: number;
  kafka?: string[];
  dataDir: string;
  codec: Codec;
  json?: boolean;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function localCommand(flags: LocalFlags): Promise<void> {
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
      signal: stop.signal,
      onProgress: ({ minute, minutes, produced, compaction }) =>
        progressLine(`minute ${minute}/${minutes}: ${produced} events produced${compaction ? `; ${describeCompaction(compaction)}` : ''}`, compaction !== undefined),
    });
  } finally {
    for (const name of STOP_SIGNALS) process.removeListener(name, onSignal);
  }
  endProgress();
  if (flags.json) printJson(summary);
  else print(renderSummary(summary, flags));
  if (summary.interrupted) throw new InterruptedError(describeInterruption(summary, flags), stop.signal.reason as NodeJS.Signals);
  if (flags.json) return;
  const lake = await DuckDbLake.open(dataDirLayout(flags.dataDir).lakeDir);
  try {
    for (const { name, rows } of SUMMARY_QUERIES) {
      const query = namedQuery(name);
      const result = await lake.query(query.sql);
      print(`\n${query.name} — ${query.description}\n${formatTable(result.columns, result.rows, rows)}`);
    }
  } finally {
    lake.close();
  }
  print(`\nMore: npx streamlake queries · npx streamlake query --data-dir ${flags.dataDir} "SELECT count(*) FROM device_logs"`);
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
  const ratio = s.parquetBytes > 0 ? `  (${formatBytes(s.parquetBytes)}, ${(s.producedBytes / s.parquetBytes).toFixed(1)}× smaller than the JSON)` : '';
  const resumed = s.resumedRecords > 0 ? `, after finishing the minute the last run was stopped in (${s.resumedRecords} events)` : '';
  return [
    `streamlake local: ${s.minutes} simulated minutes (${s.start} → ${s.end})${resumed}, ${flags.devices} devices, data in ${s.dataDir}${flags.kafka ? `, topic on Kafka at ${flags.kafka.join(',')}` : ''}`,
    '',
    `  events produced   ${String(s.produced).padStart(9)}  (${formatBytes(s.producedBytes)} of JSON)`,
    `  rows in the lake  ${String(s.lakeRows).padStart(9)}`,
    `  quarantined       ${String(s.quarantined).padStart(9)}  (table device_logs_quarantine)`,
    `  Parquet files     ${String(s.files).padStart(9)}${ratio}`,
    `  compactor runs    ${String(s.compactions).padStart(9)}`,
  ].join('\n');
}

interface ProduceFlags {
  dataDir: string;
  file?: string;
  keyField?: string;
  json?: boolean;
}

export async function produceCommand(flags: ProduceFlags): Promise<void> {
  requireDataDir(flags.dataDir);
  if (flags.file !== undefined && !existsSync(flags.file)) throw new UsageError(`no file ${flags.file}; pass an existing file to --file or pipe the lines to stdin`);
  if (flags.file === undefined && process.stdin.isTTY) throw new UsageError('nothing to produce: pass --file <path> or pipe lines to stdin');
  const { log } = await openDataDir(flags.dataDir);
  const lines = createInterface({ input: flags.file === undefined ? process.stdin : createReadStream(flags.file), crlfDelay: Infinity });
  const encoder = new TextEncoder();
  let batch: OutgoingRecord[] = [];
  let produced = 0;
  let unkeyed = 0;
  try {
    for await (const line of lines) {
      if (line.length === 0) continue;
      const key = flags.keyField === undefined ? null : keyOf(line, flags.keyField);
      if (flags.keyField !== undefined && key === null) unkeyed++;
      batch.push({ key, value: encoder.encode(line), timestamp: Date.now() });
      if (batch.length === PRODUCE_BATCH) {
        await log.produce(batch);
        produced += batch.length;
        batch = [];
        progressLine(`${produced} records produced`, false);
      }
    }
    await log.produce(batch);
    produced += batch.length;
  } finally {
    await log.close();
  }
  endProgress();
  const summary = { produced, unkeyed, topic: log.topic, partitions: log.partitions, dataDir: dataDirLayout(flags.dataDir).root };
  if (flags.json) printJson(summary);
  else print(`produced ${produced} records to topic ${log.topic} (${log.partitions} partitions)${unkeyed ? `, ${unkeyed} without a ${flags.keyField} key (spread round-robin)` : ''}`);
}

function keyOf(line: string, field: string): string | null {
  try {
    const value = (JSON.parse(line) as Record<string, unknown>)[field];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
  } catch {
    return null; // not JSON: produced unkeyed, and the compactor will quarantine it
  }
}

interface CompactFlags {
  dataDir: string;
  codec: Codec;
  json?: boolean;
}

export async function compactCommand(flags: CompactFlags): Promise<void> {
  requireDataDir(flags.dataDir);
  const { log, store } = await openDataDir(flags.dataDir);
  let report: CompactionReport;
  try {
    report = await compactLocal(log, store, Date.now(), flags.codec, (read, planned) => progressLine(`read ${read}/${planned} records`, false));
  } finally {
    await log.close();
  }
  endProgress();
  if (flags.json) printJson(report);
  else if (report.runId === null) print('nothing to compact: the lake is up to date with the topic');
  else print(`${describeCompaction(report)}${report.resumed ? ' (finished an interrupted run)' : ''}\n${[...report.files, ...report.quarantineFiles].map((f) => `  ${f}`).join('\n')}`);
}

interface QueryFlags {
  dataDir: string;
  named?: string;
  json?: boolean;
  athena?: boolean;
  workgroup?: string;
  database?: string;
}

export async function queryCommand(sql: string | undefined, flags: QueryFlags, command: Command): Promise<void> {
  if ((sql === undefined) === (flags.named === undefined)) throw new UsageError('pass either SQL or --named <name>, e.g. streamlake query "SELECT count(*) FROM device_logs"');
  const text = flags.named === undefined ? sql! : namedQuery(flags.named).sql;
  if (flags.athena) {
    if (command.getOptionValueSource('dataDir') === 'cli') throw new UsageError('--data-dir names a local lake: drop it to query Athena, or drop --athena to query locally');
    await athenaQueryCommand(text, flags);
    return;
  }
  if (flags.workgroup !== undefined || flags.database !== undefined) throw new UsageError('--workgroup and --database choose where Athena runs: add --athena');
  requireDataDir(flags.dataDir);
  const lake = await DuckDbLake.open(dataDirLayout(flags.dataDir).lakeDir);
  try {
    const result = await lake.query(text);
    printRows(result.columns, result.rows, flags.json);
  } finally {
    lake.close();
  }
}

async function athenaQueryCommand(sql: string, flags: QueryFlags): Promise<void> {
  // Loaded only here: the AWS SDK would slow every local command's start.
  const [{ AthenaClient }, { ATHENA_MINIMUM_BILLED_MB, runAthenaQuery }] = await Promise.all([import('@aws-sdk/client-athena'), import('../athena/athena-query.ts')]);
  let lastState = '';
  const result = await runAthenaQuery(new AthenaClient({}), {
    sql,
    workgroup: flags.workgroup ?? DEFAULTS.athenaWorkgroup,
    database: flags.database ?? DEFAULTS.glueDatabase,
    onProgress: ({ executionId, state, elapsedMs }) => {
      progressLine(`Athena query ${executionId}: ${state.toLowerCase()} after ${(elapsedMs / 1000).toFixed(1)} s`, state !== lastState);
      lastState = state;
    },
  }).finally(endProgress);
  printRows(result.columns, result.rows, flags.json);
  process.stderr.write(`scanned ${formatBytes(result.dataScannedBytes)}, cost ${formatUsd(result.costUsd)} (Athena bills at least ${ATHENA_MINIMUM_BILLED_MB} MB per query)\n`);
}

function printRows(columns: readonly string[], rows: readonly Record<string, unknown>[], json: boolean | undefined): void {
  if (json) printJson(rows);
  else print(formatTable(columns, rows));
}

export function queriesCommand(flags: { json?: boolean }): void {
  if (flags.json) printJson(NAMED_QUERIES);
  else print(formatTable(['name', 'description'], NAMED_QUERIES.map((q) => ({ name: q.name, description: q.description }))));
}
