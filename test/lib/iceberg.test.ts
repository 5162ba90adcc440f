import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { DEFAULTS, validateConfig, type PipelineConfig } from '../../lib/config.ts';
import { BUNDLED_TABLES_DIR } from '../../lib/functions/lambda-defaults.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';
import { CDK_CONTEXT, policyStatements, resourcesOf, synthStack } from '../helpers/synth.ts';

const ICEBERG = 'test/fixtures/tables-iceberg';
const ICEBERG_TABLES = ['clicks', 'device_logs'] as const;
const HIVE_TABLE = 'orders';
const { template, stack, tables } = synthStack({ tablesDir: ICEBERG });
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const compactorOf = (table: string) => stack.functions.compactors.get(table)!.fn;
const databaseRef = { Ref: logicalId({ node: { defaultChild: stack.catalog.database } }) };

/** Renders a Fn::Join of the template as text, with `{Ref}` / `{Ref.Attr}` for its intrinsics. */
function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(value);
  return join[1].map((part) => (typeof part === 'string' ? part : `{${(part as { Ref?: string }).Ref ?? JSON.stringify(part)}}`)).join(join[0]);
}

/** The statements of the policies on the role of `fn`. */
function statementsOf(fn: { role?: { node: { defaultChild?: unknown } } }) {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
}

const glueEndpoints = (t: typeof template) => resourcesOf(t, 'AWS::EC2::VPCEndpoint').filter(([, e]) => JSON.stringify(e.Properties.ServiceName).endsWith('.glue"'));

