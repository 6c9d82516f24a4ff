/**
 * Figure 3, throughput: payments per second one agent completes against the simulated
 * backend at zero latency (instant customers), beside the floor's operations per second
 * at the same concurrency; and how fast the outbox drains queued reversals when the
 * backend returns, beside the same number of plain sequential HTTP calls.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../agent/journal/journal.ts';
import { maskCode } from '../agent/payment-code.ts';
import { startBackend } from '../simulator/backend/start-backend.ts';
import { httpAcquirer, openAgent, tempDir, wechatCode } from './agent-under-test.ts';
import { openFloor, startStampGateway, type Floor } from './loopback.ts';
import { now, row, type Figure } from './stats.ts';

const CONCURRENCY = 8;

/** Runs `n` tasks, `CONCURRENCY` at a time; returns the seconds taken. */
async function timed(n: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) await task(next++);
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

export async function throughput(o: { payments: number; queued: number }): Promise<Figure> {
  const gateway = await startStampGateway();
  const dir = tempDir();
  const floor = openFloor(dir, gateway.url);
  try {
    const p = await payments(o.payments, floor);
    const d = await drain(o.queued, floor);
    const fig = 'throughput';
    return {
      name: 'throughput',
      rows: [
        row({ figure: fig, measure: `payments/s, ${CONCURRENCY} in flight, zero-latency backend`, value: p.paymentsPerS, reference: `floor ops/s, ${CONCURRENCY} in flight`, refValue: p.floorPerS, unit: '/s', better: 'higher' }),
        row({ figure: fig, measure: `outbox drain of ${o.queued} reversals`, value: d.drainS, reference: `${o.queued} plain sequential HTTP calls`, refValue: d.plainS, unit: 's', better: 'lower' }),
      ],
      checks: { 'every payment paid, none charged twice': p.allPaid, 'every queued reversal delivered': d.drained },
      details: { payments: o.payments, queued: o.queued, concurrency: CONCURRENCY },
    };
  } finally {
    floor.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
