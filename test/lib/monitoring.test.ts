import { describe, expect, it } from 'vitest';
import { DEFAULTS, type PipelineConfig } from '../../lib/config.ts';
import { BEHIND_ALARM_PERIODS, MAX_METRICS_PER_ALARM, shardGroups } from '../../lib/operations/pipeline-monitoring.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';

type AlarmProps = Record<string, any>;

function alarmsOf(overrides: Partial<PipelineConfig> = {}) {
  const { template } = synthStack(overrides);
  return {
    template,
    alarms: resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([id, a]) => ({ id, ...a.Properties }) as AlarmProps),
    composites: resourcesOf(template, 'AWS::CloudWatch::CompositeAlarm').map(([id, a]) => ({ id, ...a.Properties }) as AlarmProps),
  };
}

/** The metrics an alarm reads: its one metric, or every MetricStat of its metric math. */
function metricsOf(alarm: AlarmProps): { MetricName: string; Dimensions: { Name: string; Value: string }[] }[] {
  return alarm.Metrics ? (alarm.Metrics as any[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric) : [{ MetricName: alarm.MetricName, Dimensions: alarm.Dimensions }];
}

const shardOf = (metric: { Dimensions: { Name: string; Value: string }[] }) => metric.Dimensions.find((d) => d.Name === 'Shard')?.Value;
const reads = (alarm: AlarmProps, metricName: string) => metricsOf(alarm).some((m) => m.MetricName === metricName);

const defaults = alarmsOf();
const quarantineAlarm = defaults.alarms.find((a) => reads(a, 'RecordsQuarantined'))!;

/** Seeded uniform numbers in [0, 1) (mulberry32), so the simulated fleet is the same every run. */
function uniform(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One schedule period's datapoints, by `<MetricName>/<Shard>`; a missing key is a shard that published nothing. */
type Period = Record<string, number>;

/**
 * `periods` compactor runs of the demo fleet (devices × events per minute × minutes), spread evenly
 * over `shards`, each record corrupt with probability `share` (or `shareOf(shard)`).
 */
function fleet(periods: number, share: number | ((shard: number) => number), random: () => number, shards = 1): Period[] {
  const perShard = Math.round((DEFAULTS.devices * DEFAULTS.eventsPerDevicePerMinute * DEFAULTS.compactorEveryMinutes) / shards);
  const shareOf = typeof share === 'number' ? () => share : share;
  return Array.from({ length: periods }, () => {
    const period: Period = {};
    for (let shard = 0; shard < shards; shard++) {
      let quarantined = 0;
      for (let i = 0; i < perShard; i++) if (random() < shareOf(shard)) quarantined++;
      Object.assign(period, { [`RecordsRead/${shard}`]: perShard, [`RecordsQuarantined/${shard}`]: quarantined });
    }
    return period;
  });
}

/**
 * The periods in which an alarm of the template is in ALARM: its metric-math expression (the
 * subset CloudWatch and JavaScript read alike: IF, FILL, arithmetic, comparison) evaluated on each
 * period's datapoints, a period without a value treated as not breaching (as the alarms say),
 * then CloudWatch's rule of `DatapointsToAlarm` breaching datapoints out of the last `EvaluationPeriods`.
 */
function alarmingPeriods(props: AlarmProps, series: Period[]): number[] {
  expect(props.TreatMissingData).toBe('notBreaching');
  // A single-metric alarm is the expression `m` of its one metric.
  const metrics = (props.Metrics as any[] | undefined) ?? [{ Id: 'm', MetricStat: { Metric: { MetricName: props.MetricName, Dimensions: props.Dimensions } }, ReturnData: false }, { Expression: 'm' }];
  const stats = metrics.filter((m) => m.MetricStat);
  expect(stats.length).toBeLessThanOrEqual(MAX_METRICS_PER_ALARM);
  const { Expression } = metrics.find((m) => m.ReturnData !== false);
  expect(Expression).toMatch(/^[\w\s()+\-*/<>=.,]+$/);
  const evaluate = new Function('IF', 'FILL', ...stats.map((m) => m.Id), `return ${Expression};`) as (...args: unknown[]) => number | undefined;
  const IF = (condition: unknown, then: number, otherwise: number) => (condition ? then : otherwise);
  const FILL = (value: number | undefined, fill: number) => value ?? fill;
  const key = (m: any) => `${m.MetricStat.Metric.MetricName}/${shardOf(m.MetricStat.Metric)}`;
  const values = series.map((period) => {
    const inputs = stats.map((m) => period[key(m)]);
    // Without FILL, a missing datapoint leaves the expression without a value.
    return Expression === 'm' && inputs[0] === undefined ? undefined : evaluate(IF, FILL, ...inputs);
  });
  const compare: Record<string, (value: number) => boolean> = {
    GreaterThanThreshold: (value) => value > props.Threshold,
    GreaterThanOrEqualToThreshold: (value) => value >= props.Threshold,
    LessThanThreshold: (value) => value < props.Threshold,
  };
  const breaches = values.map((value) => value !== undefined && !Number.isNaN(value) && compare[props.ComparisonOperator]!(value));
  const alarming: number[] = [];
  const datapointsToAlarm = props.DatapointsToAlarm ?? props.EvaluationPeriods;
  for (let i = props.EvaluationPeriods - 1; i < breaches.length; i++) {
    if (breaches.slice(i - props.EvaluationPeriods + 1, i + 1).filter(Boolean).length >= datapointsToAlarm) alarming.push(i);
  }
  return alarming;
}

describe('monitoring', () => {
  it('alarms on generator and compactor errors, a shard that stays behind, quarantine, lag, retention gaps and dead letters', () => {
    const { alarms, composites } = defaults;
    expect(alarms).toHaveLength(7);
    expect(composites).toHaveLength(0);
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(2);
    // Working to its budget, a compactor that is behind always runs near its timeout: its duration is no alarm.
    expect(alarms.some((a) => a.MetricName === 'Duration')).toBe(false);
    expect(alarms.find((a) => a.MetricName === 'CaughtUp')).toMatchObject({ Statistic: 'Maximum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: BEHIND_ALARM_PERIODS, DatapointsToAlarm: BEHIND_ALARM_PERIODS });
    expect(quarantineAlarm).toBeDefined();
    expect(alarms.find((a) => a.MetricName === 'ConsumerLag')).toMatchObject({ Threshold: 3 * 5 * DEFAULTS.devices, Statistic: 'Maximum' });
    expect(alarms.find((a) => reads(a, 'OffsetGapRecords'))).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toBeDefined();
  });

  it('keeps the logical IDs of the alarms of one compactor per table', () => {
    const ids = defaults.alarms.map((a) => a.id);
    for (const kept of ['DeviceLogsCompactorErrors', 'DeviceLogsRecordsQuarantined', 'DeviceLogsConsumerLag', 'DeviceLogsRetentionGaps']) {
      expect(ids.some((id) => new RegExp(`^Monitoring${kept}[0-9A-F]{8}$`).test(id))).toBe(true);
    }
  });

  it('watches the metrics of each shard of each table by its Table and Shard dimensions', () => {
    const compactorMetrics = defaults.alarms.flatMap(metricsOf).filter((m) => m.Dimensions.some((d) => d.Name === 'service' && d.Value === 'compactor'));
    expect(compactorMetrics.map((m) => m.MetricName).sort()).toEqual(['CaughtUp', 'ConsumerLag', 'OffsetGapRecords', 'RecordsQuarantined', 'RecordsRead']);
    for (const metric of compactorMetrics) {
      expect(metric.Dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: 'compactor' }, { Name: 'Table', Value: 'device_logs' }, { Name: 'Shard', Value: '0' }]));
      expect(metric.Dimensions).toHaveLength(3);
    }
  });

  describe('quarantine alarm', () => {
    // 30 days of 5-minute compactor runs of the demo fleet, which corrupts corruptShare (0.1%) of its records by design.
    const background = fleet(30 * 24 * 12, DEFAULTS.corruptShare, uniform(DEFAULTS.seed));

    it('stays quiet on a month of the demo fleet\'s own corrupt records, on which a count ≥ 1 would flap', () => {
      expect(alarmingPeriods(quarantineAlarm, background)).toEqual([]);
      // What the issue saw: about 39% of periods have a quarantined record (1 - e^-0.5).
      const withOne = background.filter((p) => p['RecordsQuarantined/0']! >= 1).length / background.length;
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
      expect(alarmingPeriods(quarantineAlarm, Array.from({ length: 6 }, () => ({ 'RecordsRead/0': 0, 'RecordsQuarantined/0': 0 })))).toEqual([]);
      expect(alarmingPeriods(quarantineAlarm, Array.from({ length: 6 }, () => ({})))).toEqual([]);
      const strict = alarmsOf({ quarantineAlarmSharePercent: 0.5, quarantineAlarmMinutes: 30 }).alarms.find((a) => reads(a, 'RecordsQuarantined'))!;
      expect(strict).toMatchObject({ Threshold: 0.5, EvaluationPeriods: 6, DatapointsToAlarm: 6 });
    });

    it('takes the share of the whole table over its shards: a broken producer on one shard of three fires it, the background of all three does not', () => {
      const sharded = alarmsOf({ compactorShards: 3 }).alarms.filter((a) => reads(a, 'RecordsQuarantined'));
      expect(sharded).toHaveLength(1);
      const [alarm] = sharded;
      expect(metricsOf(alarm!).map(shardOf).sort()).toEqual(['0', '0', '1', '1', '2', '2']);
      const random = uniform(11);
      expect(alarmingPeriods(alarm!, fleet(30 * 24 * 12, DEFAULTS.corruptShare, random, 3))).toEqual([]);
      // 20% of one shard's records: about 6.7% of the table's.
      const oneShardBroken = [...fleet(6, DEFAULTS.corruptShare, random, 3), ...fleet(4, (shard) => (shard === 2 ? 0.2 : DEFAULTS.corruptShare), random, 3)];
      expect(alarmingPeriods(alarm!, oneShardBroken)).toEqual([8, 9]);
      // A shard that published nothing in a period (its invocation failed) counts as no records, not as a blank share.
      const shardSilent = oneShardBroken.map((period) => Object.fromEntries(Object.entries(period).filter(([key]) => !key.endsWith('/0'))));
      expect(alarmingPeriods(alarm!, shardSilent)).toEqual([8, 9]);
    });

    it('alarms by groups of at most five shards under one composite alarm when the shards need more than ten metrics', () => {
      const { alarms, composites } = alarmsOf({ compactorShards: 6 });
      const groups = alarms.filter((a) => reads(a, 'RecordsQuarantined'));
      expect(groups.map((a) => metricsOf(a).map(shardOf).sort())).toEqual([
        ['0', '0', '1', '1', '2', '2'],
        ['3', '3', '4', '4', '5', '5'],
      ]);
      for (const group of groups) expect(group.AlarmActions).toBeUndefined();
      const [composite] = composites.filter((c) => JSON.stringify(c.AlarmRule).includes('RecordsQuarantined'));
      expect(composite!.AlarmActions).toHaveLength(1);
      expect(JSON.stringify(composite!.AlarmRule)).toMatch(/^\{"Fn::Join":\["",\["\(ALARM\(\\"",\{"Fn::GetAtt":\["MonitoringDeviceLogsRecordsQuarantinedShards0to2\w+","Arn"\]\},"\\"\) OR ALARM\(\\"",\{"Fn::GetAtt":\["MonitoringDeviceLogsRecordsQuarantinedShards3to5\w+","Arn"\]\},"\\"\)\)"\]\]\}$/);
    });
  });

  describe('a shard behind', () => {
    const behind = (overrides: Partial<PipelineConfig> = {}) => alarmsOf(overrides).alarms.filter((a) => a.MetricName === 'CaughtUp');
    const caughtUp = (shard: number, values: (number | undefined)[]): Period[] => values.map((value) => (value === undefined ? {} : { [`CaughtUp/${shard}`]: value }));

    it(`fires when a shard ends ${BEHIND_ALARM_PERIODS} invocations in a row short of the end it saw, not on a backlog drained in fewer`, () => {
      const [alarm] = behind();
      expect(alarmingPeriods(alarm!, caughtUp(0, [1, 0, 0, 1, 0, 1, 1]))).toEqual([]);
      expect(alarmingPeriods(alarm!, caughtUp(0, [1, 0, 0, 0, 0, 1, 1]))).toEqual([3, 4]);
      // A retried schedule that ran twice in a period, once caught up: the period counts as caught up (Maximum).
      expect(alarm!.Statistic).toBe('Maximum');
    });

    it('leaves a period without an invocation to the error and dead-letter alarms', () => {
      const [alarm] = behind();
      expect(alarmingPeriods(alarm!, caughtUp(0, [0, undefined, 0, undefined, 0]))).toEqual([]);
    });

    it('watches each shard on its own', () => {
      const alarms = behind({ compactorShards: 3 });
      expect(alarms.map((a) => shardOf(a as never)).sort()).toEqual(['0', '1', '2']);
      const shard1 = alarms.find((a) => shardOf(a as never) === '1')!;
      expect(alarmingPeriods(shard1, caughtUp(1, [0, 0, 0]))).toEqual([2]);
      expect(alarmingPeriods(shard1, caughtUp(2, [0, 0, 0]))).toEqual([]);
      expect(shard1.AlarmDescription).toMatch(/^Shard 1 of 3 of the device_logs compactor ended 3 invocations in a row \(15 minutes\) short of the end/);
    });
  });

  describe('lag', () => {
    it('alarms on each shard above its share of the table\'s threshold', () => {
      const alarms = alarmsOf({ compactorShards: 3 }).alarms.filter((a) => a.MetricName === 'ConsumerLag');
      expect(alarms.map((a) => [shardOf(a as never), a.Threshold, a.Statistic])).toEqual([
        ['0', (3 * 5 * DEFAULTS.devices) / 3, 'Maximum'],
        ['1', (3 * 5 * DEFAULTS.devices) / 3, 'Maximum'],
        ['2', (3 * 5 * DEFAULTS.devices) / 3, 'Maximum'],
      ]);
      expect(alarmingPeriods(alarms[2]!, [{ 'ConsumerLag/2': 499 }, { 'ConsumerLag/2': 500 }, { 'ConsumerLag/0': 5000 }])).toEqual([1]);
    });

    it('shows the total lag of each table, summed over its shards, on the dashboard', () => {
      const { template } = alarmsOf({ compactorShards: 3 });
      const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]!;
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      expect(body).toContain('Consumer lag per table, all shards (records)');
      expect(body).toContain('FILL(t0s0, 0) + FILL(t0s1, 0) + FILL(t0s2, 0)');
      for (const shard of ['0', '1', '2']) expect(body).toMatch(new RegExp(`\\\\"ConsumerLag\\\\",\\\\"Shard\\\\",\\\\"${shard}\\\\",\\\\"Table\\\\",\\\\"device_logs\\\\"`));
    });
  });

  describe('retention gaps', () => {
    it('fire on a record lost in any shard', () => {
      const [alarm] = alarmsOf({ compactorShards: 3 }).alarms.filter((a) => reads(a, 'OffsetGapRecords'));
      expect(alarmingPeriods(alarm!, [{ 'OffsetGapRecords/0': 0, 'OffsetGapRecords/1': 0 }, { 'OffsetGapRecords/2': 1 }, {}])).toEqual([1]);
    });

    it('sum at most ten shards an alarm, under a composite alarm beyond', () => {
      const { alarms, composites } = alarmsOf({ partitions: 12, compactorShards: 12 });
      const groups = alarms.filter((a) => reads(a, 'OffsetGapRecords'));
      expect(groups.map((a) => metricsOf(a).length)).toEqual([6, 6]);
      expect(composites.map((c) => c.id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['MonitoringDeviceLogsRecordsQuarantined', 'MonitoringDeviceLogsRetentionGaps']);
      for (const alarm of alarms) expect(metricsOf(alarm).length).toBeLessThanOrEqual(MAX_METRICS_PER_ALARM);
    });
  });

  it('groups shards evenly, each shard once', () => {
    for (let shards = 1; shards <= 40; shards++) {
      for (const size of [5, 10]) {
        const groups = shardGroups(shards, size);
        expect(groups.flat()).toEqual(Array.from({ length: shards }, (_, i) => i));
        expect(groups.length).toBe(Math.ceil(shards / size));
        const sizes = groups.map((g) => g.length);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(size);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('sends every alarm to the alarm topic, directly or through a composite alarm, and mails it only when an address is configured', () => {
    for (const a of defaults.alarms) expect(a.AlarmActions).toHaveLength(1);
    const sharded = alarmsOf({ compactorShards: 6 });
    for (const a of sharded.alarms) {
      const watched = sharded.composites.some((c) => JSON.stringify(c.AlarmRule).includes(`"${a.id}"`));
      expect(a.AlarmActions?.length ?? 0).toBe(watched ? 0 : 1);
    }
    for (const c of sharded.composites) expect(c.AlarmActions).toHaveLength(1);
    defaults.template.resourceCountIs('AWS::SNS::Subscription', 0);
    synthStack({ alarmEmail: 'ops@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('has a dashboard', () => {
    defaults.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});