describe('a stack with Iceberg tables', () => {
  it('declares no Glue table for an Iceberg table (its compactor creates it) but keeps its quarantine table, and the Hive table\'s', () => {
    const names = resourcesOf(template, 'AWS::Glue::Table').map(([, t]) => t.Properties.TableInput.Name).sort();
    expect(names).toEqual(['clicks_quarantine', 'device_logs_quarantine', 'orders', 'orders_quarantine']);
    for (const table of ICEBERG_TABLES) expect(stack.catalog.tables.get(table)!.table).toBeUndefined();
    expect(stack.catalog.tables.get(HIVE_TABLE)!.table).toBeDefined();
    expect(template.toJSON().Outputs.IcebergTables.Value).toBe('clicks,device_logs');
  });

  it('reaches the Glue API through an interface endpoint with private DNS, in both AZs', () => {
    const endpoints = glueEndpoints(template);
    expect(endpoints).toHaveLength(1);
    const [, endpoint] = endpoints[0]!;
    expect(endpoint.Properties).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
    expect(endpoint.Properties.SubnetIds).toHaveLength(2);
  });

  it('lets only the Iceberg compactors reach the Glue endpoint, on HTTPS', () => {
    const [, endpoint] = glueEndpoints(template)[0]!;
    const endpointGroups = (endpoint.Properties.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[]).map((group) => group['Fn::GetAtt'][0]);
    const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties).filter((rule) => endpointGroups.includes(rule.GroupId['Fn::GetAtt'][0]));
    const compactorGroups = (table: string) => (resources[logicalId(compactorOf(table))]!.Properties.VpcConfig.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[]).map((group) => group['Fn::GetAtt'][0]);
    expect(ingress.map((rule) => rule.SourceSecurityGroupId['Fn::GetAtt'][0]).sort()).toEqual(ICEBERG_TABLES.flatMap(compactorGroups).sort());
    for (const rule of ingress) expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
    // Nothing open by address: no rule of the endpoint's group (inline or separate) names a CIDR.
    const groups = endpointGroups.map((id) => resources[id]!.Properties);
    for (const group of groups) expect(group.SecurityGroupIngress ?? []).toEqual([]);
    expect(ingress.every((rule) => rule.CidrIp === undefined)).toBe(true);
  });

  it.each(ICEBERG_TABLES)('lets the %s compactor get, create and update its own Glue table and no other', (table) => {
    const glue = statementsOf(compactorOf(table)).filter((s) => [s.Action].flat().some((action) => action.startsWith('glue:')));
    expect(glue.flatMap((s) => [s.Action].flat()).sort()).toEqual(['glue:CreateTable', 'glue:GetTable', 'glue:UpdateTable']);
    expect(glue.flatMap((s) => [s.Resource].flat().map(joined)).sort()).toEqual(
      [
        'arn:aws:glue:eu-west-1:123456789012:catalog',
        `arn:aws:glue:eu-west-1:123456789012:database/{${databaseRef.Ref}}`,
        `arn:aws:glue:eu-west-1:123456789012:table/{${databaseRef.Ref}}/${table}`,
      ].sort(),
    );
  });

  it('gives the Hive-Parquet table\'s compactor no Glue permission and no Glue database, and nothing anywhere a Glue wildcard', () => {
    expect(JSON.stringify(statementsOf(compactorOf(HIVE_TABLE)))).not.toContain('glue:');
    expect(resources[logicalId(compactorOf(HIVE_TABLE))]!.Properties.Environment.Variables[ENV.glueDatabase]).toBeUndefined();
    for (const statement of policyStatements(template).filter((s) => [s.Action].flat().some((action) => action.startsWith('glue:')))) {
      expect([statement.Action].flat().some((action) => action.includes('*'))).toBe(false);
      expect([statement.Resource].flat().map(joined).some((arn) => arn.includes('*'))).toBe(false);
    }
  });

  it.each(ICEBERG_TABLES)('tells the %s compactor its Glue database, by reference to the database the stack creates', (table) => {
    const variables = resources[logicalId(compactorOf(table))]!.Properties.Environment.Variables;
    expect(variables[ENV.glueDatabase]).toEqual(databaseRef);
    expect(variables[ENV.table]).toBe(table);
    expect(resources[databaseRef.Ref]!.Properties.DatabaseInput.Name).toBe(DEFAULTS.glueDatabase);
  });

  it('keeps the S3 grant of each Iceberg compactor to its table\'s prefix, which holds its data/ and metadata/', () => {
    for (const table of ICEBERG_TABLES) {
      const objects = statementsOf(compactorOf(table)).filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => [s.Resource].flat().map(joined));
      expect(objects.filter((arn) => arn.includes('/curated/'))).toEqual([expect.stringMatching(new RegExp(`/curated/${table}/\\*$`))]);
    }
    expect(tableNamed(tables, 'device_logs').format).toBe('iceberg');
  });

  it.each([
    ['MSK provisioned', {}],
    ['MSK serverless, KMS and tracing', { mskMode: 'serverless', kmsEncryption: true, tracing: true }],
  ] as [string, Partial<PipelineConfig>][])('has no unacknowledged cdk-nag AwsSolutions finding with %s', (_, overrides) => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    new PipelineStack(app, 'streamlake', { config: validateConfig({ ...DEFAULTS, tablesDir: ICEBERG, ...overrides }), tables });
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('the optimizer of an Iceberg table', () => {
  const optimizerOf = (table: string) => stack.functions.optimizers.get(table)!;

  it('is deployed for each Iceberg table and for no Hive-Parquet table', () => {
    expect([...stack.functions.optimizers.keys()].sort()).toEqual([...ICEBERG_TABLES]);
    const optimizers = resourcesOf(template, 'AWS::Lambda::Function').filter(([, fn]) => JSON.stringify(fn.Properties.Environment?.Variables ?? {}).includes(ENV.optimizeRetentionDays));
    expect(optimizers.map(([, fn]) => fn.Properties.Environment.Variables[ENV.table]).sort()).toEqual([...ICEBERG_TABLES]);
  });

  it.each(ICEBERG_TABLES)('runs %s\'s outside the VPC, hourly, with its settings and its table\'s declaration', (table) => {
    const { fn, schedule } = optimizerOf(table);
    const props = resources[logicalId(fn)]!.Properties;
    expect(props.VpcConfig).toBeUndefined();
    expect(props).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: DEFAULTS.optimizerMemoryMiB, Timeout: DEFAULTS.optimizerTimeoutSeconds });
    expect(props.Environment.Variables).toMatchObject({
      [ENV.table]: table,
      [ENV.tablesDir]: BUNDLED_TABLES_DIR,
      [ENV.glueDatabase]: databaseRef,
      [ENV.lakeBucket]: { Ref: logicalId({ node: { defaultChild: stack.lake.lakeBucket.node.defaultChild } }) },
      [ENV.codec]: DEFAULTS.codec,
      [ENV.optimizeTargetFileMb]: String(DEFAULTS.optimizeTargetFileMb),
      [ENV.optimizeRetentionDays]: String(DEFAULTS.optimizeRetentionDays),
      [ENV.maxEventAgeHours]: String(DEFAULTS.maxEventAgeHours),
    });
    expect(resources[logicalId(schedule)]!.Properties.ScheduleExpression).toBe('rate(1 hour)');
    expect(synthStack({ tablesDir: ICEBERG, optimizeEveryMinutes: 30 }).template.toJSON().Resources[logicalId(schedule)].Properties.ScheduleExpression).toBe('rate(30 minutes)');
    const logGroup = resources[props.LoggingConfig.LogGroup.Ref]!;
    expect(logGroup.Properties.RetentionInDays).toBe(DEFAULTS.lambdaLogRetentionDays);
  });

  it.each(ICEBERG_TABLES)('lets %s\'s rewrite only its table\'s files, read only its checkpoints, and read and update only its Glue table', (table) => {
    const statements = statementsOf(optimizerOf(table).fn);
    const on = (action: string) => statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat().map(joined)).sort();
    const bucket = `{${JSON.stringify({ 'Fn::GetAtt': [logicalId({ node: { defaultChild: stack.lake.lakeBucket.node.defaultChild } }), 'Arn'] })}}`;
    for (const action of ['s3:PutObject', 's3:DeleteObject']) expect(on(action)).toEqual([`${bucket}/curated/${table}/*`]);
    expect(on('s3:GetObject')).toEqual([`${bucket}/checkpoints/${table}/*`, `${bucket}/curated/${table}/*`]);
    expect(on('glue:GetTable')).toEqual(on('glue:UpdateTable'));
    expect(on('glue:UpdateTable').at(-1)).toBe(`arn:aws:glue:eu-west-1:123456789012:table/{${databaseRef.Ref}}/${table}`);
    expect(on('glue:CreateTable')).toEqual([]);
    const granted = JSON.stringify(statements);
    for (const forbidden of ['kafka-cluster:', '/quarantine/', 'ec2:']) expect(granted).not.toContain(forbidden);
  });

  it.each(ICEBERG_TABLES)('alarms when %s\'s optimizer fails or nears its timeout', (table) => {
    const fnId = logicalId(optimizerOf(table).fn);
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((a) => JSON.stringify(a.Dimensions ?? []).includes(fnId));
    expect(alarms.map((a) => [a.MetricName, a.Period, a.Threshold]).sort()).toEqual([
      ['Duration', DEFAULTS.optimizeEveryMinutes * 60, DEFAULTS.optimizerTimeoutSeconds * 1000 * 0.8],
      ['Errors', DEFAULTS.optimizeEveryMinutes * 60, 1],
    ]);
  });
});

