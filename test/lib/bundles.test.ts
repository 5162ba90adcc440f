import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bundleHandler } from '../../tools/lambda-bundle.ts';

describe('Lambda bundles', () => {
  it.each(['generator', 'compactor', 'topic-manager'])('%s bundles as cdk deploy bundles it and loads in a fresh Node.js process', async (name) => {
    const outfile = await bundleHandler(name);
    const script = `const module = await import(${JSON.stringify(outfile)}); console.log(typeof module.handler);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);
});
