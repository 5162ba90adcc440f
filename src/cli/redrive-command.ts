import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { GlueCatalog } from '../../lambdas/adapters/glue-catalog.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { S3ObjectStore } from '../../lambdas/adapters/s3-store.ts';
import { tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { tableFormatOf } from '../../lambdas/adapters/table-formats.ts';
import { validationLimits, type QuarantineReason } from '../../lambdas/core/decode.ts';
import { redrive, type RedriveDeps, type RedriveReport } from '../../lambdas/core/redrive.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import { DEFAULT_STACK_NAME, DEFAULTS } from '../../lib/config.ts';
import { deployableTables } from '../../lib/tables.ts';
import { requireOutput, stackOutputs } from '../aws/stack.ts';
import { dataDirLayout, requireDataDir } from '../local/data-dir.ts';
import { LocalLake } from '../local/local-lake.ts';
import { UsageError } from './errors.ts';
import { endProgress, print, printJson, progressLine } from './output.ts';
import { formatTable } from './table.ts';

/** The flags of `streamlake redrive`. */
export interface RedriveFlags {
  table: string;
  dataDir: string;
  tables: string;
  codec: Codec;
  reason?: QuarantineReason;
  since?: number;
  dryRun?: boolean;
  json?: boolean;
  aws?: boolean;
  stack?: string;
  maxRecordBytes: number;
  maxEventAgeHours: number;
  maxEventFutureMinutes: number;
}

/** The AWS clients `redrive --aws` works with; built from the environment's region and credentials unless given. */
export interface RedriveAwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly glue: GlueClient;
}

/** `streamlake redrive`: {@link redrive} on the local lake, or with `--aws` on the deployed one. */
export async function redriveCommand(flags: RedriveFlags, command?: Command, clients?: RedriveAwsClients): Promise<void> {
  const declared = deployableTables(flags.tables);
  const clock = { now: Date.now };
  const showProgress: RedriveDeps['onProgress'] = (p) =>
    progressLine(p.phase === 'judge' ? `${flags.table}: judged ${p.done}/${p.total} quarantine files` : `${flags.table}: committed ${p.done}/${p.total} redrive runs`, p.done === p.total);
  let table: TableSpec;
  let deps: RedriveDeps;
  if (flags.aws) {
    if (command?.getOptionValueSource('dataDir') === 'cli') throw new UsageError("--data-dir names a local lake; with --aws the lake is the stack's bucket: drop one of them");
    table = tableNamed(declared, flags.table);
    deps = { ...(await deployedLake(table, flags.stack ?? DEFAULT_STACK_NAME, clients ?? { cloudFormation: new CloudFormationClient({}), s3: new S3Client({}), glue: new GlueClient({}) })), encoder: parquetEncoder(), clock, onProgress: showProgress };
  } else {
    if (flags.stack !== undefined) throw new UsageError('--stack names the deployed stack: pass --aws with it');
    requireDataDir(flags.dataDir);
    const lake = new LocalLake(dataDirLayout(flags.dataDir).lakeDir);
    table = lake.resolve(tableNamed(declared, flags.table));
    deps = { store: lake.store, encoder: parquetEncoder(), clock, format: lake.format(table, clock), onProgress: showProgress };
  }
  const report = await redrive(deps, {
    table, codec: flags.codec, maxRecordsPerRun: DEFAULTS.maxRecordsPerRun, limits: validationLimits(flags), dryRun: flags.dryRun === true,
    ...(flags.reason === undefined ? {} : { reason: flags.reason }), ...(flags.since === undefined ? {} : { since: flags.since }),
  });
  endProgress();
  if (flags.json) printJson(report);
  else print(describeRedrive(report));
}

/** The deployed stack's lake bucket, as the store, and the table's format over it (the Glue catalog of the stack's database for an Iceberg table). */
async function deployedLake(table: TableSpec, stack: string, clients: RedriveAwsClients): Promise<Pick<RedriveDeps, 'store' | 'format'>> {
  const outputs = await stackOutputs(clients.cloudFormation, stack);
  const bucket = requireOutput(outputs, 'LakeBucket', stack);
  const store = new S3ObjectStore(clients.s3, bucket);
  const lakeUri = `s3://${bucket}/`;
  const database = table.format === 'iceberg' ? requireOutput(outputs, 'GlueDatabase', stack) : '';
  return { store, format: tableFormatOf(table, { store, catalog: new GlueCatalog(clients.glue, { database, lakeUri, tables: [table] }), lakeUri, clock: { now: Date.now } }) };
}

/** A redrive's report as `streamlake redrive` prints it. */
export function describeRedrive(report: RedriveReport): string {
  const judged = report.redriven + report.stillFailing;
  const lines: string[] = [];
  if (report.dryRun) {
    lines.push(
      judged === 0
        ? `${report.table}: no quarantined record to judge (dry run)`
        : `${report.table} (dry run, nothing written): ${report.redriven} of ${judged} quarantined record${judged === 1 ? '' : 's'} would pass now and land with their Kafka lineage; ${report.stillFailing} still fail`,
    );
  } else if (report.runs.length === 0) {
    lines.push(judged === 0 ? `${report.table}: no quarantined record to redrive` : `${report.table}: none of the ${judged} quarantined records passes the current declaration and limits; nothing redriven`);
  } else {
    lines.push(
      `${report.table}: redrove ${report.redriven} record${report.redriven === 1 ? '' : 's'} into the table with their Kafka lineage in ${report.runs.length === 1 ? `run ${report.runs[0]}` : `runs ${report.runs.join(', ')}`}` +
        `${report.resumed ? ' (finishing a redrive that was interrupted or ran at the same time)' : ''}; ${report.stillFailing} stay in quarantine`,
    );
  }
  const byReason = Object.entries(report.byReason).map(([reason, counts]) => ({ 'quarantined as': reason, [report.dryRun ? 'would pass' : 'redriven']: counts.redriven, 'still failing': counts.stillFailing }));
  if (byReason.length > 0) lines.push(formatTable(Object.keys(byReason[0]!), byReason).replace(/^/gm, '  '));
  const now = Object.entries(report.stillFailingByReason);
  if (now.length > 0) lines.push(`  still failing, by the reason now: ${now.map(([reason, n]) => `${reason} ${n}`).join(', ')}`);
  if (report.pending !== null) {
    lines.push(`  redrive run ${report.pending.sequence}, claimed ${report.pending.claimedAt}, has not committed (a redrive crashed): the next redrive finishes it first`);
  }
  if (report.dryRun && report.sample.length > 0) {
    lines.push('  sample of records that would pass:');
    for (const s of report.sample) lines.push(`    partition ${s.kafka_partition} offset ${s.kafka_offset} (was ${s.reason}): ${s.value}`);
  }
  for (const file of report.files) lines.push(`  ${file}`);
  return lines.join('\n');
}
