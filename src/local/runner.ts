import { mkdir } from 'node:fs/promises';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { loadTables } from '../../lambdas/adapters/table-directory.ts';
import { compactToBudget, type BudgetedCompaction, type CompactionBudget } from '../../lambdas/core/compaction-loop.ts';
import { compact, type CompactionReport, type CompactorOptions } from '../../lambdas/core/compactor.ts';
import { validationLimits } from '../../lambdas/core/decode.ts';
import { currentSnapshot } from '../../lambdas/core/iceberg-metadata.ts';
import { curatedPrefix } from '../../lambdas/core/lake-layout.ts';
import { shardOf } from '../../lambdas/core/shards.ts';
import type { TableFormatName, TableSpec } from '../../lambdas/core/table-declaration.ts';
import { DeviceFleet, produceMinute } from '../../lambdas/demo/device-fleet.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import type { TopicReader } from '../../lambdas/ports/topic.ts';
import { DEFAULTS, type PipelineConfig } from '../../lib/config.ts';
import { DEMO_TABLE } from '../../lib/tables.ts';
import { ClockError, finishInterruptedMinute, highWatermarks, readClock, saveClock } from './clock.ts';
import { dataDirLayout, refuseFileAsDataDir } from './data-dir.ts';
import { DuckDbLake } from './duckdb-lake.ts';
import { LocalLake } from './local-lake.ts';
import { DEFAULT_TABLES_DIR } from './tables-dir.ts';
import { checkTopicLimits, openTopic, openTopicReader, type TopicAccess } from './topics.ts';

const MINUTE_MS = 60_000;

/** `streamlake local` needs the fleet's table, and it is not declared; the message says what to use instead. */
export class FleetTableError extends Error {
  override name = 'FleetTableError';
}

/** What `streamlake local` runs: the fleet's traffic, where its topics are, and when to stop. */
export interface LocalRunOptions extends TopicAccess {
  /** Simulated minutes of traffic. */
  readonly minutes: number;
  readonly devices: number;
  readonly seed: number;
  readonly codec: Codec;
  /**
   * The declared tables: the fleet produces `device_logs`, and every table is compacted on the
   * schedule. @default the tables declared in the project's `tables/` directory
   */
  readonly tables?: readonly TableSpec[];
  /** First simulated minute (epoch ms); default: where the last run stopped, or `minutes` before now. */
  readonly start?: number;
  /** The format of the fleet's table when this run creates it (`--table-format`); an existing table keeps its own. */
  readonly tableFormat?: TableFormatName;
  /** Compactor shards per table (`--shards`), all run concurrently at each compaction. @default DEFAULTS.compactorShards */
  readonly shards?: number;
  /** Called after every simulated minute, with the compactions it ran. */
  readonly onProgress?: (progress: LocalProgress) => void;
  /**
   * Stops the run at the end of the minute being produced, without the compactions still due: the
   * clock is saved, and the next run continues from there (the lake catches up at its compactions).
   */
  readonly signal?: AbortSignal;
}

/** One compactor run of one table (or, from the runner, one shard's invocation: its runs to the time budget). */
export interface TableCompaction {
  readonly table: string;
  readonly report: CompactionReport;
  /** The shard, when the table's compactor runs in several. */
  readonly shard?: number;
}

/** How far a local run has got, reported after every simulated minute and every compaction after the last one. */
export interface LocalProgress {
  readonly minute: number;
  readonly minutes: number;
  readonly produced: number;
  /** The compactor runs of this step, one per table when compaction was due; empty otherwise. */
  readonly compactions: readonly TableCompaction[];
}

/** What the lake holds of one table after a local run. */
export interface TableSummary {
  readonly table: string;
  readonly lakeRows: number;
  readonly quarantined: number;
  readonly files: number;
  readonly parquetBytes: number;
  /** Compactor runs of this table in this run. */
  readonly compactions: number;
}

/** What a local run did and what the lake holds after it; the lake figures are the fleet table's, `tables` has every table's. */
export interface LocalRunSummary {
  readonly dataDir: string;
  readonly start: string;
  readonly end: string;
  /** Simulated minutes this run produced: the minutes asked for, or fewer when it was stopped. */
  readonly minutes: number;
  readonly interrupted: boolean;
  /** Records produced to finish a minute the previous run was stopped in the middle of (counted in `produced`). */
  readonly resumedRecords: number;
  readonly produced: number;
  readonly producedBytes: number;
  readonly compactions: number;
  readonly lakeRows: number;
  readonly files: number;
  readonly parquetBytes: number;
  readonly quarantined: number;
  readonly tables: readonly TableSummary[];
}

