import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleHandler } from '../../tools/lambda-bundle.ts';
import { synthStack } from '../helpers/synth.ts';

describe('Lambda bundles', () => {
  it.each(['generator', 'compactor', 'topic-manager', 'optimizer'])('%s bundles as cdk deploy bundles it and loads in a fresh Node.js process', async (name) => {
    const outfile = await bundleHandler(name);
    const script = `const module = await import(${JSON.stringify(outfile)}); console.log(typeof module.handler);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);

  it('carry the pinned AWS SDK (S3 conditional writes, the credential providers of the MSK IAM signer), not the runtime\'s', () => {
    const { app, stack } = synthStack({}, { bundle: true });
    const assembly = app.synth();
    const bundleOf = (fn: object) => {
      const code = stack.resolve((fn as { node: { defaultChild: { code: { s3Key: string } } } }).node.defaultChild.code.s3Key) as string;
      return readFileSync(join(assembly.directory, `asset.${code.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
    };
    const compactor = bundleOf(stack.functions.compactors.get('device_logs')!.fn);
    const generator = bundleOf(stack.functions.generator!);
    // An import of @aws-sdk/* would resolve to the runtime's copy.
    // (Matches only, so a failure does not print a megabyte of bundle.)
    // Only the SDK's optional SigV4a signers stay outside: it requires them lazily, for multi-region access points we do not use.
    const OPTIONAL = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);
    const outside = (bundle: string) => [...bundle.matchAll(/(?:from\s*|import\(\s*|require\(\s*)["'](@aws-sdk\/[^"']+)["']/g)].map((m) => m[1]!).filter((name) => !OPTIONAL.has(name));
    for (const bundle of [compactor, generator]) expect(outside(bundle)).toEqual([]);
    // The S3 client's service name, which only its code carries.
    expect(compactor.includes('"AmazonS3"'), 'the S3 client is in the compactor bundle').toBe(true);
    // The container credential provider of @aws-sdk/credential-providers, which the MSK IAM signer uses on Lambda too.
    for (const bundle of [compactor, generator]) expect(bundle.includes('AWS_CONTAINER_CREDENTIALS_FULL_URI'), 'the credential providers are in the bundle').toBe(true);
  }, 120_000);
});
