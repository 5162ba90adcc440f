#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { IncompatibleSchemaError } from '../lambdas/adapters/table-directory.ts';
import { TableDeclarationError } from '../lambdas/core/table-declaration.ts';
import { ConfigError, configFromContext, DEFAULT_STACK_NAME } from '../lib/config.ts';
import { PipelineStack } from '../lib/pipeline-stack.ts';
import { deployableTables } from '../lib/tables.ts';

/**
 * The CDK app: the only place that reads context. `cdk deploy -c key=value` overrides any DEFAULTS
 * key; `-c tablesDir=DIR` builds the stack from the table declarations in DIR, refusing any that
 * changes a deployed table in a way its lock file does not allow.
 */
const app = new App();
try {
  const config = configFromContext((key) => app.node.tryGetContext(key));
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME;
  new PipelineStack(app, stackName, {
    config,
    tables: deployableTables(config.tablesDir),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'streamlake: a Kafka topic per declared table → scheduled compactor Lambdas → Parquet lake on S3, queried with Athena',
  });
} catch (error) {
  // What the user must fix, without a stack trace around it.
  if (!(error instanceof ConfigError || error instanceof TableDeclarationError || error instanceof IncompatibleSchemaError)) throw error;
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
}
Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
app.synth();
