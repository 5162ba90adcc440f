import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/handlers/environment.ts';
import { tableConstructId } from '../tables.ts';

/** A table's compactor, as monitoring sees it. */
export interface MonitoredCompactor {
  /** The table it writes: the `Table` dimension of its metrics. */
  readonly table: string;
  /** Its function. */
  readonly fn: lambda.IFunction;
  /** Records behind the end of the table's topic above which its lag alarm fires; each shard alarms above its share, this / `shards`. */
  readonly lagAlarmRecords: number;
  /** Its shards (`compactorShards`): the values of the `Shard` dimension are "0" to String(shards - 1). */
  readonly shards: number;
}

/** An Iceberg table's optimizer, as monitoring sees it. */
export interface MonitoredOptimizer {
  /** The table it maintains. */
  readonly table: string;
  /** Its function. */
  readonly fn: lambda.IFunction;
}

export interface PipelineMonitoringProps {
  /** The demo fleet's producer. @default none: no generator alarm */
  readonly generator?: lambda.IFunction;
  /** Every table's compactor. Required. */
  readonly compactors: readonly MonitoredCompactor[];
  /** Every Iceberg table's optimizer. @default none */
  readonly optimizers?: readonly MonitoredOptimizer[];
  /** @default DEFAULTS.optimizerTimeoutSeconds */
  readonly optimizerTimeoutSeconds: number;
  /** @default DEFAULTS.optimizeEveryMinutes */
  readonly optimizeEveryMinutes: number;
  /** The functions' dead-letter queue. Required. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default DEFAULTS.compactorTimeoutSeconds */
  readonly compactorTimeoutSeconds: number;
  /** @default DEFAULTS.compactorEveryMinutes */
  readonly compactorEveryMinutes: number;
  /** Share of a table's records read, percent, above which its quarantine alarm fires. @default DEFAULTS.quarantineAlarmSharePercent (1) */
  readonly quarantineAlarmSharePercent: number;
  /** Minutes the share must stay above it. @default DEFAULTS.quarantineAlarmMinutes (15) */
  readonly quarantineAlarmMinutes: number;
  /** Subscribed to the alarm topic when set. @default none (DEFAULTS.alarmEmail '') */
  readonly alarmEmail?: string;
}

/** A metric the log-generator publishes as EMF. */
export function generatorMetric(metricName: string, statistic: string, period = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: 'log-generator' }, statistic, period });
}

/** A metric one shard of a table's compactor publishes as EMF, with the `Table` and `Shard` dimensions. */
export function shardMetric(table: string, shard: number, metricName: string, statistic: string, period = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: 'compactor', Table: table, Shard: String(shard) }, statistic, period });
}

/** Most metrics one CloudWatch alarm may read (a hard limit of metric-math alarms). */
export const MAX_METRICS_PER_ALARM = 10;

/**
 * The shards `0 … shards - 1` in consecutive groups of at most `size`, as even as can be: the
 * shards one alarm can sum when each shard brings `size` ≤ 10 / metrics-per-shard metrics.
 */
export function shardGroups(shards: number, size: number): number[][] {
  const count = Math.ceil(shards / size);
  return Array.from({ length: count }, (_, g) => {
    const [from, to] = [Math.floor((g * shards) / count), Math.floor(((g + 1) * shards) / count)];
    return Array.from({ length: to - from }, (_, i) => from + i);
  });
}

/**
 * The sum over `shards` of one metric of a table, as metric math: `FILL(x0, 0) + FILL(x1, 0) + …`,
 * so a shard that published nothing in a period counts 0 instead of blanking the sum.
 */
export function shardSum(table: string, shards: readonly number[], metricName: string, statistic: string, period: Duration, prefix: string, label?: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: shards.map((shard) => `FILL(${prefix}${shard}, 0)`).join(' + '),
    usingMetrics: Object.fromEntries(shards.map((shard) => [`${prefix}${shard}`, shardMetric(table, shard, metricName, statistic, period)])),
    period,
    label,
  });
}

/**
 * Percent of the records of `shards` of a table that its compactor quarantined in each `period`: 0
 * when they read nothing. The alarm's math: a count of quarantined records says nothing without
 * the traffic around it (the demo fleet corrupts 0.1% of its records on purpose).
 */
export function quarantinedShare(table: string, shards: readonly number[], period: Duration): cloudwatch.MathExpression {
  const [quarantined, read] = [shards.map((shard) => `FILL(q${shard}, 0)`).join(' + '), shards.map((shard) => `FILL(r${shard}, 0)`).join(' + ')];
  return new cloudwatch.MathExpression({
    expression: `IF((${read}) > 0, 100 * (${quarantined}) / (${read}), 0)`,
    usingMetrics: Object.fromEntries(
      shards.flatMap((shard) => [
        [`q${shard}`, shardMetric(table, shard, 'RecordsQuarantined', 'Sum', period)],
        [`r${shard}`, shardMetric(table, shard, 'RecordsRead', 'Sum', period)],
      ]),
    ),
    period,
    label: `${table}: % of records quarantined`,
  });
}

