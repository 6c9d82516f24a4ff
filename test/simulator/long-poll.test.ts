import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { createTestTerminal, type TestTerminal } from '../../simulator/backend/test-terminal.ts';

let clock: ManualClock;
let backend: RunningBackend;
let terminal: TestTerminal;

beforeEach(async () => {
  clock = new ManualClock();
  backend = await startBackend({ clock, port: 0 });
  terminal = createTestTerminal({ url: backend.url, terminal: DEMO_TERMINAL, clock });
});

afterEach(async () => {
  await backend.close();
});

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Waits (real I/O) until the backend has parked `n` calls on its clock. */
async function parked(n: number): Promise<void> {
  for (let i = 0; i < 10_000 && backend.sim.parkedCalls() !== n; i++) await new Promise((r) => setImmediate(r));
  expect(backend.sim.parkedCalls()).toBe(n);
}

async function payWithPassword(orderNo: string, seconds: number) {
  const paymentCode = backend.sim.issueCode('wechat', { kind: 'password', seconds });
  const r = await terminal.call('pay', { orderNo, paymentCode, amount: 1234, currency: 'CNY' });
  expect(r.body).toMatchObject({ result: 'USER_PAYING' });
}

describe('query long-poll (waitMs)', () => {
  it('holds a query until the customer confirms, then answers SUCCESS at that instant', async () => {
    await payWithPassword('LP-000001', 12);
    const start = clock.now();
    let answered = false;
    const q = terminal.call('query', { orderNo: 'LP-000001', waitMs: 20_000 }).finally(() => (answered = true));
    await parked(1);
    clock.advance(11_999);
    await turns();
    expect(answered).toBe(false);
    clock.advance(1);
    const r = await q;
    expect(r).toMatchObject({ verified: true, body: { result: 'SUCCESS', trade: { state: 'SUCCESS' } } });
    expect(backend.sim.order('LP-000001')?.paidAt).toBe(start + 12_000);
    expect(backend.sim.parkedCalls()).toBe(0);
  });

  it('answers USERPAYING when waitMs passes first', async () => {
    await payWithPassword('LP-000002', 40);
    const q = terminal.call('query', { orderNo: 'LP-000002', waitMs: 5_000 });
    await parked(1);
    clock.advance(5_000);
    expect((await q).body).toMatchObject({ result: 'SUCCESS', trade: { state: 'USERPAYING' } });
  });

  it('answers at once when there is nothing to wait for, or when waitMs is absent', async () => {
    await payWithPassword('LP-000003', 0);
    expect((await terminal.call('query', { orderNo: 'LP-000003', waitMs: 20_000 })).body).toMatchObject({ trade: { state: 'SUCCESS' } });
    expect((await terminal.call('query', { orderNo: 'LP-NOSUCH', waitMs: 20_000 })).body).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    await payWithPassword('LP-000004', 30);
    expect((await terminal.call('query', { orderNo: 'LP-000004' })).body).toMatchObject({ trade: { state: 'USERPAYING' } });
  });

  it('releases a held query when a reverse touches the order', async () => {
    await payWithPassword('LP-000005', 30);
    const q = terminal.call('query', { orderNo: 'LP-000005', waitMs: 20_000 });
    await parked(1);
    expect((await terminal.call('reverse', { orderNo: 'LP-000005' })).body).toMatchObject({ result: 'RETRY' });
    expect((await q).body).toMatchObject({ trade: { state: 'USERPAYING' } });
  });

  it('refuses a waitMs above the protocol maximum', async () => {
    const r = await terminal.call('query', { orderNo: 'LP-000006', waitMs: 25_001 });
    expect(r.status).toBe(400);
  });
});
