import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tableNamed, type DeclaredTables } from '../../lambdas/adapters/table-directory.ts';
import type { BudgetedCompaction } from '../../lambdas/core/compaction-loop.ts';
import type { CompactionReport } from '../../lambdas/core/compactor.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import type { OutgoingRecord } from '../../lambdas/ports/topic.ts';
import { deployableTables } from '../../lib/tables.ts';
import { dataDirLayout, requireDataDir } from '../local/data-dir.ts';
import { LocalLake } from '../local/local-lake.ts';
import { compactShardsLocal } from '../local/runner.ts';
import { openTopic, openTopicReader } from '../local/topics.ts';
import { UsageError } from './errors.ts';
import { describeCompaction, endProgress, print, printJson, progressLine } from './output.ts';

const PRODUCE_BATCH = 10_000;

/** The flags of `streamlake produce`. */
export interface ProduceFlags {
  dataDir: string;
  tables: string;
  table?: string;
  file?: string;
  kafka?: string[];
  partitions?: number;
  json?: boolean;
}

/** The table `--table` names; the only one declared when it is left out. */
function tableToProduce(declared: DeclaredTables, name: string | undefined): TableSpec {
  if (name !== undefined) return tableNamed(declared, name);
  if (declared.tables.length === 1) return declared.tables[0]!;
  throw new UsageError(`${declared.dir} declares ${declared.tables.length} tables (${declared.tables.map((t) => t.name).join(', ')}): pass --table NAME to say which one the records are for`);
}

/**
 * `streamlake produce`: each line of the file (or stdin) becomes one record value on the table's
 * topic, keyed by the declaration's `x-streamlake.key` field. Lines that are not JSON objects or
 * lack the key are produced without a key, so that they reach quarantine as any producer's would.
 */
export async function produceCommand(flags: ProduceFlags): Promise<void> {
  if (flags.file !== undefined) refuseNonFile(flags.file);
  if (flags.file === undefined && process.stdin.isTTY) throw new UsageError('nothing to produce: pass --file <path> or pipe lines to stdin');
  const table = tableToProduce(deployableTables(flags.tables), flags.table);
  const topic = await openTopic(table, flags);
  const lines = createInterface({ input: flags.file === undefined ? process.stdin : createReadStream(flags.file), crlfDelay: Infinity });
  const encoder = new TextEncoder();
  let batch: OutgoingRecord[] = [];
  let produced = 0;
  let unkeyed = 0;
  try {
    for await (const line of lines) {
      if (line.length === 0) continue;
      const key = table.key === undefined ? null : keyOf(line, table.key);
      if (table.key !== undefined && key === null) unkeyed++;
      batch.push({ key, value: encoder.encode(line), timestamp: Date.now() });
      if (batch.length === PRODUCE_BATCH) {
        await topic.writer.produce(batch);
        produced += batch.length;
        batch = [];
        progressLine(`${produced} records produced`, false);
      }
    }
    await topic.writer.produce(batch);
    produced += batch.length;
  } finally {
    await topic.close();
  }
  endProgress();
  const summary = { table: table.name, topic: topic.name, partitions: topic.partitions, produced, unkeyed, dataDir: dataDirLayout(flags.dataDir).root };
  if (flags.json) printJson(summary);
  else print(`produced ${produced} records to topic ${topic.name} (table ${table.name}, ${topic.partitions} partitions)${unkeyed ? `, ${unkeyed} without a ${table.key} key (spread round-robin)` : ''}`);
}

function refuseNonFile(file: string): void {
  if (!existsSync(file)) throw new UsageError(`no file ${file}: pass an existing file to --file, or pipe the lines to stdin`);
  if (!statSync(file).isFile()) throw new UsageError(`--file ${file} is a directory, not a file of lines: pass one file to --file (e.g. cat ${file}/*.ndjson | streamlake produce …)`);
}

function keyOf(line: string, field: string): string | null {
  try {
    const value = (JSON.parse(line) as Record<string, unknown>)[field];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
  } catch {
    return null; // not JSON: produced unkeyed, and the compactor will quarantine it
  }
}

