/**
 * Figure 4, footprint: the shipped agent (`scanpay run` from dist/, a child process) beside
 * a bare node HTTP server started and probed the same way, in the same run:
 * - start to ready (spawn until `GET /v1/agent` answers) and RSS at idle, the agent as a
 *   device runs it (`--backend`: no embedded simulator), and `npm start`'s demo agent;
 * - memory after a forced GC after 1/10, 1/2 and all of N payments through its POS API,
 *   the agent and the simulated backend each in a process of its own, so the agent's
 *   memory is its own and the simulator's shows apart (its orders and ledger are on disk:
 *   its heap must be flat too).
 */
import { rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './agent-under-test.ts';
import { openPosDriver, posClient } from './pos-driver.ts';
import { RUNS, startAgentProcess, startSimulatorProcess, type Measured } from './processes.ts';
import { rssMb, sleep, spawnUntilReady, type Spawned } from './spawned.ts';
import { median, row, type Figure } from './stats.ts';

/** Before each memory reading: time for the last payment's work and timers to settle. */
const IDLE_MS = 2_000;
/** The reference: listens, writes its address to argv[2], answers `{}`. */
const BARE_SERVER = `import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const server = createServer((_req, res) => res.end('{}'));
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], 'http://127.0.0.1:' + server.address().port));
`;
/** Flat: memory after a forced GC after all payments within this factor of that after the first tenth. */
const FLAT = 1.05;

function startBare(dir: string): Promise<Spawned> {
  const file = join(dir, 'bare.mjs');
  const urlFile = `${file}.url`;
  writeFileSync(file, BARE_SERVER);
  rmSync(urlFile, { force: true });
  return spawnUntilReady({
    args: [file, urlFile],
    logFile: `${file}.log`,
    url: () => {
      try {
        return readFileSync(urlFile, 'utf8') || undefined;
      } catch {
        return undefined;
      }
    },
    probe: async (url) => (await fetch(url)).ok,
  });
}

type AfterGc = { rssMb: number; heapUsedMb: number };

interface MemoryRun {
  agent: Record<number, AfterGc>;
  simulator: Record<number, AfterGc>;
  allPaid: boolean;
  doubleCharges: number;
}

async function memoryRun(dir: string, checkpoints: number[]): Promise<MemoryRun> {
  const sim = await startSimulatorProcess(dir, { gcProbe: true });
  const home = join(dir, 'memory');
  try {
    const agent = await startAgentProcess(home, { backendUrl: sim.url, gcProbe: true });
    try {
      const driver = await openPosDriver(posClient(home, agent.url), sim.url);
      const result: MemoryRun = { agent: {}, simulator: {}, allPaid: true, doubleCharges: 0 };
      let done = 0;
      try {
        for (const n of checkpoints) {
          while (done < n) result.allPaid = (await driver.pay(`B${done++}`)) && result.allPaid;
          await sleep(IDLE_MS);
          result.agent[n] = await agent.afterGc();
          result.simulator[n] = await sim.afterGc();
        }
      } finally {
        driver.close();
      }
      const { audit } = (await (await fetch(`${sim.url}/control/ledger`)).json()) as { audit: { orders: number; doubleCharges: string[] } };
      result.allPaid &&= audit.orders === done;
      result.doubleCharges = audit.doubleCharges.length;
      return result;
    } finally {
      await agent.stop();
    }
  } finally {
    await sim.stop();
  }
}

export async function footprint(o: { payments: number; starts: number }): Promise<Figure> {
  const dir = tempDir();
  const checkpoints = [o.payments / 10, o.payments / 2, o.payments];
  const [first, , last] = checkpoints as [number, number, number];
  try {
    const sim = await startSimulatorProcess(dir);
    const kinds = {
      agent: () => startAgentProcess(join(dir, 'agent'), { backendUrl: sim.url }),
      demo: () => startAgentProcess(join(dir, 'demo')),
      bare: () => startBare(dir),
    };
    const readyMs: Record<keyof typeof kinds, number[]> = { agent: [], demo: [], bare: [] };
    const idleMb: Partial<Record<keyof typeof kinds, number>> = {};
    try {
      // Round 0 warms the disk cache and creates the homes; the kinds alternate so they share the noise.
      for (let round = 0; round <= o.starts; round++) {
        for (const [name, start] of Object.entries(kinds) as Array<[keyof typeof kinds, () => Promise<Spawned | Measured>]>) {
          const s = await start();
          if (round > 0) readyMs[name].push(s.readyMs);
          if (round === o.starts) {
            await sleep(IDLE_MS);
            idleMb[name] = rssMb(s.pid);
          }
          await s.stop();
        }
      }
    } finally {
      await sim.stop();
    }
    const mem = await memoryRun(dir, checkpoints);

    const fig = 'footprint';
    const growth = (m: Record<number, AfterGc>, k: keyof AfterGc) => m[last]![k] / m[first]![k];
    const perThousand = (m: Record<number, AfterGc>, k: keyof AfterGc) => ((m[last]![k] - m[first]![k]) / (last - first)) * 1000;
    const bare = 'bare node http server';
    const rows = [
      row({ figure: fig, measure: 'RSS at idle, scanpay run (real acquirer)', value: idleMb.agent!, reference: bare, refValue: idleMb.bare!, unit: 'MB', better: 'lower', target: '<= 1.5', met: idleMb.agent! <= 1.5 * idleMb.bare! }),
      row({ figure: fig, measure: 'RSS at idle, npm start (demo, embedded simulator)', value: idleMb.demo!, reference: bare, refValue: idleMb.bare!, unit: 'MB', better: 'lower' }),
      row({ figure: fig, measure: `start to ready, scanpay run (real acquirer), median of ${o.starts}`, value: median(readyMs.agent), reference: bare, refValue: median(readyMs.bare), unit: 'ms', better: 'lower', target: '<= 2', met: median(readyMs.agent) <= 2 * median(readyMs.bare) }),
      row({ figure: fig, measure: `start to ready, npm start (demo, embedded simulator), median of ${o.starts}`, value: median(readyMs.demo), reference: bare, refValue: median(readyMs.bare), unit: 'ms', better: 'lower' }),
      row({ figure: fig, measure: `agent heap after forced GC, after ${last} payments`, value: mem.agent[last]!.heapUsedMb, reference: `same after ${first}`, refValue: mem.agent[first]!.heapUsedMb, unit: 'MB', better: 'lower', target: `<= ${FLAT}`, met: growth(mem.agent, 'heapUsedMb') <= FLAT }),
      row({ figure: fig, measure: `agent RSS after forced GC, after ${last} payments`, value: mem.agent[last]!.rssMb, reference: `same after ${first}`, refValue: mem.agent[first]!.rssMb, unit: 'MB', better: 'lower', target: `<= ${FLAT}`, met: growth(mem.agent, 'rssMb') <= FLAT }),
      row({ figure: fig, measure: `simulator heap after forced GC, after ${last} payments`, value: mem.simulator[last]!.heapUsedMb, reference: `same after ${first}`, refValue: mem.simulator[first]!.heapUsedMb, unit: 'MB', better: 'lower', target: `<= ${FLAT}`, met: growth(mem.simulator, 'heapUsedMb') <= FLAT }),
    ];
    return {
      name: 'footprint',
      rows,
      checks: { 'every payment paid, none charged twice': mem.allPaid && mem.doubleCharges === 0 },
      details: {
        runs: RUNS,
        payments: o.payments,
        idleMs: IDLE_MS,
        idleRssMb: idleMb,
        readyMs,
        afterGcMb: { agent: mem.agent, simulator: mem.simulator },
        growthMbPer1000: {
          agentHeap: perThousand(mem.agent, 'heapUsedMb'),
          agentRss: perThousand(mem.agent, 'rssMb'),
          simulatorHeap: perThousand(mem.simulator, 'heapUsedMb'),
          simulatorRss: perThousand(mem.simulator, 'rssMb'),
        },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
