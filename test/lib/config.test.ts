import { describe, expect, it } from 'vitest';
import { OPTIMIZE_DEFAULTS } from '../../lambdas/adapters/iceberg-maintenance.ts';
import { ConfigError, configFromContext, DEFAULTS, validateConfig } from '../../lib/config.ts';

const context = (values: Record<string, unknown>) => (key: string) => values[key];

describe('configFromContext', () => {
  it('is DEFAULTS when no context is given', () => {
    expect(configFromContext(context({}))).toEqual(DEFAULTS);
  });

  it('builds the stack from tables/ unless -c tablesDir names another directory', () => {
    expect(DEFAULTS.tablesDir).toBe('tables');
    expect(configFromContext(context({ tablesDir: 'test/fixtures/tables-three' })).tablesDir).toBe('test/fixtures/tables-three');
  });

  it('converts `-c key=value` strings to the type of each default', () => {
    const config = configFromContext(context({ partitions: '12', tracing: 'true', stage: 'dev', lateShare: '0.1', alarmEmail: 'ops@example.com' }));
    expect(config).toMatchObject({ partitions: 12, tracing: true, stage: 'dev', lateShare: 0.1, alarmEmail: 'ops@example.com' });
  });

  it('takes JSON values from cdk.json as they are', () => {
    expect(configFromContext(context({ partitions: 8, schedulesEnabled: false }))).toMatchObject({ partitions: 8, schedulesEnabled: false });
  });

  it.each([
    [{ partitions: 'many' }, /partitions must be a positive integer.*-c partitions=/],
    [{ tracing: 'yes' }, /tracing must be true or false/],
    [{ stage: 'qa' }, /stage must be dev or prod/],
    [{ mskMode: 'express' }, /mskMode must be provisioned or serverless/],
    [{ minInsyncReplicas: '3' }, /minInsyncReplicas must not exceed replicationFactor/],
    [{ curatedGlacierInstantAfterDays: '10' }, /increasing order/],
    [{ compactorTimeoutSeconds: '400' }, /compactorTimeoutSeconds must be shorter than the compactor's schedule/],
    [{ tablesDir: ' ' }, /tablesDir must name the directory of the table declarations/],
    [{ kafkaVersion: '3.5.1' }, /kafkaVersion must be 3.6 or later with mskMode=provisioned \(AWS::MSK::Topic needs it\)/],
    [{ kafkaVersion: '2.8.2.tiered' }, /kafkaVersion must be 3.6 or later/],
    [{ quarantineAlarmSharePercent: '0' }, /quarantineAlarmSharePercent must be a percentage above 0 and below 100/],
    [{ quarantineAlarmMinutes: '0' }, /quarantineAlarmMinutes must be a positive integer/],
    [{ replicationBucketArn: 'backup-lake' }, /replicationBucketArn must be a bucket ARN/],
    [{ optimizerTimeoutSeconds: '1000' }, /optimizerTimeoutSeconds must be at most 900/],
    [{ optimizeEveryMinutes: '10' }, /optimizerTimeoutSeconds must be shorter than the optimizer's schedule \(10 min\)/],
    [{ optimizeEveryMinutes: '2880', optimizerTimeoutSeconds: '600' }, /optimizeEveryMinutes must be at most 1440/],
    [{ optimizeRetentionDays: '0' }, /optimizeRetentionDays must be a positive integer/],
    [{ optimizeTargetFileMb: '-1' }, /optimizeTargetFileMb must be a positive integer/],
    [{ compactorShards: '0' }, /compactorShards must be a positive integer/],
    [{ compactorShards: '1.5' }, /compactorShards must be a positive integer/],
    [{ compactorShards: '7' }, /compactorShards must not exceed partitions \(6\).*-c compactorShards=/],
    [{ replicationKmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/abcd', replicationBucketArn: 'arn:aws:s3:::backup-lake' }, /replicationKmsKeyArn is used only with kmsEncryption=true/],
  ])('rejects %o with a message naming the key', (values, message) => {
    expect(() => configFromContext(context(values))).toThrow(ConfigError);
    expect(() => configFromContext(context(values))).toThrow(message);
  });

  it('refuses fewer partitions than are deployed: Kafka partitions never shrink', () => {
    expect(() => configFromContext(context({ partitions: '4' }))).toThrow(/below the 6 partitions already deployed.*never shrink/);
    expect(configFromContext(context({ partitions: '12', partitionFloor: '12' })).partitions).toBe(12);
    expect(() => configFromContext(context({ partitions: '8', partitionFloor: '12' }))).toThrow(/never shrink/);
  });

  it('takes any Kafka version from 3.6 on a provisioned cluster, and any on serverless (which has none to choose)', () => {
    for (const kafkaVersion of ['3.6.0', '3.9.x', '4.1.x.kraft']) expect(configFromContext(context({ kafkaVersion })).kafkaVersion).toBe(kafkaVersion);
    expect(configFromContext(context({ kafkaVersion: '3.5.1', mskMode: 'serverless' })).mskMode).toBe('serverless');
  });

  it('runs one compactor shard per table by default, and up to one per partition', () => {
    expect(DEFAULTS.compactorShards).toBe(1);
    expect(configFromContext(context({ compactorShards: '6' })).compactorShards).toBe(6);
    expect(configFromContext(context({ partitions: '24', partitionFloor: '24', compactorShards: '12' })).compactorShards).toBe(12);
    expect(() => configFromContext(context({ partitions: '24', partitionFloor: '24', compactorShards: '25' }))).toThrow(/compactorShards must not exceed partitions \(24\)/);
  });

  it('turns a curated transition off with 0 days', () => {
    expect(validateConfig({ ...DEFAULTS, curatedGlacierInstantAfterDays: 0 }).curatedGlacierInstantAfterDays).toBe(0);
  });

  it('deploys the optimizer with the defaults of streamlake optimize', () => {
    expect([DEFAULTS.optimizeTargetFileMb, DEFAULTS.optimizeRetentionDays]).toEqual([OPTIMIZE_DEFAULTS.targetFileMb, OPTIMIZE_DEFAULTS.retentionDays]);
  });
});
