/**
 * Figure 6, fleet: the simulated backend under many signed terminals at once. Each terminal
 * (simulator/backend/test-terminal.ts: signs every request, verifies every answer) pays and
 * then queries, in a closed loop, all terminals at once; calls per second and per-call
 * latency, beside the same load against a bare Fastify app answering a fixed signed-size
 * body. Both servers run in a child process (bench/fleet-server.ts), one after the other.
 * Afterwards the backend's ledger audit must show every pay charged once.
 *
 * Not simulator/fleet.ts: that runs a whole agent (journal, engine) per terminal in this
 * process, so with 1,000 terminals on 2 cores it measures the terminals' fsyncs, not the backend.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../agent/clock.ts';
import { createTestTerminal, type TestTerminal } from '../simulator/backend/test-terminal.ts';
import { tempDir } from './agent-under-test.ts';
import { fleetTerminal } from './fleet-server.ts';
import { spawnUntilReady } from './spawned.ts';
import { now, percentile, row, type Figure } from './stats.ts';

const SERVER = new URL('./fleet-server.ts', import.meta.url).pathname;
/** The timed phase stops starting rounds after this long, whatever `rounds` says. */
const MAX_LOAD_MS = 60_000;
/** Terminals that run one untimed round first, so that both servers are warm (JIT) when timing starts. */
const WARMUP_TERMINALS = 100;

interface Load {
  callsPerS: number;
  latencyMs: number[];
  pays: number;
  /** Every answer a 200 whose signature verified and whose body matched the protocol. */
  allSound: boolean;
}

/** A well-formed WeChat code per terminal and round; the suffix 000 makes the simulated customer pay at once. */
const code = (i: number, r: number) => `13${String(i).padStart(6, '0')}${String(r).padStart(7, '0')}000`;

async function drive(url: string, o: { terminals: number; rounds: number }): Promise<Load> {
  const terminals: TestTerminal[] = Array.from({ length: o.terminals }, (_, i) => createTestTerminal({ url, terminal: fleetTerminal(i), clock: systemClock }));
  let latencyMs: number[] = [];
  let allSound = true;
  let pays = 0;
  const round = async (i: number, r: number) => {
    const orderNo = `BF${String(i).padStart(6, '0')}-${String(r).padStart(6, '0')}`;
    pays++;
    for (const [op, body] of [['pay', { orderNo, paymentCode: code(i, r), amount: 100, currency: 'CNY' }], ['query', { orderNo }]] as const) {
      const t0 = now();
      const res = await terminals[i]!.call(op, body);
      latencyMs.push(now() - t0);
      allSound &&= res.status === 200 && res.verified && res.valid;
    }
  };
  await Promise.all(terminals.slice(0, WARMUP_TERMINALS).map((_, i) => round(i, 0)));
  latencyMs = [];
  const t0 = now();
  await Promise.all(
    terminals.map(async (_, i) => {
      for (let r = 1; r <= o.rounds && now() - t0 < MAX_LOAD_MS; r++) await round(i, r);
    }),
  );
  return { callsPerS: latencyMs.length / ((now() - t0) / 1000), latencyMs, pays, allSound };
}

async function withServer<T>(kind: 'sim' | 'fixed', terminals: number, dir: string, use: (url: string) => Promise<T>): Promise<T> {
  const urlFile = join(dir, `${kind}.url`);
  const server = await spawnUntilReady({
    args: ['--import', import.meta.resolve('tsx'), SERVER, kind, String(terminals), urlFile],
    logFile: join(dir, `${kind}.log`),
    url: () => {
      try {
        return readFileSync(urlFile, 'utf8') || undefined;
      } catch {
        return undefined;
      }
    },
    // The file is written once the server listens.
    probe: async () => true,
  });
  try {
    return await use(server.url);
  } finally {
    await server.stop();
  }
}

export async function backendFleet(o: { terminals: number; rounds: number }): Promise<Figure> {
  const dir = tempDir();
  try {
    const { sim, audit } = await withServer('sim', o.terminals, dir, async (url) => {
      const load = await drive(url, o);
      const { audit } = (await (await fetch(`${url}/control/ledger`)).json()) as { audit: { orders: number; charged: number; doubleCharges: string[] } };
      return { sim: load, audit };
    });
    const fixed = await withServer('fixed', o.terminals, dir, (url) => drive(url, o));
    const fig = 'fleet';
    const ref = 'bare Fastify, fixed signed answer';
    const rows = [
      row({ figure: fig, measure: `calls/s, ${o.terminals} terminals paying and querying`, value: sim.callsPerS, reference: ref, refValue: fixed.callsPerS, unit: '/s', better: 'higher' }),
      ...[50, 99].map((p) => row({ figure: fig, measure: `call latency, p${p}`, value: percentile(sim.latencyMs, p), reference: ref, refValue: percentile(fixed.latencyMs, p), unit: 'ms', better: 'lower' })),
    ];
    return {
      name: 'fleet',
      rows,
      checks: {
        'every answer signed, verified and well-formed': sim.allSound,
        'every pay charged once (ledger audit)': audit.doubleCharges.length === 0 && audit.orders === sim.pays && audit.charged === sim.pays * 100,
      },
      details: { terminals: o.terminals, rounds: o.rounds, calls: sim.latencyMs.length, pays: sim.pays, audit },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
