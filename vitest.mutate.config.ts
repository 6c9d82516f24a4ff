import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// Stryker's test runs (stryker.config.mjs): the fast project only. Process tests run the
// agent in child processes, where Stryker cannot switch a mutant on: they would only cost
// time. The property test runs fewer cases per mutant (PROPERTY_RUNS); `npm test` runs 100.
// MUTATE_TESTS (comma-separated files or globs) narrows the tests to those that aim at the
// file being mutated: on two cores a whole-suite run per file takes hours.
const fast = (base.test?.projects as Array<{ test: Record<string, unknown> }>).find((p) => p.test.name === 'fast')!;
const only = process.env.MUTATE_TESTS?.split(',').map((f) => f.trim()).filter(Boolean);

export default defineConfig({
  test: {
    ...fast.test,
    name: undefined,
    ...(only?.length ? { include: only } : {}),
    env: { ...(fast.test.env as Record<string, string>), PROPERTY_RUNS: '20' },
  },
});
