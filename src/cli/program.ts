import packageJson from '../../package.json' with { type: 'json' };
import { Command, InvalidArgumentError, Option } from 'commander';
import { QUARANTINE_REASONS, type QuarantineReason } from '../../lambdas/core/decode.ts';
import { PARTITION_BY, TABLE_FORMATS } from '../../lambdas/core/table-declaration.ts';
import { CODECS } from '../../lambdas/ports/parquet.ts';
import { DEFAULT_STACK_NAME, DEFAULTS } from '../../lib/config.ts';
import { DEMO_TABLE } from '../../lib/tables.ts';
import { DEFAULT_DATA_DIR } from '../local/data-dir.ts';
import type { AsOf } from '../local/duckdb-lake.ts';
import { STATUS_DEFAULTS } from '../local/status-thresholds.ts';
import { DEFAULT_TABLES_DIR } from '../local/tables-dir.ts';
import { integer, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, zonedInstant } from './arguments.ts';

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

function asOf(value: string): AsOf {
  if (/^\d+$/.test(value)) return { snapshotId: value };
  const timestampMs = zonedInstant(value);
  if (timestampMs === undefined) throw new InvalidArgumentError('must be a snapshot id (digits) or an ISO-8601 instant with its zone, e.g. 2026-01-31T12:00:00Z.');
  return { timestampMs };
}

