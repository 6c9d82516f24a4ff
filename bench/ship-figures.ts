/**
 * `npx tsx bench/ship-figures.ts [payments] [posPayments]`: the footprint figure at full size
 * (10,000 payments) and the throughput figure with smaller POS-API runs: the two figures of
 * issue 18 when the whole `npm run bench` does not fit the time (it prints; writes the two results).
 */
import { footprint } from './footprint.ts';
import { table, writeJson } from './stats.ts';
import { throughput } from './throughput.ts';

const payments = Number(process.argv[2] ?? 10_000);
const posPayments = Number(process.argv[3] ?? 500);
const t0 = performance.now();
const f = await footprint({ payments, starts: 5 });
writeJson(f.name, f);
process.stdout.write(`${table(f.rows)}\n${JSON.stringify(f.details)}\nfootprint ${Math.round((performance.now() - t0) / 1000)} s\n`);
const t1 = performance.now();
const t = await throughput({ payments: posPayments, posPayments, queued: 1_000 });
writeJson(t.name, t);
process.stdout.write(`${table(t.rows)}\n${JSON.stringify(t.details)}\nthroughput ${Math.round((performance.now() - t1) / 1000)} s\nchecks ${JSON.stringify([f.checks, t.checks])}\n`);