/** Consecutive schedule periods a shard may end without catching up before its alarm fires: a burst it drains in two is no trouble. */
export const BEHIND_ALARM_PERIODS = 3;

/**
 * Alarms on everything that needs a person — per table: compactor errors, a sustained share of
 * quarantined records and records lost to retention (summed over its shards); per shard: a
 * compactor that ends {@link BEHIND_ALARM_PERIODS} invocations in a row without catching up (it
 * works to its time budget, so a shard that is behind always runs to it: the time taken says
 * nothing, catching up does), and consumer lag above the shard's share; per Iceberg table:
 * optimizer errors and a run near its timeout; and generator errors and dead letters — sent to an
 * SNS topic, and a dashboard of every table's flow with its total lag.
 */
export class PipelineMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  /** Every alarm, those that notify the topic themselves and those a composite alarm watches. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Composite alarms over groups of shards, when a table has more shards than one alarm can sum. */
  readonly compositeAlarms: cloudwatch.CompositeAlarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly notifying = new Set<cloudwatch.Alarm>();

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: 'streamlake alarms', enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const period = Duration.minutes(props.compactorEveryMinutes);

    if (props.generator) this.alarm('GeneratorErrors', props.generator.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 1, 'The log-generator failed: see its logs.');
    for (const { table, fn, lagAlarmRecords, shards } of props.compactors) {
      const id = tableConstructId(table);
      const all = Array.from({ length: shards }, (_, shard) => shard);
      this.alarm(`${id}CompactorErrors`, fn.metricErrors({ period, statistic: 'Sum' }), 1, `A ${table} compactor invocation failed; the next one finishes its claim. See its logs.`);
      // Two metrics a shard: at most five shards a sum; more shards alarm by group, under one composite alarm.
      this.alarmOverShards(
        `${id}RecordsQuarantined`,
        shardGroups(shards, MAX_METRICS_PER_ALARM / 2),
        (group) => quarantinedShare(table, group, period),
        props.quarantineAlarmSharePercent,
        `Over ${props.quarantineAlarmSharePercent}% of the records of ${table} failed validation for ${props.quarantineAlarmMinutes} minutes: a producer or the declaration is broken. Query ${table}_quarantine for their reasons.`,
        // Every period of the window: one bad batch is not yet trouble.
        Math.ceil(props.quarantineAlarmMinutes / props.compactorEveryMinutes),
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      );
      this.alarmOverShards(
        `${id}RetentionGaps`,
        shardGroups(shards, MAX_METRICS_PER_ALARM),
        (group) => shardSum(table, group, 'OffsetGapRecords', 'Sum', period, 'g'),
        1,
        `Kafka retention deleted records of ${table} before they were compacted: they are lost to the lake.`,
      );
      const shardLagRecords = Math.ceil(lagAlarmRecords / shards);
      for (const shard of all) {
        // Shard 0 of one keeps the IDs of the alarms of before shards.
        const shardId = shards === 1 ? id : `${id}Shard${shard}`;
        const which = shards === 1 ? `The ${table} compactor` : `Shard ${shard} of ${shards} of the ${table} compactor`;
        this.alarm(
          `${shardId}CompactorBehind`,
          shardMetric(table, shard, 'CaughtUp', 'Maximum', period),
          1,
          `${which} ended ${BEHIND_ALARM_PERIODS} invocations in a row (${BEHIND_ALARM_PERIODS * props.compactorEveryMinutes} minutes) short of the end of its partitions, working to its time budget: ` +
            'its topic grows faster than it compacts. Raise compactorMemoryMiB (CPU grows with it up to 1,769 MiB), then compactorShards (up to partitions). README, Capacity.',
          BEHIND_ALARM_PERIODS,
          cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        );
        this.alarm(`${shardId}ConsumerLag`, shardMetric(table, shard, 'ConsumerLag', 'Maximum', period), shardLagRecords, `${which} is ${shardLagRecords} or more records behind its partitions.`);
      }
    }
    const optimizers = props.optimizers ?? [];
    for (const { table, fn } of optimizers) {
      const id = tableConstructId(table);
      const every = Duration.minutes(props.optimizeEveryMinutes);
      this.alarm(`${id}OptimizerErrors`, fn.metricErrors({ period: every, statistic: 'Sum' }), 1, `A ${table} optimizer run failed: its small files wait for the next run, and so does the removal of expired files. See its logs.`);
      this.alarm(
        `${id}OptimizerNearTimeout`,
        fn.metricDuration({ period: every, statistic: 'Maximum' }),
        props.optimizerTimeoutSeconds * 1000 * 0.8,
        `A ${table} optimizer run used over 80% of its timeout: raise optimizerMemoryMiB, or run it more often (optimizeEveryMinutes) so each run has less to merge.`,
      );
    }
    this.alarm('DeadLetters', props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), 1, 'Failed invocations are waiting in the dead-letter queue.');

    // Labels only on the dashboard: an alarm on a labelled metric would become a metric-math alarm.
    const perTable = (metricName: string, statistic: string) =>
      // Metric IDs unique in a graph: `t<table>s<shard>`.
      props.compactors.map(({ table, shards }, t) => shardSum(table, Array.from({ length: shards }, (_, shard) => shard), metricName, statistic, Duration.minutes(5), `t${t}s`, table));
    const perShard = (metricName: string, statistic: string) =>
      props.compactors.flatMap(({ table, shards }) => Array.from({ length: shards }, (_, shard) => shardMetric(table, shard, metricName, statistic).with({ label: shards === 1 ? table : `${table} shard ${shard}` })));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Rows written per table', left: perTable('RowsWritten', 'Sum'), width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Records quarantined per table', left: perTable('RecordsQuarantined', 'Sum'), width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Consumer lag per table, all shards (records)', left: perTable('ConsumerLag', 'Maximum'), width: 8 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Consumer lag per shard (records)', left: perShard('ConsumerLag', 'Maximum'), width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Caught up per shard (1: reached the end it saw at its start)', left: perShard('CaughtUp', 'Minimum'), leftYAxis: { min: 0, max: 1 }, width: 8 }),
          new cloudwatch.GraphWidget({
            title: 'Time compacting per invocation, per shard (ms)',
            left: perShard('InvocationDuration', 'Maximum'),
            leftAnnotations: [{ value: props.compactorTimeoutSeconds * 1000, label: 'timeout' }],
            right: perShard('Runs', 'Maximum'),
            rightYAxis: { label: 'runs', min: 0 },
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Errors',
            left: [
              ...(props.generator ? [props.generator.metricErrors({ label: 'log-generator' })] : []),
              ...props.compactors.map(({ table, fn }) => fn.metricErrors({ label: table })),
              ...optimizers.map(({ table, fn }) => fn.metricErrors({ label: `${table} optimizer` })),
            ],
            width: 6,
          }),
          new cloudwatch.GraphWidget({ title: 'Compactor duration (ms)', left: props.compactors.map(({ table, fn }) => fn.metricDuration({ statistic: 'Maximum', label: table })), width: 6 }),
          new cloudwatch.GraphWidget({ title: 'Parquet bytes written', left: perTable('ParquetBytes', 'Sum'), width: 6 }),
          new cloudwatch.GraphWidget({ title: 'Unknown fields kept in _extra', left: perShard('UnknownFields', 'Maximum'), width: 6 }),
        ],
        ...(props.generator ? [[new cloudwatch.GraphWidget({ title: 'Records produced by the log-generator', left: [generatorMetric('RecordsProduced', 'Sum')], width: 24 })]] : []),
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms.filter((a) => this.notifying.has(a)), ...this.compositeAlarms], width: 24 })],
      ],
    });
  }

  /**
   * An alarm on `metric` of each group of shards: one alarm that notifies when there is one group;
   * otherwise one alarm per group (`<id>Shards<first>to<last>`, notifying nobody) under a composite
   * alarm `id` that notifies when any of them is in ALARM.
   */
  private alarmOverShards(
    id: string,
    groups: number[][],
    metric: (shards: number[]) => cloudwatch.IMetric,
    threshold: number,
    description: string,
    evaluationPeriods = 1,
    comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  ): void {
    if (groups.length === 1) return void this.alarm(id, metric(groups[0]!), threshold, description, evaluationPeriods, comparisonOperator);
    const members = groups.map((group) =>
      this.alarm(`${id}Shards${group[0]}to${group.at(-1)}`, metric(group), threshold, `${description} (shards ${group[0]} to ${group.at(-1)})`, evaluationPeriods, comparisonOperator, false),
    );
    const composite = new cloudwatch.CompositeAlarm(this, id, {
      alarmRule: cloudwatch.AlarmRule.anyOf(...members.map((member) => cloudwatch.AlarmRule.fromAlarm(member, cloudwatch.AlarmState.ALARM))),
      alarmDescription: description,
    });
    composite.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    this.compositeAlarms.push(composite);
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
    evaluationPeriods = 1,
    comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    notify = true,
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (notify) {
      alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      this.notifying.add(alarm);
    }
    this.alarms.push(alarm);
    return alarm;
  }
}
