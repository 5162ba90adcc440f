import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { fileURLToPath } from 'node:url';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';

/** The entry file of a handler in lambdas/handlers/. */
export function handlerEntry(name: string): string {
  return fileURLToPath(new URL(`../../lambdas/handlers/${name}.ts`, import.meta.url));
}

/**
 * Import substitutions for the bundle. The Kafka client's WebAssembly helpers read `native.wasm`
 * next to their own file, which no longer exists once bundled; their `bundled` entry embeds it.
 */
export const BUNDLE_ALIASES = { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' } as const;

/**
 * What every streamlake function shares: Node.js 24 on ARM64, an ES module bundle from the local
 * esbuild that carries the AWS SDK of package-lock.json (`bundleAwsSDK`), not the runtime's.
 */
export const NODE_FUNCTION_DEFAULTS = {
  handler: 'handler',
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  loggingFormat: lambda.LoggingFormat.JSON,
  environment: { NODE_OPTIONS: '--enable-source-maps' },
  bundling: {
    format: nodejs.OutputFormat.ESM,
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    esbuildArgs: Object.fromEntries(Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to])),
    forceDockerBundling: false,
    // The handlers rely on S3 conditional writes (If-None-Match / If-Match) and on the credential
    // providers the MSK IAM signer uses: they run on the SDK versions we pin and test, whatever the
    // runtime ships. Costs bundle size and cold-import time (README, Performance).
    bundleAwsSDK: true,
  },
} satisfies Partial<nodejs.NodejsFunctionProps>;

/** Where a compactor's bundle holds its table's declaration (`/var/task` is the function's code). */
export const BUNDLED_TABLES_DIR = '/var/task/tables';

/** A path quoted for the shell that runs the bundling hooks. */
function shellQuoted(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * Bundling that puts `table`'s declaration in the bundle under {@link BUNDLED_TABLES_DIR}: a
 * handler reads its table's declaration at run time, and only this table's, so another table's
 * change leaves this bundle as it is.
 */
export function withDeclaration(table: TableSpec): nodejs.BundlingOptions {
  return {
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) => [`mkdir -p ${shellQuoted(`${outputDir}/tables`)}`, `cp ${shellQuoted(table.source)} ${shellQuoted(`${outputDir}/tables/`)}`],
    },
  };
}
