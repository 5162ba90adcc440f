import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULTS, validateConfig, type PipelineConfig } from '../../lib/config.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';
import { deployableTables } from '../../lib/tables.ts';

const PROJECT_ROOT = join(import.meta.dirname, '../..');

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

/** A directory of table declarations in test/fixtures/. */
export function fixtureTables(name: string): string {
  return join(PROJECT_ROOT, 'test/fixtures', name);
}

/**
 * Builds the stack with DEFAULTS and `overrides` (`tablesDir` relative to the project root, as
 * `cdk` runs the app), without bundling the Lambdas unless asked (tests of the template only).
 */
export function synthStack(overrides: Partial<PipelineConfig> = {}, options: { bundle?: boolean } = {}) {
  const app = new App({ context: { ...CDK_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const config = validateConfig({ ...DEFAULTS, ...overrides });
  const tables = deployableTables(resolve(PROJECT_ROOT, config.tablesDir));
  const stack = new PipelineStack(app, 'streamlake', { config, tables, env: { account: '123456789012', region: 'eu-west-1' } });
  return { app, stack, tables, template: Template.fromStack(stack) };
}

/** Resources of a type, as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, { Properties: Record<string, any>; DeletionPolicy?: string }][] {
  return Object.entries(template.findResources(type)) as [string, { Properties: Record<string, any>; DeletionPolicy?: string }][];
}

/** Every IAM policy statement in the template. */
export function policyStatements(template: Template): { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown }[] {
  return resourcesOf(template, 'AWS::IAM::Policy').flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}