/** Compactor settings of a table from the pipeline config: the same values the deployed Lambda gets. */
export function compactorOptions(config: PipelineConfig, table: TableSpec, codec: Codec = config.codec): CompactorOptions {
  return { table, group: config.consumerGroup, codec, maxRecordsPerRun: config.maxRecordsPerRun, limits: validationLimits(config) };
}

/** One compactor run of `table` (in the format the lake holds it in, see {@link LocalLake.resolve}) from its topic into the local lake. */
export function compactLocal(table: TableSpec, topic: TopicReader, lake: LocalLake, now: number, codec: Codec, onProgress?: (read: number, planned: number) => void) {
  const clock = { now: () => now };
  return compact({ topic, store: lake.store, encoder: parquetEncoder(), clock, format: lake.format(table, clock), onProgress }, compactorOptions(DEFAULTS, table, codec));
}

/**
 * One scheduled compaction of `table` as the deployed schedules run it: every shard of `shards`
 * at once, each working to the Lambda's time budget (its timeout by default, measured on the
 * wall clock while the records' clock is `now`). One report per shard, in shard order.
 */
export async function compactShardsLocal(
  table: TableSpec, topic: TopicReader, lake: LocalLake, now: number,
  options: { readonly codec: Codec; readonly shards?: number; readonly budget?: CompactionBudget; readonly maxRecordsPerRun?: number; readonly onProgress?: (read: number, planned: number) => void },
): Promise<BudgetedCompaction[]> {
  const clock = { now: () => now };
  const count = options.shards ?? DEFAULTS.compactorShards;
  const deadline = performance.now() + DEFAULTS.compactorTimeoutSeconds * 1000;
  const budget = options.budget ?? { remainingMs: () => deadline - performance.now() };
  const base = { ...compactorOptions(DEFAULTS, table, options.codec), ...(options.maxRecordsPerRun === undefined ? {} : { maxRecordsPerRun: options.maxRecordsPerRun }) };
  const deps = { topic, store: lake.store, encoder: parquetEncoder(), clock, format: lake.format(table, clock), onProgress: options.onProgress };
  return Promise.all(Array.from({ length: count }, (_, index) => compactToBudget(deps, { ...base, shard: shardOf(index, count) }, budget)));
}

