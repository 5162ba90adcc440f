import { constants as osConstants } from 'node:os';

/** The command was called wrong; the message says how to call it. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Errors that mean the command was called wrong, or on a malformed declaration: exit code 2, like a
 * bad flag. Everything else, an incompatible declaration (IncompatibleSchemaError) or a failing
 * query included, exits 1. Known by name, so that deciding loads none of the modules that throw
 * them: `streamlake --version` and each command load only what they use.
 */
const USAGE_ERRORS = new Set([
  'DataDirError', 'UnknownQueryError', 'LocalLogError', 'WriterLockError', 'KafkaConfigError', 'KafkaTopicError', 'ClockError',
  'TableDeclarationError', 'NamedQueryError', 'FleetTableError', 'SchemaInferenceError', 'QueryRefusedError', 'TopicLimitError',
  'TableFormatConflictError', 'AsOfError',
]);

export function isUsageError(error: unknown): boolean {
  return error instanceof UsageError || (error instanceof Error && USAGE_ERRORS.has(error.name));
}

/** The signals that stop a long command early: Ctrl-C, and a polite kill. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** A signal stopped the command early; the message says what was done and how to go on. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  /** 128 + the signal's number, as a shell reports a process the signal ended. */
  readonly exitCode: number;

  constructor(message: string, signal: NodeJS.Signals) {
    super(message);
    this.exitCode = 128 + osConstants.signals[signal];
  }
}
