/**
 * `npx tsx bench/start-figures.ts [starts] [--before OTHER/agent/bin/scanpay.js]`: only the
 * start-up part of the footprint figure (start to ready, CPU time by ready, idle RSS of the
 * built `scanpay run` beside a bare node HTTP server, the kinds alternating), in a minute
 * rather than the memory run's many. `--before` adds another built checkout's `scanpay run`
 * to the same alternation: a change's before and after measured under the same load.
 */
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { tempDir } from './agent-under-test.ts';
import { measureStarts, startRows } from './footprint.ts';
import { median, table } from './stats.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--before');
const beforeBin = at >= 0 ? args.splice(at, 2)[1] : undefined;
const starts = Number(args[0] ?? 7);
const dir = tempDir();
try {
  const load = loadavg()[0]!.toFixed(1);
  const r = await measureStarts(dir, starts, { beforeBin });
  process.stdout.write(`${table(startRows(r, starts))}\n`);
  if (beforeBin) {
    const f = (k: 'agent' | 'before') => `ready ${median(r.readyMs[k]).toFixed(0)} ms, CPU ${median(r.cpuMs[k]).toFixed(0)} ms, idle RSS ${r.idleMb[k].toFixed(1)} MB`;
    process.stdout.write(`before: ${f('before')}\nafter:  ${f('agent')}\n`);
  }
  process.stdout.write(`${JSON.stringify(r)}\nload average ${load} -> ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
