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
  /** A run starts only when the time left exceeds this many times the longest run so far, plus the floor. @default {@link BUDGET_DEFAULTS.runFactor} */
  readonly runFactor?: number;
}

export const BUDGET_DEFAULTS = { floorMs: 10_000, runFactor: 1.5 } as const;

/** Why an invocation stopped compacting. */
export type StopReason = 'caught-up' | 'budget' | 'handed-over';

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
 * Compacts to a time budget: successive complete runs (claim → files → commit, each at most
 * `maxRecordsPerRun` records, so memory stays bounded) until the shard has caught up to the high
 * watermarks it saw at the start, or the time left is below {@link CompactionBudget.runFactor}
 * times the longest run so far plus {@link CompactionBudget.floorMs}. The first run always starts
 * (the Lambda's timeout is sized for at least one); only it may take partitions over from another
 * shard count, and a later run that finds them taken over ends the invocation quietly.
 */
export async function compactToBudget(deps: CompactorDeps, options: CompactorOptions, budget: CompactionBudget): Promise<BudgetedCompaction> {
  const floor = budget.floorMs ?? BUDGET_DEFAULTS.floorMs;
  const factor = budget.runFactor ?? BUDGET_DEFAULTS.runFactor;
  const started = budget.remainingMs();
  const targets = await shardTopic(deps.topic, options.shard ?? SINGLE_SHARD).offsets();
  const reports: CompactionReport[] = [];
  let longest = 0;
  let stoppedBy: StopReason = 'budget';
  for (;;) {
    const before = budget.remainingMs();
    let report: CompactionReport;
    try {
      report = await compact(deps, { ...options, takeOver: reports.length === 0 && options.takeOver !== false });
    } catch (error) {
      if (!(error instanceof ShardLayoutChangedError) || reports.length === 0) throw error;
      stoppedBy = 'handed-over';
      break;
    }
    longest = Math.max(longest, before - budget.remainingMs());
    reports.push(report);
    if (report.runId === null || targets.every((p) => (report.offsets[p.partition] ?? 0) >= p.highWatermark)) {
      stoppedBy = 'caught-up';
      break;
    }
    if (budget.remainingMs() <= factor * longest + floor) break;
  }
  return { ...sum(reports), runs: reports.filter((r) => r.runId !== null).length, caughtUp: stoppedBy === 'caught-up', stoppedBy, durationMs: started - budget.remainingMs(), longestRunMs: longest };
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
