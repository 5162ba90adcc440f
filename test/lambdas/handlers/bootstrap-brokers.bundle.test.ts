import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleHandler } from '../../../tools/lambda-bundle.ts';

// Outside the project, so nothing can resolve from node_modules: the bundle must carry its SDK.
const dir = mkdtempSync(join(tmpdir(), 'streamlake-bootstrap-brokers-'));

describe('bootstrap brokers bundle', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carries the pinned @aws-sdk/client-kafka (bundleAwsSDK) and loads in a fresh Node.js process', async () => {
    // As cdk bundles it with bundleAwsSDK.
    const outfile = await bundleHandler('bootstrap-brokers', dir);
    expect(readFileSync(outfile, 'utf8')).not.toMatch(/from\s*["']@aws-sdk\//);
    const script = `const module = await import(${JSON.stringify(outfile)}); console.log(typeof module.handler);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);
});
