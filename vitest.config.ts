import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real HTTP, real SQLite files and child processes: give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Processes the tests spawn through agent/bin/scanpay.js run these sources, not dist/.
    env: { SCANPAY_SOURCE: '1' },
  },
});
