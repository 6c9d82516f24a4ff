import { defineConfig } from 'vitest/config';

// Tests that start the agent, a browser, a Debian root or a chaos run as child processes
// are named `*.process.test.ts` and form their own project: `npx vitest run --project fast`
// stays quick while you work; `npm test` (and so CI) runs both.
const PROCESS_TESTS = 'test/**/*.process.test.ts';

const shared = {
  // Real HTTP, real SQLite files and child processes: give slow CI machines room.
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // Each file in its own worker process, so that test/support/reap-children.ts can end
  // every process the file started, whatever happened to its tests.
  pool: 'forks' as const,
  // log-tap first: its scan runs after the reaper (vitest runs after-hooks as a stack).
  setupFiles: ['test/support/log-tap.ts', 'test/support/reap-children.ts'],
  // Processes the tests spawn through agent/bin/scanpay.js run these sources, not dist/.
  env: { SCANPAY_SOURCE: '1' },
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'fast', include: ['test/**/*.test.ts'], exclude: [PROCESS_TESTS] } },
      { test: { ...shared, name: 'process', include: [PROCESS_TESTS] } },
    ],
  },
});
