import { App, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import cdkNag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, validateConfig, type PipelineConfig } from '../../lib/config.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';
import { deployableTables } from '../../lib/tables.ts';
import { CDK_CONTEXT, synthStack } from '../helpers/synth.ts';
import { TABLES_DIR } from '../helpers/tables.ts';

describe('pipeline stack', () => {
  const { template } = synthStack();
  const resources = template.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>;

  // Renaming one of these replaces the resource: its data would be orphaned or deleted.
  it.each([
    ['Lake42DFAD75', 'AWS::S3::Bucket'],
    ['LakeAthenaResultsEBC66BDA', 'AWS::S3::Bucket'],
    ['LakeAccessLogs4431AB8D', 'AWS::S3::Bucket'],
    ['KafkaCluster21A1BE89', 'AWS::MSK::Cluster'],
    ['KafkaTopic9B915F3F', 'AWS::MSK::Topic'],
    ['CatalogDatabaseE63956BB', 'AWS::Glue::Database'],
    ['CatalogDeviceLogs31BDAF57', 'AWS::Glue::Table'],
    ['CatalogDeviceLogsQuarantine16C810FD', 'AWS::Glue::Table'],
    ['CatalogWorkgroupB2972C84', 'AWS::Athena::WorkGroup'],
  ])('keeps the logical ID %s of its %s', (logicalId, type) => {
    expect(resources[logicalId]?.Type).toBe(type);
  });

  it('retains the data by default: the buckets, the key that reads them and the Lambdas\' logs', () => {
    const buckets = Object.values(resources).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(3);
    for (const bucket of buckets) expect(bucket.DeletionPolicy).toBe('Retain');
    for (const id of ['FunctionsLogGeneratorLogs', 'FunctionsDeviceLogsCompactorLogs']) {
      expect(Object.entries(resources).find(([logicalId]) => logicalId.startsWith(id))![1].DeletionPolicy).toBe('Retain');
    }
    const kms = synthStack({ kmsEncryption: true }).template.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>;
    expect(Object.values(kms).find((r) => r.Type === 'AWS::KMS::Key')!.DeletionPolicy).toBe('Retain');
  });

  // A retained resource inside the deleted VPC makes cdk destroy fail; one with a fixed name makes the next deploy fail.
  it.each(['provisioned', 'serverless'] as const)('leaves on cdk destroy nothing in the stack\'s network and nothing a redeploy would collide with (MSK %s)', (mskMode) => {
    const all = (mskMode === 'provisioned' ? template : synthStack({ mskMode, kmsEncryption: true, tracing: true }).template).toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }>;
    const networkIds = Object.entries(all).filter(([, r]) => r.Type.startsWith('AWS::EC2::')).map(([id]) => id);
    const retained = Object.entries(all).filter(([, r]) => r.DeletionPolicy === 'Retain' || r.DeletionPolicy === 'RetainExceptOnCreate');
    expect(new Set(retained.map(([, r]) => r.Type))).toEqual(new Set(['AWS::S3::Bucket', 'AWS::Logs::LogGroup', ...(mskMode === 'serverless' ? ['AWS::KMS::Key'] : []), 'AWS::Glue::SchemaVersion']));
    for (const [id, resource] of retained) {
      const properties = JSON.stringify(resource.Properties ?? {});
      for (const networkId of networkIds) expect(properties, `${id} refers to ${networkId}`).not.toContain(`"${networkId}"`);
      // A name made of a generated one (a function's log group) is new in each deployment; a literal is not.
      for (const nameKey of ['BucketName', 'LogGroupName', 'Name', 'ClusterName']) expect(typeof resource.Properties?.[nameKey], `${id}.${nameKey}`).not.toBe('string');
    }
    for (const type of ['AWS::MSK::Cluster', 'AWS::MSK::ServerlessCluster', 'AWS::MSK::Topic', 'Custom::KafkaTopic', 'AWS::EC2::VPC', 'AWS::EC2::SecurityGroup', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup', 'AWS::Glue::Registry', 'AWS::Glue::Schema']) {
      for (const resource of Object.values(all).filter((r) => r.Type === type)) expect(resource.DeletionPolicy ?? 'Delete', type).toBe('Delete');
    }
    // The workgroup is deleted with its query history (the results stay in the retained results bucket).
    expect(Object.values(all).find((r) => r.Type === 'AWS::Athena::WorkGroup')!.Properties!.RecursiveDeleteOption).toBe(true);
  });

  it('deletes data with the stack only in the dev stage', () => {
    const dev = synthStack({ stage: 'dev' }).template.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>;
    const buckets = Object.values(dev).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets.every((b) => b.DeletionPolicy === 'Delete')).toBe(true);
  });

  it.each([
    ['MSK provisioned', {}],
    ['MSK serverless, KMS and tracing', { mskMode: 'serverless', kmsEncryption: true, tracing: true }],
    ['KMS encryption', { kmsEncryption: true }],
    ['replication', { replicationBucketArn: 'arn:aws:s3:::some-bucket' }],
    ['replication of KMS-encrypted data', { replicationBucketArn: 'arn:aws:s3:::some-bucket', kmsEncryption: true }],
    ['six compactor shards', { compactorShards: 6 }],
    ['six compactor shards on MSK serverless', { compactorShards: 6, mskMode: 'serverless' }],
  ] as [string, Partial<PipelineConfig>][])('has no unacknowledged cdk-nag AwsSolutions finding with %s', (_, overrides) => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    new PipelineStack(app, 'streamlake', { config: validateConfig({ ...DEFAULTS, ...overrides }), tables: deployableTables(TABLES_DIR) });
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('fails cdk-nag when a finding is not acknowledged', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stack = new PipelineStack(app, 'streamlake', { config: DEFAULTS, tables: deployableTables(TABLES_DIR) });
    // A queue without a dead-letter queue or TLS enforcement: AwsSolutions-SQS3 and SQS4.
    new sqs.Queue(stack, 'Unchecked');
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});
