/**
 * `npm run bench [-- --quick] [-- --only name,name]`: every figure of docs/performance.md,
 * each beside its reference measured in the same run. Prints the table, writes
 * bench/results/<figure>.json and latest.json, the SVG charts in docs/perf/ and the table
 * in docs/performance.md (between its bench markers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { backendFleet } from './backend-fleet.ts';
import { writeCharts } from './charts.ts';
import { decoding } from './decode-figure.ts';
import { footprint } from './footprint.ts';
import { overhead } from './overhead.ts';
import { table, writeJson, type Figure } from './stats.ts';
import { throughput } from './throughput.ts';
import { timeToResult } from './time-to-result.ts';

const DOC = new URL('../docs/performance.md', import.meta.url).pathname;
const START = '<!-- bench:table -->';
const END = '<!-- /bench:table -->';

/** Sizes of each figure: the in the full run, small ones for a smoke test. */
export function plan(quick: boolean): Record<string, () => Promise<Figure>> {
  return {
    overhead: () => overhead({ payments: quick ? 100 : 2_000 }),
    'time-to-result': () => timeToResult({ customers: quick ? 30 : 300 }),
    throughput: () => throughput({ payments: quick ? 100 : 2_000, posPayments: quick ? 20 : 2_000, queued: quick ? 200 : 10_000 }),
    footprint: () => footprint({ payments: quick ? 1_000 : 10_000, starts: quick ? 3 : 5 }),
    decode: () => decoding(),
    fleet: () => backendFleet({ terminals: quick ? 100 : 1_000, rounds: quick ? 2 : 6 }),
  };
}

export async function runBench(o: { quick: boolean; only?: string[]; write: boolean }): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [name, run] of Object.entries(plan(o.quick))) {
    if (o.only && !o.only.includes(name)) continue;
    const t0 = performance.now();
    const f = await run();
    f.details = { ...f.details, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    figures.push(f);
    if (o.write) writeJson(f.name, f);
    process.stderr.write(`bench: ${name} done in ${f.details.seconds} s\n`);
  }
  return figures;
}

function updateDoc(markdown: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC}: the markers ${START} and ${END} are missing`);
  writeFileSync(DOC, `${doc.slice(0, a + START.length)}\n${markdown}${doc.slice(b)}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.indexOf('--only');
  const only = onlyArg >= 0 ? args[onlyArg + 1]?.split(',') : undefined;
  const t0 = performance.now();
  // A quick run is a smoke test: it leaves the committed results alone.
  const figures = await runBench({ quick, write: !quick, ...(only ? { only } : {}) });
  const rows = figures.flatMap((f) => f.rows);
  const failed = figures.flatMap((f) => Object.entries(f.checks).filter(([, ok]) => !ok).map(([c]) => `${f.name}: ${c}`));
  const seconds = Math.round((performance.now() - t0) / 1000);
  const env = `${quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 16)}Z, node ${process.version}, ${cpus().length} cores, ${seconds} s`;
  const md = `${table(rows)}\n_${env}. Ratio = scanpay / reference._\n`;
  process.stdout.write(`\n${md}\n`);
  if (!quick) writeJson('latest', { env, rows, checks: Object.fromEntries(figures.map((f) => [f.name, f.checks])) });
  if (!quick && !only) {
    writeCharts(figures);
    updateDoc(md);
  }
  if (failed.length) {
    process.stderr.write(`bench: invariants broken:\n  ${failed.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
