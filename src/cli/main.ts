#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULTS } from '../../lib/config.ts';
import { CODECS } from '../../lambdas/ports/parquet.ts';
import { KafkaConfigError, KafkaTopicError } from '../../lambdas/adapters/kafka.ts';
import { LocalLogError } from '../../lambdas/adapters/local-log.ts';
import { WriterLockError } from '../../lambdas/adapters/local-writer-lock.ts';
import { UnknownQueryError } from '../../lambdas/core/queries.ts';
import { ClockError } from '../local/clock.ts';
import { DataDirError, DEFAULT_DATA_DIR } from '../local/data-dir.ts';
import { compactCommand, InterruptedError, localCommand, produceCommand, queriesCommand, queryCommand, UsageError } from './commands.ts';

// Errors that mean the command was called wrong: exit code 2, like a bad flag.
const USAGE_ERRORS = [UsageError, DataDirError, UnknownQueryError, LocalLogError, WriterLockError, KafkaConfigError, KafkaTopicError, ClockError];

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer.');
  return parsed;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError('must be an integer.');
  return parsed;
}

function brokers(value: string): string[] {
  const list = value.split(',').map((broker) => broker.trim());
  if (!list.every((broker) => /^[^\s:]+:\d+$/.test(broker))) throw new InvalidArgumentError('must be host:port, or several separated by commas, e.g. localhost:9092.');
  return list;
}

function instant(value: string): number {
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed) || parsed % 60_000 !== 0) throw new InvalidArgumentError('must be an ISO-8601 UTC minute, e.g. 2026-01-31T12:00Z.');
  return parsed;
}

const dataDirOption = () => new Option('--data-dir <dir>', 'data directory of the local pipeline').default(DEFAULT_DATA_DIR);
const codecOption = () => new Option('--codec <codec>', 'Parquet compression').choices(CODECS).default(DEFAULTS.codec);

export function buildProgram(): Command {
  const program = new Command('streamlake')
    .description('Kafka topics into an analytics-ready Parquet lake: run the pipeline locally, or query it locally and on Athena.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('local')
    .description('run the whole pipeline on simulated time: generator every minute, compactor every 5 minutes, then query the lake; stop it at any time and run it again to continue')
    .option('--minutes <n>', 'simulated minutes of traffic', positiveInt, 60)
    .option('--devices <n>', 'simulated devices', positiveInt, DEFAULTS.devices)
    .option('--seed <n>', 'seed of the simulated fleet', integer, DEFAULTS.seed)
    .option('--partitions <n>', 'partitions of the topic (can grow, never shrink)', positiveInt)
    .option('--start <iso>', 'first simulated minute, not before the saved clock (default: where the last run stopped, or --minutes before now)', instant)
    .option('--kafka <host:port>', 'use this Apache Kafka (bootstrap brokers, comma-separated) instead of the embedded log; creates the topic if absent', brokers)
    .addOption(dataDirOption())
    .addOption(codecOption())
    .option('--json', 'print only a JSON summary')
    .action(localCommand);

  program
    .command('produce')
    .description('append records to the topic: each line of the file (or stdin) becomes one record value')
    .addOption(dataDirOption())
    .option('--file <path>', 'read lines from this file instead of stdin')
    .option('--key-field <name>', 'use this JSON field of each line as the record key')
    .option('--json', 'print a JSON summary')
    .action(produceCommand);

  program
    .command('compact')
    .description('run the compactor once: topic → Parquet in the lake, bad records → quarantine')
    .addOption(dataDirOption())
    .addOption(codecOption())
    .option('--json', 'print the run report as JSON')
    .action(compactCommand);

  program
    .command('query')
    .description('run SQL (or a named query) on the lake: tables device_logs and device_logs_quarantine, locally on DuckDB or with --athena on AWS')
    .argument('[sql]', 'the SQL to run')
    .addOption(dataDirOption())
    .option('--named <name>', 'run a named query (see `streamlake queries`)')
    .option('--athena', 'run on Athena against the deployed lake (AWS credentials and region from the environment)')
    .option('--workgroup <name>', `Athena workgroup, with --athena (default: ${DEFAULTS.athenaWorkgroup})`)
    .option('--database <name>', `Glue database, with --athena (default: ${DEFAULTS.glueDatabase})`)
    .option('--json', 'print rows as JSON')
    .action(queryCommand);

  program.command('queries').description('list the named queries').option('--json', 'print as JSON').action(queriesCommand);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are exits with code 0; everything else is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`streamlake: ${(error as Error).message}\n`);
    if (error instanceof InterruptedError) return error.exitCode;
    return USAGE_ERRORS.some((type) => error instanceof type) ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
