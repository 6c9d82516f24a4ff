/**
 * `npx tsx bench/simulator-memory.ts [payments]`: the simulated backend's memory and cost
 * per call as its orders grow, the simulator alone. `scanpay sim backend` (built dist/, or
 * the sources with SCANPAY_SOURCE=1) runs in a process of its own with its ledger in a
 * temporary file; a signing test terminal pays (a fresh instant code from the control
 * API, then a pay and a query) one payment at a time. At 1/10, 1/2 and all of N the
 * simulator does a full GC (bench/gc-probe.mjs) and reports heap and RSS, and the figure
 * gives the median time of the last 200 pays; at the end the ledger audit must show every
 * payment charged once. The footprint figure (bench/footprint.ts) measures the same heap
 * with the agent in between, at the agent's pace.
 */
import { rmSync } from 'node:fs';
import { systemClock } from '../agent/clock.ts';
import { DEMO_TERMINAL } from '../simulator/backend/demo-terminal.ts';
import { createTestTerminal } from '../simulator/backend/test-terminal.ts';
import { tempDir } from './agent-under-test.ts';
import { RUNS, startSimulatorProcess } from './processes.ts';
import { median } from './stats.ts';

const payments = Number(process.argv[2] ?? 2000);
const checkpoints = [payments / 10, payments / 2, payments].map(Math.round);
const dir = tempDir();
const sim = await startSimulatorProcess(dir, { gcProbe: true });
const readings: Array<{ payments: number; heapUsedMb: number; rssMb: number; payMsMedian: number }> = [];
try {
  const terminal = createTestTerminal({ url: sim.url, terminal: DEMO_TERMINAL, clock: systemClock });
  const payMs: number[] = [];
  let done = 0;
  let failed = 0;
  for (const n of checkpoints) {
    for (; done < n; done++) {
      const issued = (await (await fetch(`${sim.url}/control/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wallet":"wechat"}' })).json()) as { code: string };
      const orderNo = `T0000001-M-${done}`;
      const t0 = performance.now();
      const pay = await terminal.call('pay', { orderNo, paymentCode: issued.code, amount: 100 + (done % 900), currency: 'CNY', description: 'bench' });
      payMs.push(performance.now() - t0);
      const query = await terminal.call('query', { orderNo });
      if (!pay.verified || (pay.body as { result?: string }).result !== 'SUCCESS' || !query.verified) failed++;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    readings.push({ payments: n, ...(await sim.afterGc()), payMsMedian: median(payMs.slice(-200)) });
  }
  const { audit } = (await (await fetch(`${sim.url}/control/ledger`)).json()) as { audit: { orders: number; charged: number; doubleCharges: string[] } };
  const [first, , last] = readings as [(typeof readings)[0], unknown, (typeof readings)[0]];
  const perThousand = ((last.heapUsedMb - first.heapUsedMb) / (last.payments - first.payments)) * 1000;
  process.stdout.write(
    [
      `simulator alone (${RUNS}), ${payments} payments, ${failed} failed; audit: ${audit.orders} orders, ${audit.doubleCharges.length} double charges`,
      '| after | heap used after GC | RSS after GC | pay, median of the last 200 |',
      '|---|---|---|---|',
      ...readings.map((r) => `| ${r.payments} | ${r.heapUsedMb.toFixed(2)} MB | ${r.rssMb.toFixed(1)} MB | ${r.payMsMedian.toFixed(2)} ms |`),
      `heap ${last.payments} / ${first.payments}: ${(last.heapUsedMb / first.heapUsedMb).toFixed(3)}x (${perThousand.toFixed(2)} MB per 1,000 payments); pay time ${(last.payMsMedian / first.payMsMedian).toFixed(2)}x`,
      JSON.stringify({ payments, failed, audit, readings }),
      '',
    ].join('\n'),
  );
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
