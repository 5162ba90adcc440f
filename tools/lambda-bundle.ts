import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_ALIASES, handlerEntry, NODE_FUNCTION_DEFAULTS } from '../lib/functions/lambda-defaults.ts';

// Inside the project, so the AWS SDK the Lambda runtime supplies (and the bundle leaves out) resolves from node_modules.
const BUNDLE_DIR = join(import.meta.dirname, '..', 'node_modules', '.cache', 'streamlake-bundles');

/**
 * Bundles a handler with the settings `cdk deploy` uses (NODE_FUNCTION_DEFAULTS), leaving out the
 * AWS SDK as the CDK does for the Node.js runtimes that ship it, and returns the bundle's path.
 * For tests and the benchmark.
 */
export async function bundleHandler(name: string): Promise<string> {
  const outfile = join(BUNDLE_DIR, name, 'index.mjs');
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
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
  return outfile;
}
