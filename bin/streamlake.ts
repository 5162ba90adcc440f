#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { configFromContext } from '../lib/config.ts';
import { PipelineStack } from '../lib/pipeline-stack.ts';

/** The CDK app: the only place that reads context. `cdk deploy -c key=value` overrides any DEFAULTS key. */
const app = new App();
const config = configFromContext((key) => app.node.tryGetContext(key));
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'streamlake';
new PipelineStack(app, stackName, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'streamlake: MSK topic → scheduled Lambdas → Parquet lake on S3, queried with Athena',
});
Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
app.synth();
