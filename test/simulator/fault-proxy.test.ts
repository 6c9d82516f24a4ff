/**
 * The fault proxy between the real engine and the simulated acquirer: each network fault
 * is survived with the money right (the acquirer's ledger is the oracle).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { startFaultProxy, type FaultProxy } from '../../simulator/proxy/fault-proxy.ts';

let backend: RunningBackend;
let proxy: FaultProxy;
let journal: Journal;
let engine: PaymentEngine;
let clock: ManualClock;
let dir: string;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  backend = await startBackend({ clock });
  proxy = await startFaultProxy({ target: backend.url, seed: 7 });
  dir = mkdtempSync(join(tmpdir(), 'scanpay-proxy-'));
  journal = Journal.open(join(dir, 'j.db'));
  const acquirer = new HttpAcquirer({ baseUrl: proxy.url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock, timeoutMs: { pay: 300, query: 300, reverse: 300, refund: 300 } });
  engine = new PaymentEngine({ journal, acquirer, clock, terminalId: DEMO_TERMINAL.terminalId, random: () => 0.5 });
  engine.start();
});
afterEach(async () => {
  await engine.stop();
  journal.close();
  await proxy.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

async function finish(orderNo: string, onStep?: () => Promise<void>) {
  for (let i = 0; i < 500; i++) {
    await engine.idle();
    if (engine.get(orderNo).outcome) return engine.get(orderNo);
    await onStep?.();
    if (!clock.advanceToNext()) await engine.idle();
  }
  throw new Error(`payment ${orderNo} did not finish: ${engine.get(orderNo).state}`);
}

const ledgerOf = (orderNo: string) => backend.sim.ledger().filter((e) => e.orderNo === orderNo);

describe('fault proxy', () => {
  it('passes traffic through untouched when no fault is set', async () => {
    const p = engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    expect((await finish(p.orderNo)).outcome).toBe('paid');
  });

  it('a response cut in the middle: unknown, then paid by query, charged once', async () => {
    await proxy.set({ cutRate: 1 });
    const p = engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('alipay', { kind: 'instant' }) });
    await engine.idle();
    await proxy.set({});
    const final = await finish(p.orderNo);
    expect(final.outcome).toBe('paid');
    expect(ledgerOf(p.orderNo).filter((e) => e.kind === 'charge')).toHaveLength(1);
    expect(proxy.stats().cut).toBeGreaterThan(0);
  });

  it('a reset before the request is passed on: nothing processed, reversed, charged zero', async () => {
    await proxy.set({ resetRate: 1 });
    const p = engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await engine.idle();
    await proxy.set({});
    const final = await finish(p.orderNo);
    expect(final.outcome).toBe('reversed');
    expect(ledgerOf(p.orderNo)).toHaveLength(0);
    expect(proxy.stats().reset).toBe(1);
  });

  it('a black hole: the request times out, the payment is queried and ends right', async () => {
    await proxy.set({ blackholeRate: 1 });
    const p = engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await engine.idle();
    expect(engine.get(p.orderNo).state).toBe('querying');
    await proxy.set({});
    const final = await finish(p.orderNo);
    expect(final.outcome).toBe('reversed');
    expect(ledgerOf(p.orderNo)).toHaveLength(0);
  });

  it('the acquirer unreachable, then back: the reversal waits in the outbox and is delivered', async () => {
    const p = engine.pay({ amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'walkaway' }) });
    await engine.idle();
    await proxy.set({ down: true });
    let restored = false;
    const final = await finish(p.orderNo, async () => {
      if (!restored && engine.get(p.orderNo).state === 'reversal_queued') {
        restored = true;
        await proxy.set({});
      }
    });
    expect(restored).toBe(true);
    expect(final.outcome).toBe('reversed');
  });

  it('is reproducible: the same seed strikes the same requests', async () => {
    const strikes = async (seed: number) => {
      const px = await startFaultProxy({ target: backend.url, seed });
      await px.set({ resetRate: 0.5 });
      const results: boolean[] = [];
      for (let i = 0; i < 12; i++) {
        results.push(
          await fetch(`${px.url}/control/health`, { headers: { connection: 'close' } }).then(
            () => true,
            () => false,
          ),
        );
      }
      await px.close();
      return results;
    };
    const a = await strikes(42);
    expect(await strikes(42)).toEqual(a);
    expect(a).toContain(true);
    expect(a).toContain(false);
  });
});
