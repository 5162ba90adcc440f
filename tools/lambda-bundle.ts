import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_ALIASES, handlerEntry, NODE_FUNCTION_DEFAULTS } from '../lib/functions/lambda-defaults.ts';

// Inside the project, so what the bundle leaves out resolves from node_modules.
const BUNDLE_DIR = join(import.meta.dirname, '..', 'node_modules', '.cache', 'streamlake-bundles');

/**
 * Bundles a handler with the settings `cdk deploy` uses (NODE_FUNCTION_DEFAULTS), the AWS SDK
 * included, into `dir` (by default a cache inside the project), and returns the bundle's path.
 * For tests and the benchmark.
 */
export async function bundleHandler(name: string, dir: string = join(BUNDLE_DIR, name)): Promise<string> {
  const outfile = join(dir, 'index.mjs');
  const bundling = NODE_FUNCTION_DEFAULTS.bundling;
  await build({
    entryPoints: [handlerEntry(name)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: bundling.target,
    mainFields: bundling.mainFields,
    minify: bundling.minify,
    banner: { js: bundling.banner },
    alias: BUNDLE_ALIASES,
    // The SDK is bundled, as the deployed functions bundle it (bundleAwsSDK); only its optional CRT and SigV4a signers stay out, as they do there.
    external: ['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a'],
    logLevel: 'silent',
  });
  return outfile;
}
