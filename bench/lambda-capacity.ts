/**
 * The arithmetic from a measured compaction rate per core to the events/s a deployed compactor
 * shard sustains: the Lambda's CPU share at its memory, the part of each schedule period its
 * invocation may spend compacting (working to its budget), and the shards multiplying it.
 */

/** Memory at which a Lambda function gets one full vCPU (AWS Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"). */
export const MIB_PER_VCPU = 1_769;

/**
 * Seconds an invocation keeps back from its timeout besides its last run. The handler starts a
 * run only while more than 1.5 × a full run's expected time + 10 s is left (`BUDGET_DEFAULTS` in
 * lambdas/core/compaction-loop.ts), so its last run ends with between 0.5 and 1.5 runs + 10 s
 * left: one run + 10 s unused, on average.
 */
export const FIXED_MARGIN_SECONDS = 10;

/**
 * Records/s per core of one compactor shard through a real broker, from the latest
 * `npm run bench -- --capacity` (BENCHMARKS.md, Capacity): what the README's capacity table and
 * its test are computed from.
 */
export const MEASURED_RECORDS_PER_CORE_SECOND = 379_696;

/** A compactor deployment, as the arithmetic needs it. */
export interface CompactorSizing {
  /** Lambda memory, MiB (`compactorMemoryMiB`). */
  readonly memoryMiB: number;
  /** Lambda timeout, seconds (`compactorTimeoutSeconds`). */
  readonly timeoutSeconds: number;
  /** Schedule period, minutes (`compactorEveryMinutes`). */
  readonly everyMinutes: number;
  /** Most records of one run (`maxRecordsPerRun`): the budget keeps one such run's time as its margin. */
  readonly maxRecordsPerRun: number;
  /** Shards (`compactorShards`). */
  readonly shards: number;
}

/** What one shard, and the table, sustain with `sizing` at `recordsPerCoreSecond`. */
export interface SustainedRate {
  /** Share of one vCPU the function gets: memory / 1,769 MiB, at most 1 (the compactor runs on one thread). */
  readonly cpuShare: number;
  /** Records/s one invocation compacts: the measured rate per core × its CPU share. */
  readonly invocationRecordsPerSecond: number;
  /** Seconds left unused of the timeout: {@link FIXED_MARGIN_SECONDS} plus one full run at this rate (the handler's margin, sized from its longest run). */
  readonly marginSeconds: number;
  /** (timeout − margin) / period: the part of each period spent compacting when the shard is behind. */
  readonly budgetFraction: number;
  /** Events/s one shard keeps up with, indefinitely. */
  readonly perShardEventsPerSecond: number;
  /** × shards. */
  readonly eventsPerSecond: number;
}

export function sustainedRate(recordsPerCoreSecond: number, sizing: CompactorSizing): SustainedRate {
  const cpuShare = Math.min(1, sizing.memoryMiB / MIB_PER_VCPU);
  const invocationRecordsPerSecond = recordsPerCoreSecond * cpuShare;
  const marginSeconds = FIXED_MARGIN_SECONDS + sizing.maxRecordsPerRun / invocationRecordsPerSecond;
  const budgetFraction = Math.max(0, sizing.timeoutSeconds - marginSeconds) / (sizing.everyMinutes * 60);
  const perShardEventsPerSecond = invocationRecordsPerSecond * budgetFraction;
  return { cpuShare, invocationRecordsPerSecond, marginSeconds, budgetFraction, perShardEventsPerSecond, eventsPerSecond: perShardEventsPerSecond * sizing.shards };
}

/** The arithmetic of {@link sustainedRate} in words and numbers, one line. */
export function describeSustainedRate(recordsPerCoreSecond: number, sizing: CompactorSizing): string {
  const rate = sustainedRate(recordsPerCoreSecond, sizing);
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  return (
    `${sizing.memoryMiB} MiB, timeout ${sizing.timeoutSeconds} s, every ${sizing.everyMinutes} min: ` +
    `${n(recordsPerCoreSecond)} records/s/core × ${rate.cpuShare.toFixed(3)} CPU (${sizing.memoryMiB}/${MIB_PER_VCPU}${sizing.memoryMiB > MIB_PER_VCPU ? ', capped at 1' : ''}) = ${n(rate.invocationRecordsPerSecond)} records/s; ` +
    `× (${sizing.timeoutSeconds} s − ${rate.marginSeconds.toFixed(1)} s margin) / ${sizing.everyMinutes * 60} s = ${rate.budgetFraction.toFixed(3)} ` +
    `→ ${n(rate.perShardEventsPerSecond)} events/s per shard` +
    (sizing.shards > 1 ? ` × ${sizing.shards} shards = ${n(rate.eventsPerSecond)} events/s` : '')
  );
}
