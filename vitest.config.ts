import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real HTTP, real SQLite files and child processes: give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file in its own worker process, so that test/support/reap-children.ts can end
    // every process the file started, whatever happened to its tests.
    pool: 'forks',
    setupFiles: ['test/support/reap-children.ts'],
    // Processes the tests spawn through agent/bin/scanpay.js run these sources, not dist/.
    env: { SCANPAY_SOURCE: '1' },
  },
});
