import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores here: forks keep native better-sqlite3 handles and sockets isolated per file.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report feeds the summary line CI prints (.ci/run).
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
