/**
 * Figure 3, throughput: payments per second one agent completes against the simulated
 * backend at zero latency (instant customers), beside the floor's operations per second
 * at the same concurrency; and how fast the outbox drains queued reversals when the
 * backend returns, beside the same number of plain sequential HTTP calls.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../agent/journal/journal.ts';
import { maskCode } from '../agent/payment-code.ts';
import { startBackend } from '../simulator/backend/start-backend.ts';
import { httpAcquirer, openAgent, tempDir, wechatCode } from './agent-under-test.ts';
import { openFloor, startStampGateway, type Floor, type StampGateway } from './loopback.ts';
import { openPosDriver, posClient, simulatorCodes } from './pos-driver.ts';
import { RUNS, startAgentProcess, startSimulatorProcess } from './processes.ts';
import { now, row, type Figure } from './stats.ts';

const CONCURRENCY = 8;

/** Runs `n` tasks, `concurrency` at a time (task(i, worker)); returns the seconds taken. */
async function timed(n: number, task: (i: number, worker: number) => Promise<unknown>, concurrency = CONCURRENCY): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (next < n) await task(next++, worker);
  }));
  return (now() - t0) / 1000;
}

/** Writes `n` payments whose reversal waits in the outbox, as a backend outage leaves them. */
function queueReversals(dir: string, n: number): void {
  const journal = Journal.open(join(dir, 'journal.db'));
  const at = Date.now();
  journal.atomically(() => {
    for (let i = 0; i < n; i++) {
      const code = wechatCode(i, 7);
      const orderNo = `Q${String(i).padStart(10, '0')}`;
      journal.createPayment({ orderNo, amount: 100, currency: 'CNY', description: '', wallet: 'wechat', code, codeMasked: maskCode(code), traceId: 'bench', createdAt: at, codeExpiresAt: at + 60_000, queryDeadlineAt: at + 45_000 });
      journal.transition(orderNo, 'reversal_queued', at, 'backend unreachable: reversal queued');
      journal.enqueue({ kind: 'reverse', orderNo, dedupeKey: `reverse:${orderNo}`, payload: { orderNo }, at });
    }
  });
  journal.close();
}

