import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../lib/config.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';

const { template } = synthStack();
const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
const alarm = (metric: string) => alarms.find((a) => a.MetricName === metric);
const quarantineAlarm = alarms.find((a) => a.MetricName === 'RecordsQuarantined' || a.Metrics?.some((m: any) => m.MetricStat?.Metric.MetricName === 'RecordsQuarantined'))!;

/** Seeded uniform numbers in [0, 1) (mulberry32), so the simulated fleet is the same every run. */
function uniform(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per compactor period: the records it read and how many of them it quarantined. */
type Period = { RecordsRead: number; RecordsQuarantined: number };

/** `periods` compactor runs of the demo fleet (devices × events per minute × minutes), each record corrupt with probability `share`. */
function fleet(periods: number, share: number, random: () => number): Period[] {
  const perRun = DEFAULTS.devices * DEFAULTS.eventsPerDevicePerMinute * DEFAULTS.compactorEveryMinutes;
  return Array.from({ length: periods }, () => {
    let quarantined = 0;
    for (let i = 0; i < perRun; i++) if (random() < share) quarantined++;
    return { RecordsRead: perRun, RecordsQuarantined: quarantined };
  });
}

/**
 * The periods in which the alarm of the template is in ALARM: its metric-math expression (the
 * subset CloudWatch and JavaScript read alike: IF, arithmetic, comparison) evaluated on each
 * period's datapoints, then CloudWatch's rule of `DatapointsToAlarm` breaching datapoints out of
 * the last `EvaluationPeriods`.
 */
function alarmingPeriods(props: Record<string, any>, series: Period[]): number[] {
  // A single-metric alarm is the expression `m` of its one metric.
  const metrics = (props.Metrics as any[] | undefined) ?? [{ Id: 'm', MetricStat: { Metric: { MetricName: props.MetricName } }, ReturnData: false }, { Expression: 'm' }];
  const stats = metrics.filter((m) => m.MetricStat);
  const { Expression } = metrics.find((m) => m.ReturnData !== false);
  expect(Expression).toMatch(/^[\w\s()+\-*/<>=.,]+$/);
  const evaluate = new Function('IF', ...stats.map((m) => m.Id), `return ${Expression};`) as (...args: unknown[]) => number;
  const IF = (condition: unknown, then: number, otherwise: number) => (condition ? then : otherwise);
  const values = series.map((period) => evaluate(IF, ...stats.map((m) => period[m.MetricStat.Metric.MetricName as keyof Period])));
  const breaches = values.map((value) => (props.ComparisonOperator === 'GreaterThanThreshold' ? value > props.Threshold : value >= props.Threshold));
  const alarming: number[] = [];
  const datapointsToAlarm = props.DatapointsToAlarm ?? props.EvaluationPeriods;
  for (let i = props.EvaluationPeriods - 1; i < breaches.length; i++) {
    if (breaches.slice(i - props.EvaluationPeriods + 1, i + 1).filter(Boolean).length >= datapointsToAlarm) alarming.push(i);
  }
  return alarming;
}

describe('monitoring', () => {
  it('alarms on generator and compactor errors, a run near its timeout, quarantine, lag, retention gaps and dead letters', () => {
    expect(alarms).toHaveLength(7);
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(2);
    expect(alarm('Duration')).toMatchObject({ Threshold: DEFAULTS.compactorTimeoutSeconds * 1000 * 0.8, Statistic: 'Maximum' });
    expect(quarantineAlarm).toBeDefined();
    expect(alarm('ConsumerLag')).toMatchObject({ Threshold: 3 * 5 * DEFAULTS.devices });
    expect(alarm('OffsetGapRecords')).toMatchObject({ Threshold: 1 });
    expect(alarm('ApproximateNumberOfMessagesVisible')).toBeDefined();
  });

  it('watches the compactor metrics of each table by its Table dimension', () => {
    const quarantineMetrics = (quarantineAlarm.Metrics as any[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
    expect(quarantineMetrics.map((m) => m.MetricName).sort()).toEqual(['RecordsQuarantined', 'RecordsRead']);
    for (const dimensions of [...quarantineMetrics.map((m) => m.Dimensions), ...['ConsumerLag', 'OffsetGapRecords'].map((metric) => alarm(metric)!.Dimensions)]) {
      expect(dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: 'compactor' }, { Name: 'Table', Value: 'device_logs' }]));
    }
  });

  describe('quarantine alarm', () => {
    // 30 days of 5-minute compactor runs of the demo fleet, which corrupts corruptShare (0.1%) of its records by design.
    const background = fleet(30 * 24 * 12, DEFAULTS.corruptShare, uniform(DEFAULTS.seed));

    it('stays quiet on a month of the demo fleet\'s own corrupt records, on which a count ≥ 1 would flap', () => {
      expect(alarmingPeriods(quarantineAlarm, background)).toEqual([]);
      // What the issue saw: about 39% of periods have a quarantined record (1 - e^-0.5).
      const withOne = background.filter((p) => p.RecordsQuarantined >= 1).length / background.length;
      expect(withOne).toBeGreaterThan(0.35);
      expect(withOne).toBeLessThan(0.43);
    });

    it('fires on a sustained burst of 20% corrupt records within its window, and not on one bad run', () => {
      const random = uniform(7);
      const burst = [...fleet(12, DEFAULTS.corruptShare, random), ...fleet(4, 0.2, random), ...fleet(12, DEFAULTS.corruptShare, random)];
      const periods = Math.ceil(DEFAULTS.quarantineAlarmMinutes / DEFAULTS.compactorEveryMinutes);
      expect(alarmingPeriods(quarantineAlarm, burst)).toEqual(Array.from({ length: 4 - periods + 1 }, (_, i) => 12 + periods - 1 + i));
      const oneBadRun = [...fleet(12, DEFAULTS.corruptShare, random), ...fleet(1, 0.5, random), ...fleet(12, DEFAULTS.corruptShare, random)];
      expect(alarmingPeriods(quarantineAlarm, oneBadRun)).toEqual([]);
    });

    it('reads nothing into a period without records, and follows its config keys', () => {
      expect(alarmingPeriods(quarantineAlarm, Array.from({ length: 6 }, () => ({ RecordsRead: 0, RecordsQuarantined: 0 })))).toEqual([]);
      const strict = resourcesOf(synthStack({ quarantineAlarmSharePercent: 0.5, quarantineAlarmMinutes: 30 }).template, 'AWS::CloudWatch::Alarm')
        .map(([, a]) => a.Properties)
        .find((a) => a.Metrics?.length)!;
      expect(strict).toMatchObject({ Threshold: 0.5, EvaluationPeriods: 6, DatapointsToAlarm: 6 });
    });
  });

  it('sends every alarm to the alarm topic, and mails it only when an address is configured', () => {
    for (const a of alarms) expect(a.AlarmActions).toHaveLength(1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    synthStack({ alarmEmail: 'ops@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('has a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});
