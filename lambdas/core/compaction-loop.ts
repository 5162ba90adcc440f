import type { QuarantineReason } from './decode.ts';
import { compact, type CompactionReport, type CompactorDeps, type CompactorOptions } from './compactor.ts';
import { shardTopic, ShardLayoutChangedError, SINGLE_SHARD } from './shards.ts';

/**
 * How long an invocation may keep compacting. Durations are measured on `remainingMs` itself (the
 * Lambda's `context.getRemainingTimeInMillis()`), so the core needs no clock of its own.
 */
export interface CompactionBudget {
  /** Milliseconds the invocation has left. */
  readonly remainingMs: () => number;
  /**
   * Kept back in any case, for the last run's commit to land and the metrics to be published.
   * @default {@link BUDGET_DEFAULTS.floorMs}
   */
  readonly floorMs?: number;
  /**
   * A run starts only when the time left exceeds this many times the next run's expected duration
   * (the runs' time per record so far times `maxRecordsPerRun`, at least the longest run), plus the
   * floor. @default {@link BUDGET_DEFAULTS.runFactor}
   */
  readonly runFactor?: number;
}

export const BUDGET_DEFAULTS = { floorMs: 10_000, runFactor: 1.5 } as const;

/** Why an invocation stopped compacting: `failed` when a run threw after earlier runs committed. */
export type StopReason = 'caught-up' | 'budget' | 'handed-over' | 'failed';

/**
 * What an invocation did over its runs: the figures summed (lag as of its last run), the last
 * run's sequence and id, and how it ended.
 */
export interface BudgetedCompaction extends CompactionReport {
  /** Runs this invocation committed (its own claims, and claims of others it finished). */
  readonly runs: number;
  /** True when it reached the high watermarks it saw at its start (or found nothing to do). */
  readonly caughtUp: boolean;
  readonly stoppedBy: StopReason;
  /** Milliseconds from its start to its end, and of its longest run. */
  readonly durationMs: number;
  readonly longestRunMs: number;
}

/**
 * How an invocation's runs ended: as planned, or with an error. A run that fails leaves the runs
 * before it committed; `committed` says what they did (absent when none did, e.g. the first failed).
 */
export type CompactionOutcome =
  | { readonly ok: true; readonly compaction: BudgetedCompaction }
  | { readonly ok: false; readonly error: unknown; readonly committed?: BudgetedCompaction };

/**
 * Compacts to a time budget: successive complete runs (claim → files → commit, each at most
 * `maxRecordsPerRun` records, so memory stays bounded) until the shard has caught up to the high
 * watermarks it saw at the start, or the time left is below {@link CompactionBudget.runFactor}
 * times the next run's expected duration plus {@link CompactionBudget.floorMs}. The first run always
 * starts (the Lambda's timeout is sized for at least one); only it may take partitions over from
 * another shard count, and a later run that finds them taken over ends the invocation quietly.
 * Throws what a run throws; {@link compactToBudgetSettled} also tells what the runs before it did.
 */
export async function compactToBudget(deps: CompactorDeps, options: CompactorOptions, budget: CompactionBudget): Promise<BudgetedCompaction> {
  const outcome = await compactToBudgetSettled(deps, options, budget);
  if (!outcome.ok) throw outcome.error;
  return outcome.compaction;
}

/** {@link compactToBudget}, resolving to its error, if any, with what the runs committed before it did. */
export async function compactToBudgetSettled(deps: CompactorDeps, options: CompactorOptions, budget: CompactionBudget): Promise<CompactionOutcome> {
  const started = budget.remainingMs();
  const runs: TimedRun[] = [];
  const budgeted = (stoppedBy: StopReason) => summarize(runs, stoppedBy, started - budget.remainingMs());
  try {
    return { ok: true, compaction: budgeted(await runToBudget(deps, options, budget, runs)) };
  } catch (error) {
    return { ok: false, error, ...(runs.length === 0 ? {} : { committed: budgeted('failed') }) };
  }
}

