/**
 * Figure 4, footprint: the real agent (`scanpay run --demo`, a child process) at idle and
 * after 1/10, 1/2 and all of N payments through its POS API, each after a short idle; once
 * with its embedded simulator and once with the simulator in another process (this one),
 * which tells the agent's growth from the simulator's in-memory ledger. And the time from
 * spawn until `GET /v1/agent` answers, beside a bare node HTTP server started and probed
 * the same way, plain and under the tsx loader (the loader's share of the agent's start).
 */
import { rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAgentFile } from '../agent/agent-file.ts';
import { startBackend } from '../simulator/backend/start-backend.ts';
import { tempDir } from './agent-under-test.ts';
import { openPosDriver, posClient } from './pos-driver.ts';
import { rssMb, sleep, spawnUntilReady, type Spawned } from './spawned.ts';
import { median, row, type Figure } from './stats.ts';

const BIN = new URL('../agent/bin/scanpay.js', import.meta.url).pathname;
/** Before each memory reading: time for the last payment's work, timers and GC to settle. */
const IDLE_MS = 2_000;
/** The reference: listens, writes its address to argv[2], answers `{}`. Also run as .ts under tsx. */
const BARE_SERVER = `import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const server = createServer((_req, res) => res.end('{}'));
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], 'http://127.0.0.1:' + server.address().port));
`;

function startAgent(home: string, backendUrl?: string): Promise<Spawned> {
  return spawnUntilReady({
    args: [BIN, 'run', '--demo', '--port', '0', ...(backendUrl ? ['--backend', backendUrl] : [])],
    env: { ...process.env, SCANPAY_HOME: home },
    logFile: `${home}.log`,
    url: () => readAgentFile(home)?.apiUrl,
    probe: async (url) => Boolean(await posClient(home, url).request('GET', '/v1/agent')),
  });
}

function startBare(dir: string, loader: boolean): Promise<Spawned> {
  const file = join(dir, loader ? 'bare.ts' : 'bare.mjs');
  const urlFile = `${file}.url`;
  writeFileSync(file, BARE_SERVER);
  rmSync(urlFile, { force: true });
  return spawnUntilReady({
    args: [...(loader ? ['--import', import.meta.resolve('tsx')] : []), file, urlFile],
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

interface MemoryRun {
  idleMb: number;
  /** RSS after each checkpoint's payments (and the idle), MB, by payments done. */
  afterMb: Record<number, number>;
  allPaid: boolean;
  doubleCharges: number;
}

async function memoryRun(home: string, checkpoints: number[], backendUrl?: string): Promise<MemoryRun> {
  const agent = await startAgent(home, backendUrl);
  try {
    await sleep(IDLE_MS);
    const idleMb = rssMb(agent.pid);
    const simulatorUrl = backendUrl ?? readAgentFile(home)!.simulatorUrl!;
    const driver = await openPosDriver(posClient(home, agent.url), simulatorUrl);
    const afterMb: Record<number, number> = {};
    let allPaid = true;
    let done = 0;
    try {
      for (const n of checkpoints) {
        while (done < n) allPaid = (await driver.pay(`B${done++}`)) && allPaid;
        await sleep(IDLE_MS);
        afterMb[n] = rssMb(agent.pid);
      }
    } finally {
      driver.close();
    }
    const { audit } = (await (await fetch(`${simulatorUrl}/control/ledger`)).json()) as { audit: { orders: number; doubleCharges: string[] } };
    return { idleMb, afterMb, allPaid: allPaid && audit.orders === done, doubleCharges: audit.doubleCharges.length };
  } finally {
    await agent.stop();
  }
}

export async function footprint(o: { payments: number; starts: number }): Promise<Figure> {
  const dir = tempDir();
  const checkpoints = [o.payments / 10, o.payments / 2, o.payments];
  const [first, , last] = checkpoints as [number, number, number];
  try {
    const kinds = { agent: () => startAgent(join(dir, 'starts')), bare: () => startBare(dir, false), tsx: () => startBare(dir, true) };
    const readyMs: Record<keyof typeof kinds, number[]> = { agent: [], bare: [], tsx: [] };
    const idleMb: Partial<Record<keyof typeof kinds, number>> = {};
    // Round 0 warms the disk cache and creates the agent's home; the kinds alternate so they share the noise.
    for (let round = 0; round <= o.starts; round++) {
      for (const [name, start] of Object.entries(kinds) as Array<[keyof typeof kinds, () => Promise<Spawned>]>) {
        const s = await start();
        if (round > 0) readyMs[name].push(s.readyMs);
        if (round === o.starts && name !== 'agent') {
          await sleep(IDLE_MS);
          idleMb[name] = rssMb(s.pid);
        }
        await s.stop();
      }
    }
    const embedded = await memoryRun(join(dir, 'embedded'), checkpoints);
    const backend = await startBackend();
    const apart = await memoryRun(join(dir, 'apart'), checkpoints, backend.url).finally(() => backend.close());

    // Per 1,000 payments, from the first checkpoint (warm) to the last: the steady growth.
    const perThousand = (m: MemoryRun) => ((m.afterMb[last]! - m.afterMb[first]!) / (last - first)) * 1000;
    const fig = 'footprint';
    const rows = [
      row({ figure: fig, measure: 'RSS at idle (demo agent, embedded simulator)', value: embedded.idleMb, reference: 'bare node http server', refValue: idleMb.bare!, unit: 'MB', better: 'lower' }),
      row({ figure: fig, measure: 'RSS at idle (demo agent, embedded simulator)', value: embedded.idleMb, reference: 'bare http server under tsx', refValue: idleMb.tsx!, unit: 'MB', better: 'lower' }),
      row({ figure: fig, measure: `RSS after ${last} payments, simulator apart`, value: apart.afterMb[last]!, reference: `same agent after ${first}`, refValue: apart.afterMb[first]!, unit: 'MB', better: 'lower', target: '<= 1.1', met: apart.afterMb[last]! <= 1.1 * apart.afterMb[first]! }),
      row({ figure: fig, measure: `RSS after ${last} payments, embedded simulator`, value: embedded.afterMb[last]!, reference: `same agent after ${first}`, refValue: embedded.afterMb[first]!, unit: 'MB', better: 'lower' }),
      row({ figure: fig, measure: `start to ready, median of ${o.starts}`, value: median(readyMs.agent), reference: 'bare node http server', refValue: median(readyMs.bare), unit: 'ms', better: 'lower' }),
      row({ figure: fig, measure: `start to ready, median of ${o.starts}`, value: median(readyMs.agent), reference: 'bare http server under tsx', refValue: median(readyMs.tsx), unit: 'ms', better: 'lower' }),
    ];
    return {
      name: 'footprint',
      rows,
      checks: {
        'every payment paid, none charged twice': embedded.allPaid && apart.allPaid && embedded.doubleCharges + apart.doubleCharges === 0,
      },
      details: {
        payments: o.payments,
        idleMs: IDLE_MS,
        growthMbPer1000: { embedded: perThousand(embedded), apart: perThousand(apart) },
        rssMb: { embedded: { idle: embedded.idleMb, ...embedded.afterMb }, apart: { idle: apart.idleMb, ...apart.afterMb }, bare: idleMb.bare, tsx: idleMb.tsx },
        readyMs,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
