// Mutation testing of the money core (docs/testing.md). Run it through `npm run mutate`
// (scripts/mutate.mjs): the core is split into groups (test/mutation/groups/*.json), each
// mutated against the tests that aim at it, because on two cores one run of the whole suite
// per mutant would take days. MUTATE_GROUP names the group this run is for.
import { readFileSync } from 'node:fs';

const group = process.env.MUTATE_GROUP;
const spec = group ? JSON.parse(readFileSync(new URL(`test/mutation/groups/${group}.json`, import.meta.url), 'utf8')) : undefined;
if (spec) process.env.MUTATE_TESTS ??= spec.tests.join(',');
const out = `test-artifacts/mutation/${group ?? 'all'}`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  coverageAnalysis: 'perTest',
  // The money core (issue 13): what decides, records and proves a payment's outcome.
  // machine-diagram.ts only draws docs/payment-flow.md (a doc test checks the drawing).
  mutate: spec?.mutate ?? [
    'agent/payment/**/*.ts',
    '!agent/payment/machine-diagram.ts',
    'agent/journal/**/*.ts',
    'agent/outbox/**/*.ts',
    'agent/backend/**/*.ts',
    'agent/protocol/**/*.ts',
    'agent/amount.ts',
    'agent/payment-code.ts',
    'drivers/serial/framer.ts',
  ],
  plugins: ['@stryker-mutator/*', './test/mutation/log-ignorer.mjs'],
  ignorers: ['log'],
  // Two cores: one runner leaves the other for the agents and simulators the tests start.
  concurrency: 1,
  timeoutMS: 60_000,
  // The first, per-test coverage run of every related test: minutes on a loaded machine.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `${out}/index.html` },
  jsonReporter: { fileName: `${out}/report.json` },
  // Committed: a fresh clone's `npm run mutate` re-runs only mutants whose code or tests changed.
  incremental: true,
  incrementalFile: `test/mutation/results/${group ?? 'all'}.json`,
  tempDirName: '.stryker-tmp',
  // TypeScript 7 (the native compiler) has no JS API for Stryker's tsconfig rewriting, and
  // the tests run from sources through vitest: nothing in the sandbox needs the tsconfig.
  tsconfigFile: 'no-tsconfig-for-stryker.json',
  cleanTempDir: 'always',
};
