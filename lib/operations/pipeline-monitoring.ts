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
  /** Records behind the end of the table's topic above which its lag alarm fires. */
  readonly lagAlarmRecords: number;
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

/** A metric a table's compactor publishes as EMF, with the `Table` dimension. */
export function tableMetric(table: string, metricName: string, statistic: string, period = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: 'compactor', Table: table }, statistic, period });
}

/**
 * Percent of a table's records read that its compactor quarantined in each `period`: 0 when it read
 * nothing. The alarm's math: a count of quarantined records says nothing without the traffic
 * around it (the demo fleet corrupts 0.1% of its records on purpose).
 */
export function quarantinedShare(table: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(read > 0, 100 * quarantined / read, 0)',
    usingMetrics: { quarantined: tableMetric(table, 'RecordsQuarantined', 'Sum', period), read: tableMetric(table, 'RecordsRead', 'Sum', period) },
    period,
    label: `${table}: % of records quarantined`,
  });
}

/**
 * Alarms on everything that needs a person — per table: compactor errors, a run near its timeout,
 * a sustained share of quarantined records, consumer lag, records lost to retention; per Iceberg
 * table: optimizer errors and a run near its timeout; and generator errors and dead
 * letters — sent to an SNS topic, and a dashboard of every table's flow.
 */
export class PipelineMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: 'streamlake alarms', enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const period = Duration.minutes(props.compactorEveryMinutes);

    if (props.generator) this.alarm('GeneratorErrors', props.generator.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 1, 'The log-generator failed: see its logs.');
    for (const { table, fn, lagAlarmRecords } of props.compactors) {
      const id = tableConstructId(table);
      this.alarm(`${id}CompactorErrors`, fn.metricErrors({ period, statistic: 'Sum' }), 1, `A ${table} compactor run failed; the next run finishes its claim. See its logs.`);
      this.alarm(
        `${id}CompactorNearTimeout`,
        fn.metricDuration({ period, statistic: 'Maximum' }),
        props.compactorTimeoutSeconds * 1000 * 0.8,
        `A ${table} compactor run used over 80% of its timeout: raise compactorMemoryMiB or lower maxRecordsPerRun.`,
      );
      this.alarm(
        `${id}RecordsQuarantined`,
        quarantinedShare(table, period),
        props.quarantineAlarmSharePercent,
        `Over ${props.quarantineAlarmSharePercent}% of the records of ${table} failed validation for ${props.quarantineAlarmMinutes} minutes: a producer or the declaration is broken. Query ${table}_quarantine for their reasons.`,
        // Every period of the window: one bad batch is not yet trouble.
        Math.ceil(props.quarantineAlarmMinutes / props.compactorEveryMinutes),
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      );
      this.alarm(`${id}ConsumerLag`, tableMetric(table, 'ConsumerLag', 'Maximum', period), lagAlarmRecords, `The ${table} compactor is falling behind its topic.`);
      this.alarm(`${id}RetentionGaps`, tableMetric(table, 'OffsetGapRecords', 'Sum', period), 1, `Kafka retention deleted records of ${table} before they were compacted: they are lost to the lake.`);
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
    const perTable = (metricName: string, statistic: string) => props.compactors.map(({ table }) => tableMetric(table, metricName, statistic).with({ label: table }));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Rows written per table', left: perTable('RowsWritten', 'Sum'), width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Records quarantined per table', left: perTable('RecordsQuarantined', 'Sum'), width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Consumer lag per table (records)', left: perTable('ConsumerLag', 'Maximum'), width: 8 }),
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
          new cloudwatch.GraphWidget({ title: 'Unknown fields kept in _extra', left: perTable('UnknownFields', 'Maximum'), width: 6 }),
        ],
        ...(props.generator ? [[new cloudwatch.GraphWidget({ title: 'Records produced by the log-generator', left: [generatorMetric('RecordsProduced', 'Sum')], width: 24 })]] : []),
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
    evaluationPeriods = 1,
    comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }
}
