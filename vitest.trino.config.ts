import { defineConfig } from 'vitest/config';

/** Trino tests: the shipped Athena SQL and the Glue table declarations against one real Trino server per run. */
export default defineConfig({
  test: {
    include: ['test/trino/**/*.test.ts'],
    globalSetup: ['test/trino/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
