import { defineConfig } from 'vitest/config';

/** Integration tests: the adapters and the pipeline against one real Apache Kafka broker per run. */
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The handlers' Powertools logs and EMF metrics would flood the test output; a test that reads the metrics turns them back on.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
