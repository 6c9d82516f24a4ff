/**
 * The shipped programs as the footprint and throughput figures run them: the built
 * `scanpay run` (dist/, as `npm start` and the bin run it) and the simulated backend in
 * a process of its own (`scanpay sim backend`), so the agent's memory and CPU are its own.
 * Optionally with bench/gc-probe.mjs, to read memory after a forced garbage collection.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readAgentFile } from '../agent/agent-file.ts';
import { posClient } from './pos-driver.ts';
import { sleep, spawnUntilReady, type Spawned } from './spawned.ts';

const BIN = new URL('../agent/bin/scanpay.js', import.meta.url).pathname;
const GC_PROBE = new URL('./gc-probe.mjs', import.meta.url).pathname;
/** From sources (tsx, the smoke test) on a loaded shared machine a start has taken over 30 s. */
const START_TIMEOUT_MS = 180_000;

/** What runs: dist/ unless the caller (vitest) asked for the sources. */
export const RUNS = process.env.SCANPAY_SOURCE === '1' ? 'sources under tsx (SCANPAY_SOURCE=1)' : 'built dist/';

export interface Measured extends Spawned {
  /** Memory after a forced full GC, MB (needs `gcProbe` at start). */
  afterGc(): Promise<{ rssMb: number; heapUsedMb: number }>;
}

function gcArgs(gcFile: string | undefined): string[] {
  return gcFile ? ['--expose-gc', '--import', GC_PROBE] : [];
}

function withProbe(s: Spawned, gcFile: string | undefined): Measured {
  return {
    ...s,
    async afterGc() {
      if (!gcFile) throw new Error('started without the GC probe');
      rmSync(gcFile, { force: true });
      process.kill(s.pid, 'SIGUSR2');
      while (!existsSync(gcFile)) await sleep(20);
      const m = JSON.parse(readFileSync(gcFile, 'utf8')) as { rss: number; heapUsed: number };
      return { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20 };
    },
  };
}

/** The agent writes a V8 CPU profile into SCANPAY_BENCH_CPU_PROF (a directory) when it exits, if that is set. */
function cpuProfArgs(): string[] {
  const dir = process.env.SCANPAY_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** A port free right now (the simulator prints its URL on stdout, which spawnUntilReady does not read). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** `scanpay sim backend` in its own process, its orders and ledger in `dir` (not the shared ~/.scanpay, whose orders from other runs would count in its audit). */
export async function startSimulatorProcess(dir: string, o: { gcProbe?: boolean } = {}): Promise<Measured> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gcFile = o.gcProbe ? join(dir, 'sim.gc.json') : undefined;
  const s = await spawnUntilReady({
    args: [...gcArgs(gcFile), BIN, 'sim', 'backend', '--port', String(port), '--data', join(dir, 'sim-backend.db')],
    env: { ...process.env, SCANPAY_LOG_LEVEL: 'warn', ...(gcFile ? { SCANPAY_BENCH_GC_FILE: gcFile } : {}) },
    logFile: join(dir, 'sim.log'),
    timeoutMs: START_TIMEOUT_MS,
    url: () => url,
    probe: async (u) => (await fetch(`${u}/control/health`)).ok,
  });
  return withProbe(s, gcFile);
}

/**
 * `scanpay run` in `home`: against `backendUrl` (the demo terminal's identity, no embedded
 * simulator, as a provisioned device runs) or, without it, `run --demo` with its embedded simulator.
 */
export async function startAgentProcess(home: string, o: { backendUrl?: string; lanes?: number; gcProbe?: boolean; /** another checkout's agent/bin/scanpay.js (a before/after comparison) */ bin?: string } = {}): Promise<Measured> {
  mkdirSync(home, { recursive: true });
  if (o.lanes) writeFileSync(join(home, 'config.json'), JSON.stringify({ lanes: Array.from({ length: o.lanes }, (_, i) => ({ id: String(i + 1), scanners: [] })) }));
  const gcFile = o.gcProbe ? join(home, 'agent.gc.json') : undefined;
  rmSync(join(home, 'agent.json'), { force: true });
  const s = await spawnUntilReady({
    args: [...gcArgs(gcFile), ...cpuProfArgs(), o.bin ?? BIN, 'run', '--demo', '--port', '0', ...(o.backendUrl ? ['--backend', o.backendUrl] : [])],
    env: { ...process.env, SCANPAY_HOME: home, ...(gcFile ? { SCANPAY_BENCH_GC_FILE: gcFile } : {}) },
    logFile: `${home}.log`,
    timeoutMs: START_TIMEOUT_MS,
    url: () => readAgentFile(home)?.apiUrl,
    probe: async (url) => Boolean(await posClient(home, url).request('GET', '/v1/agent')),
  });
  return withProbe(s, gcFile);
}
