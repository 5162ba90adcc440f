#!/usr/bin/env node
import { CommanderError } from 'commander';
import { InterruptedError, isUsageError } from './errors.ts';
import { buildProgram } from './program.ts';

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
    return isUsageError(error) ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
