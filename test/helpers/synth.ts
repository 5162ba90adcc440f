import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULTS, validateConfig, type PipelineConfig } from '../../lib/config.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT = (JSON.parse(readFileSync(join(import.meta.dirname, '../../cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

/** Builds the stack with DEFAULTS and `overrides`, without bundling the Lambdas (tests of the template only). */
export function synthStack(overrides: Partial<PipelineConfig> = {}, options: { bundle?: boolean } = {}) {
  const app = new App({ context: { ...CDK_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const stack = new PipelineStack(app, 'streamlake', { config: validateConfig({ ...DEFAULTS, ...overrides }), env: { account: '123456789012', region: 'eu-west-1' } });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Resources of a type, as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, { Properties: Record<string, any> }][] {
  return Object.entries(template.findResources(type)) as [string, { Properties: Record<string, any> }][];
}

/** Every IAM policy statement in the template. */
export function policyStatements(template: Template): { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown }[] {
  return resourcesOf(template, 'AWS::IAM::Policy').flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}
