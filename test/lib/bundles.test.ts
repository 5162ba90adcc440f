import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleHandler } from '../../tools/lambda-bundle.ts';

// Inside the project, so the AWS SDK the Lambda runtime supplies (and the bundle leaves out) resolves from node_modules.
const cacheDir = join(import.meta.dirname, '..', '..', 'node_modules', '.cache');
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(join(cacheDir, 'bundles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Lambda bundles', () => {
  it.each(['generator', 'compactor', 'topic-manager'])('%s bundles as cdk deploy bundles it and loads in a fresh Node.js process', async (name) => {
    const outfile = join(dir, name, 'index.mjs');
    await bundleHandler(name, outfile);
    const script = `const module = await import(${JSON.stringify(outfile)}); console.log(typeof module.handler);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);
});