/** A completed run (committed, or finding nothing to do) and the milliseconds it took. */
interface TimedRun {
  readonly report: CompactionReport;
  readonly ms: number;
}

/** Performs the runs, adding each completed one to `runs` (so the caller has them if a later one throws). */
async function runToBudget(deps: CompactorDeps, options: CompactorOptions, budget: CompactionBudget, runs: TimedRun[]): Promise<StopReason> {
  const floor = budget.floorMs ?? BUDGET_DEFAULTS.floorMs;
  const factor = budget.runFactor ?? BUDGET_DEFAULTS.runFactor;
  const targets = await shardTopic(deps.topic, options.shard ?? SINGLE_SHARD).offsets();
  for (;;) {
    const before = budget.remainingMs();
    let report: CompactionReport;
    try {
      report = await compact(deps, { ...options, takeOver: runs.length === 0 && options.takeOver !== false });
    } catch (error) {
      if (!(error instanceof ShardLayoutChangedError) || runs.length === 0) throw error;
      return 'handed-over';
    }
    runs.push({ report, ms: before - budget.remainingMs() });
    if (report.runId === null || targets.every((p) => (report.offsets[p.partition] ?? 0) >= p.highWatermark)) return 'caught-up';
    if (budget.remainingMs() <= factor * expectedRunMs(runs, options.maxRecordsPerRun) + floor) return 'budget';
  }
}

/**
 * How long the next run may take. It may read `maxRecordsPerRun` records however few the runs so
 * far read (a resumed claim of a few records), so the estimate is their time per record times that,
 * and never less than the longest run. It errs long: a short run's fixed costs (claim, commits)
 * count as per-record time, so after a lone short run the invocation may stop early (safe: the
 * next invocation's first run always starts). Not scaled to the lag left to the targets: a run
 * reads to the high watermarks it sees at its start, which may be past them.
 */
function expectedRunMs(runs: readonly TimedRun[], maxRecordsPerRun: number): number {
  const longest = longestMs(runs);
  const records = runs.reduce((sum, run) => sum + run.report.recordsRead, 0);
  if (records === 0) return longest;
  return Math.max(longest, (runs.reduce((sum, run) => sum + run.ms, 0) / records) * maxRecordsPerRun);
}

function longestMs(runs: readonly TimedRun[]): number {
  return Math.max(0, ...runs.map((run) => run.ms));
}

function summarize(runs: readonly TimedRun[], stoppedBy: StopReason, durationMs: number): BudgetedCompaction {
  const reports = runs.map((run) => run.report);
  return { ...sum(reports), runs: reports.filter((r) => r.runId !== null).length, caughtUp: stoppedBy === 'caught-up', stoppedBy, durationMs, longestRunMs: longestMs(runs) };
}

function sum(reports: readonly CompactionReport[]): CompactionReport {
  const last = reports.at(-1)!;
  const working = reports.filter((r) => r.runId !== null);
  const lastWorking = working.at(-1);
  const reasons: Partial<Record<QuarantineReason, number>> = {};
  for (const r of working) for (const [reason, n] of Object.entries(r.quarantineReasons) as [QuarantineReason, number][]) reasons[reason] = (reasons[reason] ?? 0) + n;
  const total = (pick: (r: CompactionReport) => number) => working.reduce((s, r) => s + pick(r), 0);
  return {
    sequence: lastWorking?.sequence ?? 0, runId: lastWorking?.runId ?? null, resumed: working.some((r) => r.resumed), joined: working.some((r) => r.joined),
    recordsRead: total((r) => r.recordsRead), rowsWritten: total((r) => r.rowsWritten), quarantined: total((r) => r.quarantined), quarantineReasons: reasons,
    files: working.flatMap((r) => r.files), quarantineFiles: working.flatMap((r) => r.quarantineFiles),
    inputBytes: total((r) => r.inputBytes), parquetBytes: total((r) => r.parquetBytes), gaps: working.flatMap((r) => r.gaps),
    unknownFields: [...new Set(working.flatMap((r) => r.unknownFields))].sort(), lag: last.lag, offsets: last.offsets,
  };
}
