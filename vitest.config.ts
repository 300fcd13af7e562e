import { join } from 'node:path';
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
    // Every drover, CLI command and child the tests start compiles the same sources: Node keeps
    // the compiled code here (node_modules/.cache, not in git) and the next start reuses it.
    env: { NODE_COMPILE_CACHE: join(import.meta.dirname, 'node_modules/.cache/node-compile') },
  },
});
