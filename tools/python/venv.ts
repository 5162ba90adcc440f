import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedBuild, run, tail } from '../jvm.ts';

/**
 * The Python tools the tests read our lake with (pyiceberg and pyarrow), in a virtual environment
 * of the project's: `.tools/python-<hash>/venv`, made once from the pinned `requirements.txt` with
 * the `python3` on PATH and pip from PyPI; editing the requirements (or another Python) makes a
 * new one. `.tools/` is git-ignored.
 */

const REQUIREMENTS = join(import.meta.dirname, 'requirements.txt');
const TOOLS_DIR = join(import.meta.dirname, '..', '..', '.tools');
/** pyarrow 26 supports Python 3.10 and newer. */
const MIN_PYTHON = [3, 10] as const;

/** Python is missing or too old, or pip could not install the requirements. */
export class PythonToolsError extends Error {
  override name = 'PythonToolsError';
}

/** A ready environment: its interpreter, and how long making it took (0 when it was there). */
export interface PythonTools {
  readonly python: string;
  readonly installMs: number;
}

/** The environment, made first if need be. */
export async function pythonTools(): Promise<PythonTools> {
  const version = await pythonVersion();
  const requirements = await readFile(REQUIREMENTS, 'utf8');
  const hash = createHash('sha256').update(version).update(requirements).digest('hex').slice(0, 8);
  const started = Date.now();
  let built = false;
  const venv = await cachedBuild(join(TOOLS_DIR, `python-${hash}`), 'venv', async (staging) => {
    built = true;
    await step('python3', ['-m', 'venv', staging], 'creating a virtual environment');
    await step(join(staging, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '-r', REQUIREMENTS], 'installing tools/python/requirements.txt from PyPI');
  });
  return { python: join(venv, 'bin', 'python'), installMs: built ? Date.now() - started : 0 };
}

async function pythonVersion(): Promise<string> {
  const found = await run('python3', ['--version']).catch(() => ({ code: -1, output: '' }));
  const match = /Python (\d+)\.(\d+)\.(\d+)/.exec(found.output);
  if (found.code !== 0 || !match) throw new PythonToolsError('python3 was not found on PATH: the Python readers of the lake need Python 3.10+ with venv (apt-get install python3 python3-venv)');
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new PythonToolsError(`the Python readers of the lake need Python ${MIN_PYTHON.join('.')}+, and python3 is ${match[0]}`);
  }
  return match[0];
}

async function step(command: string, args: readonly string[], what: string): Promise<void> {
  const result = await run(command, args);
  if (result.code !== 0) throw new PythonToolsError(`${what} failed (is PyPI reachable? pip reads PIP_INDEX_URL for a mirror):\n${tail(result.output)}`);
}