function reason(value: string): QuarantineReason {
  if (!(QUARANTINE_REASONS as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${QUARANTINE_REASONS.join(', ')}.`);
  return value as QuarantineReason;
}

/** `2026-11-27` (from the start of that UTC day) or an instant with its zone. */
function since(value: string): number {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(value) ? zonedInstant(`${value}T00:00:00Z`) : zonedInstant(value);
  if (parsed === undefined) throw new InvalidArgumentError('must be a UTC date (2026-11-27) or an ISO-8601 instant with its zone (2026-11-27T10:00:00Z).');
  return parsed;
}

// Unreferenced files younger than this may belong to a commit in flight (a compactor's, another optimize's).
const MIN_RETENTION_DAYS = 1;

function retentionDays(value: string): number {
  const days = positiveNumber(value);
  if (days < MIN_RETENTION_DAYS) throw new InvalidArgumentError(`must be ${MIN_RETENTION_DAYS} or more: an unreferenced file younger than ${MIN_RETENTION_DAYS} day may belong to a commit still in flight.`);
  return days;
}

const dataDirOption = () => new Option('--data-dir <dir>', 'data directory of the local pipeline').default(DEFAULT_DATA_DIR);
const tablesOption = () => new Option('--tables <dir>', 'directory of the table declarations (<table>.schema.json, <table>/*.sql, tables.lock.json)').default(DEFAULT_TABLES_DIR, "the project's tables/");
const codecOption = () => new Option('--codec <codec>', 'Parquet compression').choices(CODECS).default(DEFAULTS.codec);
const kafkaOption = () =>
  new Option('--kafka <host:port>', "use this Apache Kafka (bootstrap brokers, comma-separated) instead of the embedded logs; creates each table's topic if absent").argParser(brokers);
const shardsOption = () =>
  new Option('--shards <n>', 'compactor shards per table, run concurrently: shard i owns the partitions p with p mod n = i (the deployed compactorShards)').argParser(positiveInt).default(1);
const partitionsOption = () => new Option('--partitions <n>', 'partitions of a topic created now (an existing topic can grow, never shrink)').argParser(positiveInt);

/** The `streamlake` command line: every command, its flags and their parsers. */
export function buildProgram(): Command {
  const program = new Command('streamlake')
    .description('Kafka topics into an analytics-ready Parquet lake: run the pipeline locally, or query it locally and on Athena.')
    .version(packageJson.version, '-V, --version', 'print the streamlake version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('local')
    .description('run the pipeline on simulated time: the device fleet produces device_logs every minute, every declared table is compacted every 5 minutes, then the lake is queried; stop it at any time and run it again to continue')
    .option('--minutes <n>', 'simulated minutes of traffic', positiveInt, 60)
    .option('--devices <n>', 'simulated devices', positiveInt, DEFAULTS.devices)
    .option('--seed <n>', 'seed of the simulated fleet', integer, DEFAULTS.seed)
    .addOption(partitionsOption())
    .option('--start <iso>', 'first simulated minute, not before the saved clock (default: where the last run stopped, or --minutes before now)', instant)
    .addOption(kafkaOption())
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .addOption(codecOption())
    .addOption(new Option('--table-format <format>', `format of the fleet's table ${DEMO_TABLE} when this run creates it (an existing table keeps its own)`).choices(TABLE_FORMATS))
    .addOption(shardsOption())
    .option('--json', 'print only a JSON summary')
    .action(async (flags) => (await import('./local-command.ts')).localCommand(flags));

  program
    .command('produce')
    .description("append records to a table's topic: each line of the file (or stdin) becomes one record value, keyed by the declaration's x-streamlake.key field")
    .option('--table <name>', 'the table the records are for (may be left out when one table is declared)')
    .option('--file <path>', 'read lines from this file instead of stdin')
    .addOption(kafkaOption())
    .addOption(partitionsOption())
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .option('--json', 'print a JSON summary')
    .action(async (flags) => (await import('./topic-commands.ts')).produceCommand(flags));

  program
    .command('compact')
    .description('run the compactor once per table: topic → Parquet in the lake, bad records → quarantine')
    .option('--table <name>', 'compact only this table (default: every declared table)')
    .addOption(kafkaOption())
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .addOption(codecOption())
    .addOption(shardsOption())
    .option('--json', 'print the run reports as JSON, by table')
    .action(async (flags) => (await import('./topic-commands.ts')).compactCommand(flags));

  program
    .command('query')
    .description('run SQL (or a named query) on the lake: a view per declared table and per quarantine table, locally on DuckDB or with --athena on AWS')
    .argument('[sql]', 'the SQL to run')
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .option('--named <name>', 'run a named query (see `streamlake queries`)')
    .option('--athena', 'run on Athena against the deployed lake (AWS credentials and region from the environment)')
    .option('--workgroup <name>', `Athena workgroup, with --athena (default: ${DEFAULTS.athenaWorkgroup})`)
    .option('--database <name>', `Glue database, with --athena (default: ${DEFAULTS.glueDatabase})`)
    .option('--json', 'print rows as JSON')
    .option('--unsafe-sql', 'give the SQL DuckDB\'s full file access (default: one SELECT that reads only the lake\'s files)')
    .option('--as-of <snapshot-or-time>', 'read Iceberg tables as they were: a snapshot id (see <table>_snapshots) or an ISO-8601 instant', asOf)
    .action(async (sql, flags, command) => (await import('./query-commands.ts')).queryCommand(sql, flags, command));

  program
    .command('optimize')
    .description('maintain the Iceberg tables of the local lake: merge the small files of closed partitions in one atomic commit, expire old snapshots, remove files nothing references')
    .option('--table <name>', 'optimize only this table (default: every Iceberg table)')
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .addOption(codecOption())
    .addOption(new Option('--target-file-mb <n>', 'size the merged files aim at, in MB').argParser(positiveNumber).default(DEFAULTS.optimizeTargetFileMb))
    .addOption(new Option('--retention-days <n>', `keep snapshots (time travel) and unreferenced files this long, at least ${MIN_RETENTION_DAYS}`).argParser(retentionDays).default(DEFAULTS.optimizeRetentionDays))
    .addOption(
      new Option('--closed-after-hours <n>', 'merge a partition once it ended this long ago; by default maxEventAgeHours, after which no record can land in it').argParser(nonNegativeNumber).default(DEFAULTS.maxEventAgeHours),
    )
    .option('--json', 'print the reports as JSON, by table')
    .action(async (flags) => (await import('./optimize-command.ts')).optimizeCommand(flags));

  program
    .command('status')
    .description('is the pipeline healthy? per table: last run, a stuck claim, lag, freshness, last day\'s quarantine; exit 0 when healthy, 1 with the reasons when something needs attention')
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .addOption(kafkaOption())
    .option('--aws', 'the deployed pipeline: stack outputs, MSK cluster, alarms, dead-letter queue, checkpoints in S3 (AWS credentials and region from the environment)')
    .option('--stack <name>', `CloudFormation stack, with --aws (default: ${DEFAULT_STACK_NAME})`)
    .addOption(new Option('--stuck-after-minutes <n>', 'a claimed run older than this is stuck').argParser(positiveNumber).default(STATUS_DEFAULTS.stuckAfterMinutes, `${STATUS_DEFAULTS.stuckAfterMinutes}: 2 compactor periods`))
    .addOption(new Option('--stale-after-minutes <n>', 'the newest event older than this is stale data').argParser(positiveNumber).default(STATUS_DEFAULTS.staleAfterMinutes, `${STATUS_DEFAULTS.staleAfterMinutes}: 3 compactor periods`))
    .addOption(new Option('--max-lag <records>', 'total lag above this needs attention').argParser(nonNegativeInt).default(STATUS_DEFAULTS.maxLag, `${STATUS_DEFAULTS.maxLag}: maxRecordsPerRun, what one run reads`))
    .option('--json', 'print the status as JSON: { healthy, reasons, tables } (and cluster, alarms, deadLetters with --aws)')
    .action(async (flags, command) => (await import('./status-command.ts')).statusCommand(flags, command));

  program
    .command('redrive')
    .description("judge a table's quarantined records again by its current declaration and limits: those that pass land in the table with their Kafka lineage, exactly once")
    .requiredOption('--table <name>', 'the table whose quarantine to redrive')
    .addOption(new Option('--reason <reason>', 'only records quarantined for this reason').argParser(reason))
    .addOption(new Option('--since <date>', 'only records with a Kafka timestamp from this UTC date (2026-11-27) or instant on').argParser(since))
    .option('--dry-run', 'count what would pass, by reason, and show a sample; write nothing')
    .option('--json', 'print the report as JSON')
    .addOption(dataDirOption())
    .addOption(tablesOption())
    .addOption(codecOption())
    .option('--aws', "redrive the deployed lake: the stack's bucket (and Glue catalog for Iceberg tables), with AWS credentials and region from the environment; no Kafka access needed")
    .option('--stack <name>', `CloudFormation stack, with --aws (default: ${DEFAULT_STACK_NAME})`)
    .addOption(new Option('--max-record-bytes <n>', 'the limit the deployment validates with (maxRecordBytes)').argParser(positiveNumber).default(DEFAULTS.maxRecordBytes))
    .addOption(new Option('--max-event-age-hours <n>', 'the limit the deployment validates with (maxEventAgeHours)').argParser(positiveNumber).default(DEFAULTS.maxEventAgeHours))
    .addOption(new Option('--max-event-future-minutes <n>', 'the limit the deployment validates with (maxEventFutureMinutes)').argParser(positiveNumber).default(DEFAULTS.maxEventFutureMinutes))
    .action(async (flags, command) => (await import('./redrive-command.ts')).redriveCommand(flags, command));

  program.command('queries').description("list every table's named queries").addOption(tablesOption()).option('--json', 'print as JSON').action(async (flags) => (await import('./query-commands.ts')).queriesCommand(flags));
  program.command('tables').description('list the declared tables with their topic, key, event time, partitioning and columns').addOption(tablesOption()).option('--json', 'print as JSON').action(async (flags) => (await import('./table-commands.ts')).tablesCommand(flags));

  const schema = program.command('schema').description('check, lock or infer table declarations');
  schema.command('check').description('check the declarations against tables.lock.json: exit 0 when compatible, 1 with the reasons when not').addOption(tablesOption()).action(async (flags) => (await import('./table-commands.ts')).schemaCheckCommand(flags));
  schema.command('lock').description('record the declared shape of every table in tables.lock.json, after the same check; run it before deploying a changed declaration').addOption(tablesOption()).action(async (flags) => (await import('./table-commands.ts')).schemaLockCommand(flags));
  schema
    .command('infer')
    .description('print a starting declaration for sample records, with the types DuckDB detects in them')
    .requiredOption('--file <path>', 'sample records, one JSON object per line')
    .requiredOption('--table <name>', 'the table name')
    .requiredOption('--topic <topic>', 'the Kafka topic its records come from')
    .option('--event-time <field>', 'the event-time field (default: the first field that is a date-time in every record)')
    .option('--key <field>', 'the record-key field')
    .addOption(new Option('--partition-by <unit>', 'partition the table by hour or day').choices(PARTITION_BY).default('hour'))
    .action(async (flags) => (await import('./table-commands.ts')).schemaInferCommand(flags));
  return program;
}