describe('curated storage classes with Iceberg tables', () => {
  const lakeId = logicalId({ node: { defaultChild: stack.lake.lakeBucket.node.defaultChild } });
  const transitionRules = (t: typeof template, id: string) => (t.toJSON().Resources[id].Properties.LifecycleConfiguration.Rules as { Prefix?: string; Transitions?: { StorageClass: string }[] }[]).filter((r) => r.Transitions);

  it('move only the data files of an Iceberg table, never the metadata every query of it reads, and all of a Hive table', () => {
    const prefixes = transitionRules(template, lakeId).map((r) => r.Prefix).sort();
    expect(prefixes).toEqual(['curated/clicks/data/', 'curated/device_logs/data/', 'curated/orders/']);
    for (const table of ICEBERG_TABLES) expect(prefixes.some((prefix) => `curated/${table}/metadata/00001.metadata.json`.startsWith(prefix!))).toBe(false);
    for (const rule of transitionRules(template, lakeId)) expect(rule.Transitions!.map((t) => t.StorageClass)).toEqual(['STANDARD_IA', 'GLACIER_IR', 'DEEP_ARCHIVE']);
  });

  it('stay one rule on all of curated/ without Iceberg tables', () => {
    const hive = synthStack({ tablesDir: 'test/fixtures/tables-three' });
    const id = hive.stack.getLogicalId(hive.stack.lake.lakeBucket.node.defaultChild as never);
    expect(transitionRules(hive.template, id).map((r) => r.Prefix)).toEqual(['curated/']);
  });
});

describe('a stack without Iceberg tables', () => {
  it.each([
    ['the shipped tables', {}],
    ['three Hive-Parquet tables', { tablesDir: 'test/fixtures/tables-three' }],
  ] as [string, Partial<PipelineConfig>][])('has no Glue endpoint, which would cost by the hour for nothing, with %s', (_, overrides) => {
    const other = synthStack(overrides);
    expect(glueEndpoints(other.template)).toEqual([]);
    expect(JSON.stringify(policyStatements(other.template))).not.toContain('glue:');
    expect(other.template.toJSON().Outputs.IcebergTables).toBeUndefined();
    expect(other.stack.functions.optimizers.size).toBe(0);
  });
});
