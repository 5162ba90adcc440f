import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_ALIASES, handlerEntry, NODE_FUNCTION_DEFAULTS } from '../../../lib/functions/lambda-defaults.ts';

// Outside the project, so nothing can resolve from node_modules: the bundle must carry its SDK.
const dir = mkdtempSync(join(tmpdir(), 'streamlake-bootstrap-brokers-'));

describe('bootstrap brokers bundle', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carries the pinned @aws-sdk/client-kafka (bundleAwsSDK) and loads in a fresh Node.js process', async () => {
    const outfile = join(dir, 'index.mjs');
    const bundling = NODE_FUNCTION_DEFAULTS.bundling;
    // As cdk bundles it with bundleAwsSDK: nothing external.
    await build({
      entryPoints: [handlerEntry('bootstrap-brokers')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: bundling.target,
      mainFields: bundling.mainFields,
      minify: bundling.minify,
      banner: { js: bundling.banner },
      alias: BUNDLE_ALIASES,
      logLevel: 'silent',
    });
    expect(readFileSync(outfile, 'utf8')).not.toMatch(/from\s*["']@aws-sdk\//);
    const script = `const module = await import(${JSON.stringify(outfile)}); console.log(typeof module.handler);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);
});
