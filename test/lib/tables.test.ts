import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { checkpointPrefix, curatedLocationTemplate, curatedPrefix, partitionKeys, quarantineLocationTemplate, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { glueType } from '../../lambdas/core/schema.ts';
import { tableColumns } from '../../lambdas/core/table-declaration.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { DEFAULTS, validateConfig } from '../../lib/config.ts';
import { BUNDLED_TABLES_DIR } from '../../lib/functions/lambda-defaults.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';
import { CDK_CONTEXT, policyStatements, resourcesOf, synthStack } from '../helpers/synth.ts';

const THREE = 'test/fixtures/tables-three';
const NAMES = ['clicks', 'device_logs', 'orders'] as const;
const { template, stack, tables } = synthStack({ tablesDir: THREE });
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

/** Resolves an `Fn::Join` to text, with `<token>` for every intrinsic in it. */
function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  return join ? join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join(join[0]) : '<token>';
}

/** The statements of the policies attached to the role of `fn`. */
function statementsOf(fn: { role?: { node: { defaultChild?: unknown } } }) {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
}

const resourcesFor = (statements: ReturnType<typeof statementsOf>, action: string) =>
  statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat().map(joined));

describe('a stack built from three declared tables', () => {
  it('declares each table topic with the configured partitions and replication, keeping the deployed topic logical ID', () => {
    const topics = resourcesOf(template, 'AWS::MSK::Topic').map(([id, t]) => [id, t.Properties.TopicName, t.Properties.PartitionCount, t.Properties.ReplicationFactor]);
    expect(topics.map(([, name]) => name).sort()).toEqual(NAMES.map((name) => tableNamed(tables, name).topic).sort());
    for (const [, , partitions, replication] of topics) expect([partitions, replication]).toEqual([DEFAULTS.partitions, DEFAULTS.replicationFactor]);
    expect(resources.KafkaTopic9B915F3F?.Properties.TopicName).toBe('device-logs');
  });

  it('makes each topic through the admin API on MSK Serverless, and lets the topic manager create only those', () => {
    const serverless = synthStack({ tablesDir: THREE, mskMode: 'serverless' }).template;
    expect(resourcesOf(serverless, 'Custom::KafkaTopic').map(([, t]) => t.Properties.TopicName).sort()).toEqual(['device-logs', 'shop.orders', 'web-clicks']);
    const create = policyStatements(serverless).filter((s) => [s.Action].flat().includes('kafka-cluster:CreateTopic'));
    expect(create.flatMap((s) => [s.Resource].flat().map(joined)).sort()).toEqual(['device-logs', 'shop.orders', 'web-clicks'].map((topic) => `arn:aws:kafka:eu-west-1:123456789012:topic/<token>/${topic}`));
  });

  it.each(NAMES)('catalogs %s with its declared columns, its partitioning and its quarantine table', (name) => {
    const spec = tableNamed(tables, name);
    const { table, quarantine } = stack.catalog.tables.get(name)!;
    const input = resources[logicalId({ node: { defaultChild: table } })]!.Properties.TableInput;
    expect(input.Name).toBe(name);
    expect(input.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type])).toEqual(tableColumns(spec).map((c) => [c.name, glueType(c)]));
    expect(input.PartitionKeys.map((c: any) => c.Name)).toEqual(partitionKeys(spec.partitionBy).map((c) => c.name));
    expect(input.Parameters['projection.dt.type']).toBe('date');
    expect(input.Parameters['projection.hour.type']).toBe(spec.partitionBy === 'hour' ? 'integer' : undefined);
    expect(joined(input.Parameters['storage.location.template'])).toBe(`s3://<token>/${curatedLocationTemplate(spec)}`);
    const quarantined = resources[logicalId({ node: { defaultChild: quarantine } })]!.Properties.TableInput;
    expect(quarantined.Name).toBe(`${name}_quarantine`);
    expect(joined(quarantined.Parameters['storage.location.template'])).toBe(`s3://<token>/${quarantineLocationTemplate(name)}`);
  });

  it('partitions the day table by dt only and the hourly ones by dt and hour', () => {
    expect(tableNamed(tables, 'orders').partitionBy).toBe('day');
    const partitioned = Object.fromEntries(resourcesOf(template, 'AWS::Glue::Table').map(([, t]) => [t.Properties.TableInput.Name, t.Properties.TableInput.PartitionKeys.map((k: any) => k.Name)]));
    expect(partitioned).toMatchObject({ orders: ['dt'], clicks: ['dt', 'hour'], device_logs: ['dt', 'hour'] });
  });

  it('deploys the named queries of every table', () => {
    const deployed = resourcesOf(template, 'AWS::Athena::NamedQuery').map(([, q]) => [q.Properties.Name, q.Properties.QueryString]);
    expect(deployed).toEqual(tables.queries.map((q) => [q.name, q.sql]));
    expect(new Set(tables.queries.map((q) => q.table))).toEqual(new Set(NAMES));
  });

  it.each(NAMES)('gives %s its own compactor, told its table and where its declaration is bundled, on its own schedule', (name) => {
    const { fn, schedules } = stack.functions.compactors.get(name)!;
    const props = resources[logicalId(fn)]!.Properties;
    expect(props.Environment.Variables).toMatchObject({ [ENV.table]: name, [ENV.tablesDir]: BUNDLED_TABLES_DIR, [ENV.consumerGroup]: DEFAULTS.consumerGroup, [ENV.compactorShards]: '1' });
    expect(props.ReservedConcurrentExecutions).toBeUndefined();
    expect(schedules).toHaveLength(1);
    const target = resources[logicalId(schedules[0]!)]!.Properties;
    expect(target.ScheduleExpression).toBe(`rate(${DEFAULTS.compactorEveryMinutes} minutes)`);
    expect(target.Target.Arn).toEqual({ 'Fn::GetAtt': [logicalId(fn), 'Arn'] });
    expect(JSON.parse(target.Target.Input)).toEqual({ shard: 0 });
  });

  it.each(NAMES)('lets the %s compactor read only its topic and write only its prefixes: nothing of the other tables', (name) => {
    const spec = tableNamed(tables, name);
    const others = NAMES.filter((other) => other !== name).map((other) => tableNamed(tables, other));
    const statements = statementsOf(stack.functions.compactors.get(name)!.fn);
    const read = resourcesFor(statements, 'kafka-cluster:ReadData');
    expect(read).toEqual([expect.stringMatching(new RegExp(`:topic/.*/${spec.topic.replaceAll('.', '\\.')}$`))]);
    expect(resourcesFor(statements, 'kafka-cluster:AlterGroup')).toEqual([
      expect.stringMatching(new RegExp(`:group/.*/${DEFAULTS.consumerGroup}$`)),
      expect.stringMatching(new RegExp(`:group/.*/${DEFAULTS.consumerGroup}\\.shard-\\*$`)),
    ]);
    expect(resourcesFor(statements, 'kafka-cluster:WriteData')).toEqual([]);
    const objects = resourcesFor(statements, 's3:PutObject');
    expect(objects.sort()).toEqual([checkpointPrefix(name), curatedPrefix(name), quarantinePrefix(name)].map((prefix) => `<token>/${prefix}*`).sort());
    const granted = JSON.stringify(statements);
    for (const other of others) {
      expect(granted).not.toContain(`/${other.topic}`);
      expect(granted).not.toContain(`/${other.name}/`);
    }
  });

  it('runs the log-generator for device_logs only, producing to its topic and no other', () => {
    const generator = stack.functions.generator!;
    expect(resources[logicalId(generator)]!.Properties.Environment.Variables[ENV.topic]).toBe('device-logs');
    const statements = statementsOf(generator);
    expect(resourcesFor(statements, 'kafka-cluster:WriteData')).toEqual([expect.stringMatching(/:topic\/.*\/device-logs$/)]);
    expect(resourcesFor(statements, 'kafka-cluster:ReadData')).toEqual([]);
  });

  it('deploys no log-generator when no device_logs table is declared', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const withoutDemo = { ...tables, tables: tables.tables.filter((t) => t.name !== 'device_logs'), queries: tables.queries.filter((q) => q.table !== 'device_logs') };
    const other = new PipelineStack(app, 'streamlake', { config: validateConfig({ ...DEFAULTS, tablesDir: THREE }), tables: withoutDemo });
    expect(other.functions.generator).toBeUndefined();
    const t = Template.fromStack(other);
    expect(resourcesOf(t, 'AWS::Lambda::Function').filter(([id]) => id.includes('LogGenerator'))).toEqual([]);
    expect(resourcesOf(t, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties.ScheduleExpression)).toEqual(['rate(5 minutes)', 'rate(5 minutes)']);
    expect(resourcesOf(t, 'AWS::CloudWatch::Alarm').some(([id]) => id.includes('GeneratorErrors'))).toBe(false);
  });

  it.each(NAMES)('alarms on the %s compactor by its Table dimension', (name) => {
    // A metric-math alarm (the quarantined share) counts once per metric it reads.
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .flatMap((a) => (a.Metrics ? (a.Metrics as any[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric) : [a]))
      .filter((a) => a.Namespace === 'streamlake');
    const mine = alarms.filter((a) => a.Dimensions.some((d: any) => d.Name === 'Table' && d.Value === name));
    expect(mine.map((a) => a.MetricName).sort()).toEqual(['CaughtUp', 'ConsumerLag', 'OffsetGapRecords', 'RecordsQuarantined', 'RecordsRead']);
    for (const alarm of mine) expect(alarm.Dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: 'compactor' }, { Name: 'Table', Value: name }, { Name: 'Shard', Value: '0' }]));
    for (const alarm of mine) expect(alarm.Dimensions).toHaveLength(3);
    const lambdaAlarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((a) => a.Namespace === 'AWS/Lambda' && JSON.stringify(a.Dimensions).includes(logicalId(stack.functions.compactors.get(name)!.fn)));
    expect(lambdaAlarms.map((a) => a.MetricName).sort()).toEqual(['Errors']);
  });

  it.each(['provisioned', 'serverless'] as const)('has no unacknowledged cdk-nag AwsSolutions finding with three tables on MSK %s', (mskMode) => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    new PipelineStack(app, 'streamlake', { config: validateConfig({ ...DEFAULTS, tablesDir: THREE, mskMode, kmsEncryption: mskMode === 'serverless' }), tables });
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
