import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/handlers/environment.ts';

export interface PipelineMonitoringProps {
  readonly generator: lambda.Function;
  readonly compactor: lambda.Function;
  readonly deadLetterQueue: sqs.IQueue;
  /** @default DEFAULTS.compactorTimeoutSeconds */
  readonly compactorTimeoutSeconds: number;
  /** @default DEFAULTS.compactorEveryMinutes */
  readonly compactorEveryMinutes: number;
  /** Records behind the topic's end above which the lag alarm fires. @default three compactor periods of the fleet's traffic */
  readonly lagAlarmRecords: number;
  /** Subscribed to the alarm topic when set. @default none (DEFAULTS.alarmEmail '') */
  readonly alarmEmail?: string;
}

/** A metric the handlers publish as EMF. */
export function pipelineMetric(metricName: string, service: 'compactor' | 'log-generator', statistic: string, period = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service }, statistic, period });
}

/**
 * Alarms on everything that needs a person (generator or compactor errors, a compactor run near
 * its timeout, quarantined records, consumer lag, dead letters) sent to an SNS topic, and a
 * dashboard of the pipeline's flow.
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

    this.alarm('GeneratorErrors', props.generator.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 1, 'The log-generator failed: see its logs.');
    this.alarm('CompactorErrors', props.compactor.metricErrors({ period, statistic: 'Sum' }), 1, 'A compactor run failed; the next run finishes its claim. See its logs.');
    this.alarm(
      'CompactorNearTimeout',
      props.compactor.metricDuration({ period, statistic: 'Maximum' }),
      props.compactorTimeoutSeconds * 1000 * 0.8,
      'A compactor run used over 80% of its timeout: raise compactorMemoryMiB or lower maxRecordsPerRun.',
    );
    this.alarm('RecordsQuarantined', pipelineMetric('RecordsQuarantined', 'compactor', 'Sum', period), 1, 'Records failed validation: query device_logs_quarantine for their reasons.');
    this.alarm('ConsumerLag', pipelineMetric('ConsumerLag', 'compactor', 'Maximum', period), props.lagAlarmRecords, 'The compactor is falling behind the topic.');
    this.alarm('RetentionGaps', pipelineMetric('OffsetGapRecords', 'compactor', 'Sum', period), 1, 'Kafka retention deleted records before they were compacted: they are lost to the lake.');
    this.alarm('DeadLetters', props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), 1, 'Failed invocations are waiting in the dead-letter queue.');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Records produced / compacted / quarantined', left: [pipelineMetric('RecordsProduced', 'log-generator', 'Sum'), pipelineMetric('RowsWritten', 'compactor', 'Sum'), pipelineMetric('RecordsQuarantined', 'compactor', 'Sum')], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Consumer lag (records)', left: [pipelineMetric('ConsumerLag', 'compactor', 'Maximum')], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Errors', left: [props.generator.metricErrors(), props.compactor.metricErrors()], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Compactor duration (ms)', left: [props.compactor.metricDuration({ statistic: 'Maximum' })], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Parquet bytes written', left: [pipelineMetric('ParquetBytes', 'compactor', 'Sum')], width: 8 }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }
}
