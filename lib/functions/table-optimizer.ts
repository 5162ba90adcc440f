import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import type { PipelineConfig } from '../config.ts';
import type { LakeStorage } from '../lake/lake-storage.ts';
import type { LakeCatalog } from '../query/lake-catalog.ts';
import { BUNDLED_TABLES_DIR, withDeclaration } from './lambda-defaults.ts';
import { scheduledFunction } from './scheduled-function.ts';

export interface TableOptimizerProps {
  /** The Iceberg table it maintains. Required. */
  readonly table: TableSpec;
  /** The lake the table's files live in. Required. */
  readonly lake: LakeStorage;
  /** The Glue catalog the table is committed in. Required. */
  readonly catalog: LakeCatalog;
  /** Where its failed invocations and failed schedule deliveries go. Required. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Size, timeout, schedule and the settings the handler reads from its environment. @default DEFAULTS */
  readonly config: PipelineConfig;
  /** @default RemovalPolicy.RETAIN (of the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/** The optimizer's settings as environment variables (table, bucket and database come with its wiring). */
export function optimizerSettings(config: PipelineConfig): Record<string, string> {
  return {
    [ENV.codec]: config.codec,
    [ENV.optimizeTargetFileMb]: String(config.optimizeTargetFileMb),
    [ENV.optimizeRetentionDays]: String(config.optimizeRetentionDays),
    // A partition is closed once no record can land in it any more: records older than this are quarantined.
    [ENV.maxEventAgeHours]: String(config.maxEventAgeHours),
  };
}

/**
 * The maintenance of one Iceberg table: its own Lambda, run every `optimizeEveryMinutes` by its own
 * schedule, that merges the small files of the table's closed partitions into files near
 * `optimizeTargetFileMb` in one `replace` commit, expires snapshots older than
 * `optimizeRetentionDays` and removes the files nothing references any more. It needs no broker,
 * so it runs outside the VPC and reaches S3 and Glue directly, without interface endpoints. It may
 * rewrite only its table's files, read only its table's checkpoints, and read and update only its
 * table's Glue table.
 */
export class TableOptimizer extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly schedule: scheduler.Schedule;
  readonly table: TableSpec;

  constructor(scope: Construct, id: string, props: TableOptimizerProps) {
    super(scope, id);
    const { config, table } = props;
    if (table.format !== 'iceberg') throw new Error(`table ${table.name} is stored as ${table.format}: only an Iceberg table has an optimizer`);
    this.table = table;
    ({ fn: this.fn, schedule: this.schedule } = scheduledFunction(this, 'Optimizer', 'OptimizerSchedule', {
      handler: 'optimizer',
      memoryMiB: config.optimizerMemoryMiB,
      timeoutSeconds: config.optimizerTimeoutSeconds,
      everyMinutes: config.optimizeEveryMinutes,
      enabled: config.schedulesEnabled,
      deadLetterQueue: props.deadLetterQueue,
      logRetentionDays: config.lambdaLogRetentionDays,
      tracing: config.tracing,
      removalPolicy: props.removalPolicy,
      bundling: withDeclaration(table),
    }));

    const settings = {
      ...optimizerSettings(config),
      [ENV.table]: table.name,
      [ENV.tablesDir]: BUNDLED_TABLES_DIR,
      [ENV.lakeBucket]: props.lake.lakeBucket.bucketName,
      [ENV.glueDatabase]: props.catalog.databaseName,
    };
    for (const [name, value] of Object.entries(settings)) this.fn.addEnvironment(name, value);
    props.lake.grantOptimizer(this.fn, table.name);
    // The compactor creates the table at its first commit; the optimizer only moves it.
    props.catalog.grantIcebergCommit(this.fn, table.name, { create: false });
  }
}
