import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { DEFAULTS, validateConfig, type PipelineConfig } from '../../lib/config.ts';
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

describe('a stack without Iceberg tables', () => {
  it.each([
    ['the shipped tables', {}],
    ['three Hive-Parquet tables', { tablesDir: 'test/fixtures/tables-three' }],
  ] as [string, Partial<PipelineConfig>][])('has no Glue endpoint, which would cost by the hour for nothing, with %s', (_, overrides) => {
    const other = synthStack(overrides);
    expect(glueEndpoints(other.template)).toEqual([]);
    expect(JSON.stringify(policyStatements(other.template))).not.toContain('glue:');
    expect(other.template.toJSON().Outputs.IcebergTables).toBeUndefined();
  });
});
