import { build } from 'esbuild';
import { BUNDLE_ALIASES, handlerEntry, NODE_FUNCTION_DEFAULTS } from '../lib/functions/lambda-defaults.ts';

/**
 * Bundles a handler with the settings `cdk deploy` uses (NODE_FUNCTION_DEFAULTS), leaving out the
 * AWS SDK as the CDK does for the Node.js runtimes that ship it. For tests and the benchmark.
 */
export async function bundleHandler(name: string, outfile: string): Promise<void> {
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
}
