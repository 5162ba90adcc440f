import { describe, expect, it } from 'vitest';
import { KafkaConfigError, KafkaTopicError } from '../../../lambdas/adapters/kafka.ts';
import { LocalLogError } from '../../../lambdas/adapters/local-log.ts';
import { WriterLockError } from '../../../lambdas/adapters/local-writer-lock.ts';
import { IncompatibleSchemaError } from '../../../lambdas/adapters/table-directory.ts';
import { NamedQueryError, UnknownQueryError } from '../../../lambdas/core/queries.ts';
import { TableDeclarationError } from '../../../lambdas/core/table-declaration.ts';
import { StackNotFoundError } from '../../../src/aws/stack.ts';
import { isUsageError, UsageError } from '../../../src/cli/errors.ts';
import { ClockError } from '../../../src/local/clock.ts';
import { DataDirError } from '../../../src/local/data-dir.ts';
import { AsOfError, QueryRefusedError } from '../../../src/local/duckdb-lake.ts';
import { TableFormatConflictError } from '../../../src/local/local-lake.ts';
import { FleetTableError } from '../../../src/local/runner.ts';
import { SchemaInferenceError } from '../../../src/local/schema-inference.ts';
import { TopicLimitError } from '../../../src/local/topics.ts';

describe('exit codes', () => {
  // By name in the CLI (so it loads none of these modules): a renamed class would silently exit 1.
  it.each([
    UsageError, StackNotFoundError, DataDirError, UnknownQueryError, LocalLogError, WriterLockError, KafkaConfigError, KafkaTopicError, ClockError,
    TableDeclarationError, NamedQueryError, FleetTableError, SchemaInferenceError, QueryRefusedError, TopicLimitError, TableFormatConflictError, AsOfError,
  ])('%o is a usage error (exit 2)', (type) => {
    expect(isUsageError(new type('message'))).toBe(true);
  });

  it.each([IncompatibleSchemaError, Error, TypeError])('%o is not (exit 1)', (type) => {
    expect(isUsageError(new type('message'))).toBe(false);
  });
});
