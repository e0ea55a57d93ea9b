import { defineConfig } from 'vitest/config';

// `npm run test:faults`: the fault and load suite. Bounded in count and time, 127.0.0.1 only. Two
// files at a time: the one that stops and starts PostgreSQL does it to one of its own, the token
// rotation cuts only its own role's connections, and every wait is on a condition, not a time.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
