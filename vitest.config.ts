import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real supervisors, children and servers on loopback; on a
    // 2-core machine running many of them at once makes timing-sensitive tests flaky.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
