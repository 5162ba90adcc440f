#!/usr/bin/env node
import { CommanderError } from 'commander';
import { KafkaConfigError, KafkaTopicError } from '../../lambdas/adapters/kafka.ts';
import { LocalLogError } from '../../lambdas/adapters/local-log.ts';
import { WriterLockError } from '../../lambdas/adapters/local-writer-lock.ts';
import { NamedQueryError, UnknownQueryError } from '../../lambdas/core/queries.ts';
import { TableDeclarationError } from '../../lambdas/core/table-declaration.ts';
import { ClockError } from '../local/clock.ts';
import { DataDirError } from '../local/data-dir.ts';
import { AsOfError, QueryRefusedError } from '../local/duckdb-lake.ts';
import { TableFormatConflictError } from '../local/local-lake.ts';
import { FleetTableError } from '../local/runner.ts';
import { SchemaInferenceError } from '../local/schema-inference.ts';
import { TopicLimitError } from '../local/topics.ts';
import { InterruptedError, UsageError } from './errors.ts';
import { buildProgram } from './program.ts';

// Errors that mean the command was called wrong, or on a malformed declaration: exit code 2, like a bad flag.
// Everything else, an incompatible declaration (IncompatibleSchemaError) or a failing query included, exits 1.
const USAGE_ERRORS = [
  UsageError, DataDirError, UnknownQueryError, LocalLogError, WriterLockError, KafkaConfigError, KafkaTopicError, ClockError,
  TableDeclarationError, NamedQueryError, FleetTableError, SchemaInferenceError, QueryRefusedError, TopicLimitError,
  TableFormatConflictError, AsOfError,
];

/** Runs `streamlake <argv>` and resolves to its exit code; errors are printed as one `streamlake: …` message. */
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
