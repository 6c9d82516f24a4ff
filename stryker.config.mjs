// Mutation testing of the money core (docs/testing.md). `npm run mutate` runs it all;
// `npm run mutate -- --incremental` reuses earlier results for unchanged code and tests.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  coverageAnalysis: 'perTest',
  // The money core (issue 13): what decides, records and proves a payment's outcome.
  mutate: [
    'agent/payment/**/*.ts',
    'agent/journal/**/*.ts',
    'agent/outbox/**/*.ts',
    'agent/backend/**/*.ts',
    'agent/protocol/**/*.ts',
    'agent/amount.ts',
    'agent/payment-code.ts',
    'drivers/serial/framer.ts',
  ],
  // Two cores: one runner leaves the other for the agents and simulators the tests start.
  concurrency: 1,
  timeoutMS: 60_000,
  // The first, per-test coverage run of every related test: minutes on a loaded machine.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'test-artifacts/mutation/index.html' },
  jsonReporter: { fileName: 'test-artifacts/mutation/report.json' },
  incrementalFile: 'test-artifacts/mutation/incremental.json',
  tempDirName: '.stryker-tmp',
  // TypeScript 7 (the native compiler) has no JS API for Stryker's tsconfig rewriting, and
  // the tests run from sources through vitest: nothing in the sandbox needs the tsconfig.
  tsconfigFile: 'no-tsconfig-for-stryker.json',
  cleanTempDir: 'always',
};