async function payments(n: number, floor: Floor): Promise<{ paymentsPerS: number; floorPerS: number; allPaid: boolean }> {
  const backend = await startBackend();
  const agent = openAgent({ acquirer: httpAcquirer(backend.url) });
  let allPaid = true;
  try {
    const pay = async () => {
      const p = agent.engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
      allPaid &&= (await agent.finished(p.orderNo)).outcome === 'paid';
    };
    await timed(50, pay); // warm-up
    const floorS = await timed(n, () => floor.sample());
    const payS = await timed(n, pay);
    allPaid &&= backend.sim.audit().doubleCharges.length === 0;
    return { paymentsPerS: n / payS, floorPerS: n / floorS, allPaid };
  } finally {
    await agent.close();
    await backend.close();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number, which: 'all' | 'kernel' = 'all'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name; in clock ticks (100 Hz on Linux).
  return ((which === 'all' ? Number(fields[11]) : 0) + Number(fields[12])) / 100;
}

/** One POS-API run: payments a second beside the floor's operations, and the CPU each process spent a payment. */
export interface PosRun {
  paymentsPerS: number;
  floorPerS: number;
  /** CPU of this process per floor operation: its SQLite commit, both ends of its round trip (the gateway runs here too). */
  floorCpuMsPerOp: number;
  cpuMsPerPayment: number;
  /** The part of it spent in the kernel (loopback TCP, the WAL's writes and syncs, epoll). */
  kernelMsPerPayment: number;
  /** The simulated backend's, in its own process on the same cores (none with the stamp gateway). */
  backendCpuMsPerPayment: number | undefined;
  allPaid: boolean;
}

let localCodes = 0;

/** One line for a POS-API run, as the quick scripts print it. */
export function describe(r: PosRun, what: string): string {
  const backend = r.backendCpuMsPerPayment === undefined ? '' : ` (simulator ${r.backendCpuMsPerPayment.toFixed(2)})`;
  return `${what}: ${r.paymentsPerS.toFixed(1)}/s vs floor ${r.floorPerS.toFixed(1)}/s = ${(r.paymentsPerS / r.floorPerS).toFixed(2)}x; agent CPU ${r.cpuMsPerPayment.toFixed(2)} ms/payment against the floor's ${r.floorCpuMsPerOp.toFixed(2)} ms/op (kernel ${r.kernelMsPerPayment.toFixed(2)})${backend}; ${(1000 / r.paymentsPerS).toFixed(1)} ms a payment; all paid: ${r.allPaid}`;
}

/**
 * The built agent in its own process, one till per lane creating payments through the POS
 * API. Its backend: the simulator in a third process (its wallets, ledger and audit, ~1.3-2 ms
 * of CPU a payment on the same two cores), or with `gateway` the floor's own stamp gateway,
 * which answers every pay SUCCESS: then agent and floor make their round trips to the same
 * server, and the ratio is the agent's own cost against the floor's.
 */
export async function throughPosApi(n: number, lanes: number, floor: Floor, o: { /** another checkout's agent/bin/scanpay.js (a before/after comparison) */ bin?: string; gateway?: StampGateway } = {}): Promise<PosRun> {
  const dir = tempDir();
  const sim = o.gateway ? undefined : await startSimulatorProcess(dir);
  try {
    const home = join(dir, 'agent');
    const agent = await startAgentProcess(home, { backendUrl: o.gateway?.url ?? sim!.url, lanes, bin: o.bin });
    try {
      const issue = sim ? simulatorCodes(sim.url) : async () => wechatCode(localCodes++, 99);
      const driver = await openPosDriver(posClient(home, agent.url), issue);
      let allPaid = true;
      try {
        // Each payment its own POS order id: the same id again is answered from the journal
        // (idempotent create), so a warm-up that shared the measured run's ids made its first 50 free.
        const payAs = (prefix: string) => async (i: number, worker: number) => {
          allPaid = (await driver.pay(`${prefix}${lanes}-${i}`, String(worker + 1))) && allPaid;
        };
        const pay = payAs('L');
        await timed(Math.min(50, n), payAs('W'), lanes); // warm-up
        const floorCpu0 = process.cpuUsage();
        const floorS = await timed(n, () => floor.sample(), lanes);
        const floorCpu = process.cpuUsage(floorCpu0);
        const floorCpuMsPerOp = (floorCpu.user + floorCpu.system) / 1000 / n;
        await driver.issueAhead(n);
        const cpu0 = cpuSeconds(agent.pid);
        const kernel0 = cpuSeconds(agent.pid, 'kernel');
        const simCpu0 = sim && cpuSeconds(sim.pid);
        const payS = await timed(n, pay, lanes);
        const cpuMsPerPayment = ((cpuSeconds(agent.pid) - cpu0) / n) * 1000;
        const kernelMsPerPayment = ((cpuSeconds(agent.pid, 'kernel') - kernel0) / n) * 1000;
        const backendCpuMsPerPayment = sim && ((cpuSeconds(sim.pid) - simCpu0!) / n) * 1000;
        const chargedOnce = sim
          ? ((await (await fetch(`${sim.url}/control/ledger`)).json()) as { audit: { doubleCharges: string[] } }).audit.doubleCharges.length === 0
          : [...o.gateway!.pays.values()].every((pays) => pays === 1);
        return { paymentsPerS: n / payS, floorPerS: n / floorS, floorCpuMsPerOp, cpuMsPerPayment, kernelMsPerPayment, backendCpuMsPerPayment, allPaid: allPaid && chargedOnce };
      } finally {
        driver.close();
      }
    } finally {
      await agent.stop();
    }
  } finally {
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drain(n: number, floor: Floor): Promise<{ drainS: number; plainS: number; drained: boolean }> {
  const backend = await startBackend();
  const dir = tempDir();
  queueReversals(dir, n);
  const plainS = await timed(1, async () => {
    for (let i = 0; i < n; i++) await floor.roundTrip();
  });
  const t0 = now();
  const agent = openAgent({ acquirer: httpAcquirer(backend.url), dir });
  try {
    while (agent.journal.outbox('pending').length > 0) await new Promise((r) => setTimeout(r, 20));
    const drainS = (now() - t0) / 1000;
    return { drainS, plainS, drained: agent.journal.unfinished().length === 0 && backend.sim.orders().length === n };
  } finally {
    await agent.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function throughput(o: { payments: number; posPayments: number; queued: number }): Promise<Figure> {
  const gateway = await startStampGateway();
  const dir = tempDir();
  const floor = openFloor(dir, gateway.url);
  try {
    const p = await payments(o.payments, floor);
    // The targets: the agent against the floor's own gateway. Beside them, the same runs
    // against the simulator in its own process, whose work shares the two cores.
    const pos1 = await throughPosApi(o.posPayments, 1, floor, { gateway });
    const pos8 = await throughPosApi(o.posPayments, CONCURRENCY, floor, { gateway });
    const sim1 = await throughPosApi(o.posPayments, 1, floor);
    const sim8 = await throughPosApi(o.posPayments, CONCURRENCY, floor);
    const d = await drain(o.queued, floor);
    const fig = 'throughput';
    return {
      name: 'throughput',
      rows: [
        row({ figure: fig, measure: `payments/s, ${CONCURRENCY} in flight, zero-latency backend`, value: p.paymentsPerS, reference: `floor ops/s, ${CONCURRENCY} in flight`, refValue: p.floorPerS, unit: '/s', better: 'higher' }),
        row({ figure: fig, measure: 'payments/s through the POS API, 1 lane', value: pos1.paymentsPerS, reference: 'floor ops/s, 1 in flight', refValue: pos1.floorPerS, unit: '/s', better: 'higher', target: '>= 0.3', met: pos1.paymentsPerS >= 0.3 * pos1.floorPerS, whyMissed: `one payment at a time waits for each of its two WAL fsyncs (before the pay, then "paid"), where the floor waits for one; ${pos1.cpuMsPerPayment.toFixed(1)} ms of agent CPU a payment (${(1000 / pos1.paymentsPerS).toFixed(1)} ms a payment in all), against ${(1000 / pos1.floorPerS).toFixed(1)} ms a floor operation; docs/performance.md, issue 18 targets` }),
        row({ figure: fig, measure: `payments/s through the POS API, ${CONCURRENCY} lanes`, value: pos8.paymentsPerS, reference: `floor ops/s, ${CONCURRENCY} in flight`, refValue: pos8.floorPerS, unit: '/s', better: 'higher', target: '>= 0.5', met: pos8.paymentsPerS >= 0.5 * pos8.floorPerS, whyMissed: `one event loop does every lane, so its CPU a payment bounds the rate: ${pos8.cpuMsPerPayment.toFixed(1)} ms measured (${pos8.kernelMsPerPayment.toFixed(1)} in the kernel), about ${(2000 / pos8.floorPerS).toFixed(1)} ms needed, where a floor operation (one commit, one round trip, both its ends in one process) costs ${pos8.floorCpuMsPerOp.toFixed(2)} ms; a payment is three HTTP exchanges (the POS's create, the backend's pay, the event to the POS), two commits and their syncs (docs/performance.md, issue 18 targets)` }),
        row({ figure: fig, measure: 'payments/s through the POS API, 1 lane, simulator backend', value: sim1.paymentsPerS, reference: 'floor ops/s, 1 in flight', refValue: sim1.floorPerS, unit: '/s', better: 'higher' }),
        row({ figure: fig, measure: `payments/s through the POS API, ${CONCURRENCY} lanes, simulator backend`, value: sim8.paymentsPerS, reference: `floor ops/s, ${CONCURRENCY} in flight`, refValue: sim8.floorPerS, unit: '/s', better: 'higher' }),
        row({ figure: fig, measure: `outbox drain of ${o.queued} reversals`, value: d.drainS, reference: `${o.queued} plain sequential HTTP calls`, refValue: d.plainS, unit: 's', better: 'lower' }),
      ],
      checks: { 'every payment paid, none charged twice': p.allPaid && pos1.allPaid && pos8.allPaid && sim1.allPaid && sim8.allPaid, 'every queued reversal delivered': d.drained },
      details: { payments: o.payments, posPayments: o.posPayments, queued: o.queued, concurrency: CONCURRENCY, posApiRuns: RUNS, floorCpuMsPerOp: { lane1: pos1.floorCpuMsPerOp, lanes8: pos8.floorCpuMsPerOp }, agentKernelMsPerPayment: { lane1: pos1.kernelMsPerPayment, lanes8: pos8.kernelMsPerPayment }, agentCpuMsPerPayment: { lane1: pos1.cpuMsPerPayment, lanes8: pos8.cpuMsPerPayment, simulatorBackend: { lane1: sim1.cpuMsPerPayment, lanes8: sim8.cpuMsPerPayment } }, simulatorCpuMsPerPayment: { lane1: sim1.backendCpuMsPerPayment, lanes8: sim8.backendCpuMsPerPayment } },
    };
  } finally {
    floor.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
