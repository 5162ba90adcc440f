import { describe, expect, it } from 'vitest';
import { FIXED_MARGIN_SECONDS, MEASURED_RECORDS_PER_CORE_SECOND, MIB_PER_VCPU, sustainedRate, type CompactorSizing } from '../../bench/lambda-capacity.ts';
import { DEFAULTS } from '../../lib/config.ts';

const defaults: CompactorSizing = {
  memoryMiB: DEFAULTS.compactorMemoryMiB,
  timeoutSeconds: DEFAULTS.compactorTimeoutSeconds,
  everyMinutes: DEFAULTS.compactorEveryMinutes,
  maxRecordsPerRun: DEFAULTS.maxRecordsPerRun,
  shards: DEFAULTS.compactorShards,
};

describe('compactor capacity', () => {
  it('sustains at least 20× the old ceiling of one run a tick (34,000 events/s) with the default settings, by the measured rate per core', () => {
    const oldCeiling = DEFAULTS.maxRecordsPerRun / (DEFAULTS.compactorEveryMinutes * 60);
    expect(Math.round(oldCeiling)).toBe(1_667);
    expect(sustainedRate(MEASURED_RECORDS_PER_CORE_SECOND, defaults).eventsPerSecond).toBeGreaterThanOrEqual(34_000);
    // Even at half the measured rate (another CPU, TLS to the brokers, waits on S3).
    expect(sustainedRate(MEASURED_RECORDS_PER_CORE_SECOND / 2, defaults).eventsPerSecond).toBeGreaterThanOrEqual(34_000);
  });

  it('gives a Lambda memory / 1,769 MiB of a core, at most one, and keeps one full run and a fixed margin from its timeout', () => {
    const rate = sustainedRate(100_000, { ...defaults, memoryMiB: 1_024 });
    expect(rate.cpuShare).toBeCloseTo(1_024 / MIB_PER_VCPU, 6);
    expect(rate.marginSeconds).toBeCloseTo(FIXED_MARGIN_SECONDS + DEFAULTS.maxRecordsPerRun / (100_000 * rate.cpuShare), 6);
    expect(rate.budgetFraction).toBeCloseTo((DEFAULTS.compactorTimeoutSeconds - rate.marginSeconds) / 300, 6);
    expect(rate.perShardEventsPerSecond).toBeCloseTo(100_000 * rate.cpuShare * rate.budgetFraction, 6);
    expect(sustainedRate(100_000, { ...defaults, memoryMiB: 3_538 }).cpuShare).toBe(1);
  });

  it('multiplies by the shards, and sustains nothing when the margin eats the timeout', () => {
    const one = sustainedRate(100_000, defaults);
    expect(sustainedRate(100_000, { ...defaults, shards: 4 }).eventsPerSecond).toBeCloseTo(4 * one.perShardEventsPerSecond, 6);
    expect(sustainedRate(1_000, { ...defaults, memoryMiB: 128 }).eventsPerSecond).toBe(0);
  });
});
