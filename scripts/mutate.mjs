#!/usr/bin/env node
// `npm run mutate [-- GROUP... | --summary | --survivors | --full]`: Stryker over the money core, group by
// group (test/mutation/groups/*.json: the files mutated and the tests that aim at them), each
// run incremental against its committed results (test/mutation/results/GROUP.json), then the
// score per file and overall from every group's results. --summary prints the scores without
// running; --survivors also lists every surviving mutant (file:line, mutator, replacement) of
// the groups named (all if none); --full re-runs every mutant (Stryker's --force). Other arguments go to Stryker.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { transformSync } from 'esbuild';

const root = new URL('../', import.meta.url);
const groupsDir = new URL('test/mutation/groups/', root);
const resultsDir = new URL('test/mutation/results/', root);
const all = readdirSync(groupsDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();

const args = process.argv.slice(2);
const named = args.filter((a) => all.includes(a));
const unknown = args.filter((a) => !a.startsWith('-') && !all.includes(a) && !args[args.indexOf(a) - 1]?.startsWith('--'));
if (unknown.length) {
  console.error(`unknown group(s) ${unknown.join(', ')}; groups: ${all.join(', ')}`);
  process.exit(2);
}
const listSurvivors = args.includes('--survivors');
const summaryOnly = args.includes('--summary') || listSurvivors;
const strykerArgs = args.filter((a) => !all.includes(a) && !['--summary', '--survivors', '--full'].includes(a));
if (args.includes('--full')) strykerArgs.push('--force');

/**
 * The test files a run names (MUTATE_TESTS, else each group's list), checked before Stryker
 * starts: a name that matches no file leaves vitest's related-files search with nothing that
 * imports the mutated file, and Stryker stops at the dry run with "Vitest failed to find test
 * files related to mutated files", which points away from the typo. A space after a comma
 * (" test/agent/create-acquirer.test.ts") gave exactly that stop; entries are trimmed now.
 * Globs are left to vitest.
 */
function missingTests(list) {
  return list.filter((f) => !/[*?[{]/.test(f) && !existsSync(new URL(f, root)));
}
const narrowed = process.env.MUTATE_TESTS?.split(',').map((f) => f.trim()).filter(Boolean);
if (narrowed) process.env.MUTATE_TESTS = narrowed.join(',');

let failed = false;
if (!summaryOnly) {
  for (const group of named.length ? named : all) {
    const tests = narrowed ?? JSON.parse(readFileSync(new URL(`${group}.json`, groupsDir), 'utf8')).tests;
    const missing = missingTests(tests);
    if (missing.length) {
      console.error(`${narrowed ? 'MUTATE_TESTS' : `test/mutation/groups/${group}.json "tests"`} names no such file: ${missing.join(', ')}`);
      process.exit(2);
    }
  }
  for (const group of named.length ? named : all) {
    const started = Date.now();
    console.log(`\n== mutation group ${group} ==`);
    const results = new URL(`${group}.json`, resultsDir);
    const before = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : undefined;
    const r = spawnSync('npx', ['stryker', 'run', ...strykerArgs], { stdio: 'inherit', env: { ...process.env, MUTATE_GROUP: group }, cwd: root });
    if (before && existsSync(results)) keepUnmutated(results, before);
    console.log(`== ${group}: ${r.status === 0 ? 'done' : `stryker exited ${r.status ?? r.signal}`} in ${Math.round((Date.now() - started) / 60_000)} min ==`);
    failed ||= r.status !== 0;
  }
}

/** Every file some group mutates: the money core as the groups define it. */
function coreFiles() {
  const toRegex = (glob) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*/g, '[^/]*')}$`);
  const patterns = all.flatMap((g) => JSON.parse(readFileSync(new URL(`${g}.json`, groupsDir), 'utf8')).mutate).map(toRegex);
  const files = readdirSync(new URL('agent/', root), { recursive: true }).map((f) => `agent/${f}`)
    .concat(readdirSync(new URL('drivers/', root), { recursive: true }).map((f) => `drivers/${f}`));
  return files.filter((f) => f.endsWith('.ts') && patterns.some((re) => re.test(f))).sort();
}

/**
 * Stryker rewrites the results file with the files of this run only: a run narrowed with
 * `--mutate one-file.ts` would drop the group's other files. Their earlier results are kept.
 */
function keepUnmutated(results, before) {
  const after = JSON.parse(readFileSync(results, 'utf8'));
  for (const [path, file] of Object.entries(before.files)) if (existsSync(new URL(path, root))) after.files[path] ??= file;
  for (const [path, file] of Object.entries(before.testFiles ?? {})) (after.testFiles ??= {})[path] ??= file;
  writeFileSync(results, JSON.stringify(after));
}

// Stryker's score: killed and timed-out mutants over all that ran or were not covered
// (https://stryker-mutator.io/docs/mutation-testing-elements/mutant-states-and-metrics/).
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const rows = [];
for (const group of all) {
  const file = new URL(`${group}.json`, resultsDir);
  if (!existsSync(file)) {
    rows.push({ group, file: '(not run yet)', detected: 0, undetected: 0, ignored: 0 });
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  for (const [path, { mutants }] of Object.entries(report.files)) {
    const count = (set) => mutants.filter((m) => set.has(m.status)).length;
    rows.push({ group, file: path, detected: count(DETECTED), undetected: count(UNDETECTED), ignored: mutants.filter((m) => m.status === 'Ignored').length });
    if (listSurvivors && (named.length === 0 || named.includes(group))) {
      for (const m of mutants.filter((x) => UNDETECTED.has(x.status))) {
        console.log(`${path}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement ?? '')}`);
      }
    }
  }
}
const pct = (d, u) => (d + u === 0 ? '-' : `${((100 * d) / (d + u)).toFixed(1)}%`);
const width = Math.max(...rows.map((r) => r.file.length), 10);
console.log(`\n${'file'.padEnd(width)}  score   killed  survived  ignored  group`);
for (const r of rows) console.log(`${r.file.padEnd(width)}  ${pct(r.detected, r.undetected).padStart(6)}  ${String(r.detected).padStart(6)}  ${String(r.undetected).padStart(8)}  ${String(r.ignored).padStart(7)}  ${r.group}`);
const detected = rows.reduce((s, r) => s + r.detected, 0);
const undetected = rows.reduce((s, r) => s + r.undetected, 0);
console.log(`${'all files'.padEnd(width)}  ${pct(detected, undetected).padStart(6)}  ${String(detected).padStart(6)}  ${String(undetected).padStart(8)}`);
const measured = new Set(rows.map((r) => r.file));
const notRun = coreFiles().filter((f) => !measured.has(f));
// A file of types alone compiles to nothing: Stryker makes no mutant in it, so it is not "unmeasured".
const typesOnly = notRun.filter((f) => transformSync(readFileSync(new URL(f, root), 'utf8'), { loader: 'ts', format: 'esm' }).code.trim() === '');
const unmeasured = notRun.filter((f) => !typesOnly.includes(f));
console.log(`measured ${measured.size - (measured.has('(not run yet)') ? 1 : 0)} files of the money core; types only, no mutants (${typesOnly.length}): ${typesOnly.join(', ') || 'none'}`);
console.log(`not measured yet (${unmeasured.length}): ${unmeasured.join(', ') || 'none'}`);
console.log('(killed counts timeouts; survived counts mutants no test covers; survivors are explained in docs/testing.md)');
process.exit(failed ? 1 : 0);
