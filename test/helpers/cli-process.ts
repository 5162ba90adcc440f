import { spawn } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../src/cli/main.ts');

/** How a `streamlake` process ended and what it printed. */
export interface CliExit {
  readonly code: number | null;
  /** The signal that ended it, when it did not exit by itself. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `streamlake` process, for tests that stop it part way. */
export interface RunningCli {
  /** Resolves once stderr has printed `count` lines matching `pattern` (or rejects when the process ends first). */
  stderrLines(pattern: RegExp, count: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  readonly exit: Promise<CliExit>;
}

/** Starts `streamlake <args>` in a child process, stdin closed; `env` and `cwd` default to this process's. */
export function startStreamlake(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
  let stdout = '';
  let stderr = '';
  let waiters: (() => void)[] = [];
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    waiters.forEach((check) => check());
  });
  const exit = new Promise<CliExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    exit,
    kill: (signal) => void child.kill(signal),
    stderrLines: (pattern, count) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stderr.split('\n').filter((line) => pattern.test(line)).length < count) return;
          waiters = waiters.filter((waiter) => waiter !== check);
          resolve();
        };
        waiters.push(check);
        check();
        void exit.then(() => reject(new Error(`streamlake ${args.join(' ')} ended before printing ${count} lines matching ${pattern}:\n${stderr}`)));
      }),
  };
}
