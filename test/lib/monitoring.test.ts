import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../lib/config.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';

const { template } = synthStack();
const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
const alarm = (metric: string) => alarms.find((a) => a.MetricName === metric);

describe('monitoring', () => {
  it('alarms on generator and compactor errors, a run near its timeout, quarantine, lag, retention gaps and dead letters', () => {
    expect(alarms).toHaveLength(7);
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(2);
    expect(alarm('Duration')).toMatchObject({ Threshold: DEFAULTS.compactorTimeoutSeconds * 1000 * 0.8, Statistic: 'Maximum' });
    expect(alarm('RecordsQuarantined')).toMatchObject({ Namespace: 'streamlake', Threshold: 1 });
    expect(alarm('ConsumerLag')).toMatchObject({ Threshold: 3 * 5 * DEFAULTS.devices });
    expect(alarm('OffsetGapRecords')).toMatchObject({ Threshold: 1 });
    expect(alarm('ApproximateNumberOfMessagesVisible')).toBeDefined();
  });

  it('watches the compactor metrics of each table by its Table dimension', () => {
    for (const metric of ['RecordsQuarantined', 'ConsumerLag', 'OffsetGapRecords']) {
      expect(alarm(metric)!.Dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: 'compactor' }, { Name: 'Table', Value: 'device_logs' }]));
    }
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