/** The flags of `streamlake compact`. */
export interface CompactFlags {
  dataDir: string;
  tables: string;
  table?: string;
  kafka?: string[];
  codec: Codec;
  shards?: number;
  json?: boolean;
}

/**
 * `streamlake compact`: one compactor invocation per table (`--table`, or every declared table),
 * each from its topic into the lake: `--shards` shards at once, each working to the Lambda's time
 * budget. `--json` prints `{ "<table>": <report>, … }`; with several shards the report sums them
 * and lists each under `shards`.
 */
export async function compactCommand(flags: CompactFlags): Promise<void> {
  requireDataDir(flags.dataDir);
  const declared = deployableTables(flags.tables);
  const tables = flags.table === undefined ? declared.tables : [tableNamed(declared, flags.table)];
  const lake = new LocalLake(dataDirLayout(flags.dataDir).lakeDir);
  const reports: Record<string, CompactionReport> = {};
  for (const table of tables) {
    const reader = await openTopicReader(table, flags);
    try {
      const shards = await compactShardsLocal(lake.resolve(table), reader, lake, Date.now(), {
        codec: flags.codec, shards: flags.shards ?? 1, onProgress: (read, planned) => progressLine(`${table.name}: read ${read}/${planned} records`, false),
      });
      reports[table.name] = shards.length === 1 ? shards[0]! : combineShards(shards);
    } finally {
      await reader.close();
    }
  }
  endProgress();
  if (flags.json) printJson(reports);
  else print(Object.entries(reports).map(([table, report]) => describeRun(table, report)).join('\n'));
}

/** The shards' invocations as one report: figures summed, lag over every partition, the shards' own reports under `shards`. */
function combineShards(shards: readonly BudgetedCompaction[]): CompactionReport & { readonly runs: number; readonly shards: readonly BudgetedCompaction[] } {
  const total = (pick: (r: BudgetedCompaction) => number) => shards.reduce((sum, r) => sum + pick(r), 0);
  const working = shards.filter((r) => r.runId !== null);
  return {
    sequence: Math.max(...shards.map((r) => r.sequence)), runId: working.map((r) => r.runId).join(',') || null, resumed: shards.some((r) => r.resumed), joined: shards.some((r) => r.joined),
    recordsRead: total((r) => r.recordsRead), rowsWritten: total((r) => r.rowsWritten), quarantined: total((r) => r.quarantined),
    quarantineReasons: shards.reduce<Record<string, number>>((all, r) => {
      for (const [reason, n] of Object.entries(r.quarantineReasons)) all[reason] = (all[reason] ?? 0) + n;
      return all;
    }, {}),
    files: shards.flatMap((r) => r.files), quarantineFiles: shards.flatMap((r) => r.quarantineFiles), inputBytes: total((r) => r.inputBytes), parquetBytes: total((r) => r.parquetBytes),
    gaps: shards.flatMap((r) => r.gaps), unknownFields: [...new Set(shards.flatMap((r) => r.unknownFields))].sort(),
    lag: Object.assign({}, ...shards.map((r) => r.lag)) as Record<string, number>, offsets: Object.assign({}, ...shards.map((r) => r.offsets)) as Record<string, number>,
    runs: total((r) => r.runs), shards,
  };
}

function describeRun(table: string, report: CompactionReport): string {
  if (report.runId === null) return `${table}: nothing to compact, the lake is up to date with its topic`;
  const lines = [`${describeCompaction({ table, report })}${report.joined ? ' (joined a concurrent run: another compactor claimed the same records first)' : report.resumed ? ' (finished a run another compactor had claimed and not committed)' : ''}`, ...[...report.files, ...report.quarantineFiles].map((f) => `  ${f}`)];
  if (report.unknownFields.length > 0) lines.push(`  fields ${table} does not declare, kept in its _extra column: ${report.unknownFields.join(', ')}`);
  return lines.join('\n');
}
