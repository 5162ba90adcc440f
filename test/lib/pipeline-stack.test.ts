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

  it('retains every stateful resource by default', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::MSK::Cluster', 'AWS::MSK::Topic', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Glue::Registry', 'AWS::Glue::Schema', 'AWS::Glue::SchemaVersion', 'AWS::Logs::LogGroup']) {
      const ofType = Object.values(resources).filter((r) => r.Type === type);
      expect(ofType.length).toBeGreaterThan(0);
      for (const resource of ofType) expect(resource.DeletionPolicy, type).toBe('Retain');
    }
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
