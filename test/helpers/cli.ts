import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

const CLI = join(import.meta.dirname, '../../src/cli/main.ts');

/** What a `streamlake` process printed and how it exited. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  /** The whole environment of the process (default: this one's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Runs `streamlake <args>` in a child process. */
export function streamlake(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * `streamlake` on the declarations in `tables`: `run` passes `--tables`, and `json` adds `--json`,
 * expects success (exit 0, no error on stderr) and parses what it printed.
 */
export function streamlakeOn(tables: string): {
  run: (args: string[], input?: string) => Promise<CliResult>;
  json: <T>(args: string[], input?: string) => Promise<T>;
} {
  const run = (args: string[], input?: string) => streamlake([...args, '--tables', tables], { input });
  const json = async <T,>(args: string[], input?: string): Promise<T> => {
    const result = await run([...args, '--json'], input);
    expect(result.stderr).not.toContain('streamlake:');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  return { run, json };
}
