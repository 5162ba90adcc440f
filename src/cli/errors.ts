import { constants as osConstants } from 'node:os';

/** The command was called wrong; the message says how to call it. */
export class UsageError extends Error {
  override name = 'UsageError';
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
