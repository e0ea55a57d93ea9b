import { defineConfig } from 'vitest/config';

// `npm run test:faults`: the fault and load suite. Bounded in count and time, 127.0.0.1 only; one
// file at a time, since some stop and start a PostgreSQL of their own.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
