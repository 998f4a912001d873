import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Stops detached delivery processes the tests left retrying.
    globalSetup: ['test/global-teardown.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // End-to-end suites start real MLflow servers and the real Claude Code CLI:
    // keep them from starving each other on small CI machines.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