/**
 * The whole pipeline on one machine, on simulated time: the device fleet produces `device_logs`
 * every simulated minute and every declared table is compacted every `compactorEveryMinutes`, as
 * the cloud schedules run them, then until its lake holds everything produced. The clock is saved
 * after every minute, so a run stopped at any point, even killed, is continued by the next one
 * without a reading repeated or skipped (see {@link finishInterruptedMinute}).
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunSummary> {
  const declared = options.tables ?? loadTables(DEFAULT_TABLES_DIR).tables;
  if (!declared.some((table) => table.name === DEMO_TABLE)) {
    throw new FleetTableError(
      `no table ${DEMO_TABLE} is declared (tables: ${declared.map((t) => t.name).join(', ')}): \`streamlake local\` runs the simulated device fleet, which produces ${DEMO_TABLE}. ` +
        'Produce and compact your own tables with `streamlake produce --table NAME` and `streamlake compact`, or add tables/device_logs.schema.json to your --tables directory.',
    );
  }
  checkTopicLimits(options);
  refuseFileAsDataDir(options.dataDir);
  await mkdir(options.dataDir, { recursive: true });
  const layout = dataDirLayout(options.dataDir);
  const lake = new LocalLake(layout.lakeDir);
  const tables = declared.map((table) => lake.resolve(table, table.name === DEMO_TABLE ? options.tableFormat : undefined));
  const fleetTable = tables.find((table) => table.name === DEMO_TABLE)!;
  const topic = await openTopic(fleetTable, options);
  const readers = new Map<TableSpec, TopicReader>([[fleetTable, topic.reader]]);
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: options.devices, seed: options.seed });
  const stopped = () => options.signal?.aborted === true;
  const runs = new Map(tables.map((table) => [table.name, 0]));
  let produced = 0;
  let producedBytes = 0;
  let minutes = 0;
  let start: number;
  let resumedRecords = 0;
  const shards = options.shards ?? DEFAULTS.compactorShards;
  const compactAll = async (now: number, only: readonly TableSpec[]): Promise<TableCompaction[]> => {
    const done: TableCompaction[] = [];
    for (const table of only) {
      if (stopped()) break;
      const reports = await compactShardsLocal(table, readers.get(table)!, lake, now, { codec: options.codec, shards });
      done.push(...reports.map((report, shard) => ({ table: table.name, report, ...(shards === 1 ? {} : { shard }) })));
    }
    return done;
  };
  // Compactor invocations, as before shards: one per shard and scheduled compaction.
  const count = (compactions: readonly TableCompaction[]) => compactions.forEach(({ table }) => runs.set(table, runs.get(table)! + 1));
  try {
    for (const table of tables) if (table !== fleetTable) readers.set(table, await openTopicReader(table, options));
    const saved = await readClock(layout.clockFile);
    const resumed = saved && (await finishInterruptedMinute(layout.clockFile, saved, topic));
    if (resumed && options.start !== undefined && options.start < resumed.nextStart) {
      throw new ClockError(
        `--start ${new Date(options.start).toISOString()} is before the simulated clock of ${layout.root} (${new Date(resumed.nextStart).toISOString()}): ` +
          'the readings of those minutes are in the log already and would be counted twice. Drop --start to continue from the clock, or pass a later minute.',
      );
    }
    resumedRecords = resumed?.records ?? 0;
    produced = resumedRecords;
    producedBytes = resumed?.bytes ?? 0;
    start = options.start ?? resumed?.nextStart ?? Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - options.minutes * MINUTE_MS;
    const clockAt = async (nextStart: number) =>
      saveClock(layout.clockFile, { nextStart, highWatermarks: await highWatermarks(topic.reader), devices: options.devices, seed: options.seed });
    // Saved before the first minute too: a minute cut short is found past these high watermarks.
    await clockAt(start);
    for (let minute = 1; minute <= options.minutes && !stopped(); minute++) {
      const now = start + minute * MINUTE_MS;
      const sent = await produceMinute(fleet, topic.writer, now);
      await clockAt(now);
      minutes = minute;
      produced += sent.records;
      producedBytes += sent.bytes;
      const compactions = minute % DEFAULTS.compactorEveryMinutes === 0 ? await compactAll(now, tables) : [];
      count(compactions);
      options.onProgress?.({ minute, minutes: options.minutes, produced, compactions });
    }
    // Then each table until a run finds nothing left, so the lake holds everything produced.
    for (let busy = tables; busy.length > 0 && !stopped(); ) {
      const compactions = await compactAll(start + minutes * MINUTE_MS, busy);
      const working = compactions.filter((c) => c.report.runId !== null);
      busy = tables.filter((table) => working.some((c) => c.table === table.name));
      count(working);
      if (working.length > 0) options.onProgress?.({ minute: minutes, minutes: options.minutes, produced, compactions: working });
    }
  } finally {
    await Promise.all([...readers.values()].filter((reader) => reader !== topic.reader).map((reader) => reader.close()));
    await topic.close();
  }
  const summaries = await summarizeTables(lake, tables, runs);
  const fleetSummary = summaries.find((s) => s.table === DEMO_TABLE)!;
  return {
    dataDir: layout.root,
    start: new Date(start).toISOString(),
    end: new Date(start + minutes * MINUTE_MS).toISOString(),
    minutes,
    interrupted: minutes < options.minutes || stopped(),
    resumedRecords,
    produced,
    producedBytes,
    compactions: fleetSummary.compactions,
    lakeRows: fleetSummary.lakeRows,
    files: fleetSummary.files,
    parquetBytes: fleetSummary.parquetBytes,
    quarantined: fleetSummary.quarantined,
    tables: summaries,
  };
}

/** Every table's rows, quarantined records and data files (an Iceberg table's: its current snapshot's), counted in the lake itself. */
async function summarizeTables(local: LocalLake, tables: readonly TableSpec[], runs: ReadonlyMap<string, number>): Promise<TableSummary[]> {
  const lake = await DuckDbLake.open(local.dir, tables);
  try {
    const summaries: TableSummary[] = [];
    for (const table of tables) {
      const files = await dataFilesOf(local, table);
      const [counts] = (await lake.query(`SELECT (SELECT count(*) FROM ${table.name}) AS rows, (SELECT count(*) FROM ${table.name}_quarantine) AS quarantined`)).rows;
      summaries.push({
        table: table.name,
        lakeRows: counts!.rows as number,
        quarantined: counts!.quarantined as number,
        files: files.length,
        parquetBytes: files.reduce((sum, size) => sum + size, 0),
        compactions: runs.get(table.name)!,
      });
    }
    return summaries;
  } finally {
    lake.close();
  }
}

/** The sizes of a table's data files: a Hive table's under its prefix, an Iceberg table's in its current snapshot. */
async function dataFilesOf(lake: LocalLake, table: TableSpec): Promise<number[]> {
  if (table.format !== 'iceberg') return (await lake.store.list(curatedPrefix(table.name))).map((entry) => entry.size);
  const iceberg = lake.iceberg(table);
  const loaded = await iceberg.load();
  return loaded ? (await iceberg.dataFiles(currentSnapshot(loaded.metadata))).map((entry) => entry.file.fileSizeInBytes) : [];
}
