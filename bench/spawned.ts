/**
 * Processes the footprint and fleet figures start: timed from spawn until they answer,
 * their resident memory read from /proc, and a clean stop (SIGTERM, then the exit).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { now } from './stats.ts';

export interface Spawned {
  pid: number;
  url: string;
  /** Milliseconds from spawn until `probe` first said yes. */
  readyMs: number;
  /** CPU time (user + system) the process had used when it was ready: less distorted by a loaded machine than `readyMs`. */
  cpuMs: number;
  stop(): Promise<void>;
}

/** VmRSS of a live process, in MB (Linux). */
export function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`/proc/${pid}/status has no VmRSS: has the process exited?`);
  return Number(kb) / 1024;
}

/** utime + stime of a live process, in ms (Linux, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polled this often: fine next to starts of 50 ms and more, cheap for the child. */
const POLL_MS = 5;

/**
 * Runs `node <args>` (stderr to `logFile`, so a failure can show why) until `url()` names
 * an address and `probe(url)` answers, then leaves it running.
 */
export async function spawnUntilReady(o: { args: string[]; env?: NodeJS.ProcessEnv; logFile: string; url: () => string | undefined; probe: (url: string) => Promise<boolean>; timeoutMs?: number }): Promise<Spawned> {
  const log = openSync(o.logFile, 'a');
  const t0 = now();
  const child = spawn(process.execPath, o.args, { stdio: ['ignore', 'ignore', log], env: o.env ?? process.env });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async () => {
    if (gone) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = t0 + (o.timeoutMs ?? 30_000);
  for (;;) {
    const url = o.url();
    if (url && (await o.probe(url).catch(() => false))) {
      const readyMs = now() - t0;
      return { pid: child.pid!, url, readyMs, cpuMs: cpuMs(child.pid!), stop };
    }
    if (gone || now() > deadline) {
      // Read before stop(), which makes every child gone.
      const exitedByItself = gone;
      await stop();
      const tail = readFileSync(o.logFile, 'utf8').slice(-2_000);
      throw new Error(`node ${o.args.join(' ')} ${exitedByItself ? 'exited' : 'did not answer in time'} before it was ready; its stderr ends:\n${tail}`);
    }
    await sleep(POLL_MS);
  }
}
