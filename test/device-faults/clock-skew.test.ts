/**
 * A device clock minutes off: the backend's refusal is named for what it is
 * (BACKEND_CLOCK_SKEW, not a missing signature), the skew is measured from the backend's
 * time, later requests are signed with the backend's time, and metrics show it. Real HTTP
 * against the simulated backend on the real clock; the agent's clock is 10 minutes ahead.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock, type Clock } from '../../agent/clock.ts';
import { cashierSkewNotice, ClockOffset, describeSkew } from '../../agent/clock-offset.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../agent/journal/journal.ts';
import { createMetrics } from '../../agent/metrics.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const TEN_MIN = 10 * 60_000;
const ahead: Clock = { now: () => Date.now() + TEN_MIN, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
let backend: RunningBackend;
beforeEach(async () => {
  backend = await startBackend();
});
afterEach(async () => {
  await backend.close();
});

const acquirerWith = (clockOffset?: ClockOffset) =>
  new HttpAcquirer({ baseUrl: backend.url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock: ahead, timeoutMs: { pay: 2_000, query: 1_000, reverse: 1_000, refund: 1_000 }, ...(clockOffset ? { clockOffset } : {}) });
const payReq = (orderNo: string, paymentCode: string) => ({ orderNo, paymentCode, amount: 1000, currency: 'CNY', description: 'skew' });

describe('device faults: the clock', () => {
  it('a 401 PROTO_TIMESTAMP_SKEW is reported as clock skew, measured, and the next requests are signed with the backend time', async () => {
    const offset = new ClockOffset(ahead);
    const acquirer = acquirerWith(offset);
    const first = await acquirer.pay(payReq('T0000001-SKEW-1', backend.sim.issueCode('wechat', { kind: 'instant' })));
    expect(first.kind).toBe('unknown');
    if (first.kind !== 'unknown') return;
    expect(first.error.code).toBe('BACKEND_CLOCK_SKEW');
    expect(first.error.message).toMatch(/10 min ahead/);
    expect(Math.abs(offset.skewMs()! - TEN_MIN)).toBeLessThan(5_000);
    expect(backend.sim.calls().map((c) => c.error)).toEqual(['PROTO_TIMESTAMP_SKEW']);
    expect(backend.sim.order('T0000001-SKEW-1')).toBeUndefined();

    // Signed with the corrected time from now on: the same order is asked about, a new one is paid.
    const query = await acquirer.query({ orderNo: 'T0000001-SKEW-1' });
    expect(query).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' } });
    const second = await acquirer.pay(payReq('T0000001-SKEW-2', backend.sim.issueCode('alipay', { kind: 'instant' })));
    expect(second).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(cashierSkewNotice(offset.skewMs())).toMatch(/clock is 10 min ahead.*call the technician/);
  });

  it('without the offset the same refusal stays unknown and every later request fails too (the fault as found)', async () => {
    const acquirer = acquirerWith();
    const r1 = await acquirer.pay(payReq('T0000001-SKEW-3', backend.sim.issueCode('wechat', { kind: 'instant' })));
    const r2 = await acquirer.query({ orderNo: 'T0000001-SKEW-3' });
    expect([r1.kind, r2.kind]).toEqual(['unknown', 'unknown']);
    expect(backend.sim.calls().map((c) => c.error)).toEqual(['PROTO_TIMESTAMP_SKEW', 'PROTO_TIMESTAMP_SKEW']);
  });

  it('the engine on a clock 10 min ahead: the refused payment ends not charged, the next one is paid; metrics show the skew', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-skew-'));
    const journal = Journal.open(join(dir, 'journal.db'));
    const offset = new ClockOffset(ahead);
    const fast = { firstQueryDelayMs: 50, queryScheduleMs: [100], queryDeadlineMs: 1_000, reverseRetryBaseMs: 50, reverseRetryMaxMs: 200, networkRetryMs: 50 };
    const profiles = Object.fromEntries((['wechat', 'alipay', 'unionpay', 'ecny'] as Wallet[]).map((w) => [w, fast]));
    const engine = new PaymentEngine({ journal, acquirer: acquirerWith(offset), clock: ahead, terminalId: DEMO_TERMINAL.terminalId, profiles, outbox: { retryBaseMs: 50, retryMaxMs: 200 } });
    engine.start();
    try {
      const refused = engine.pay({ amount: 1500, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
      await expect.poll(() => journal.getPayment(refused.orderNo)?.outcome, { timeout: 15_000 }).toBe('reversed');
      const paid = engine.pay({ amount: 2500, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
      await expect.poll(() => journal.getPayment(paid.orderNo)?.outcome, { timeout: 15_000 }).toBe('paid');
      expect(backend.sim.ledger().map((e) => [e.orderNo, e.kind])).toEqual([[paid.orderNo, 'charge']]);
      const metrics = createMetrics({ outbox: () => ({ pending: 0, dead: 0 }), scanners: () => [], now: Date.now, clockSkewMs: () => offset.skewMs() });
      const line = (await metrics.text()).split('\n').find((l) => l.startsWith('scanpay_clock_skew_seconds '))!;
      expect(Math.abs(Number(line.split(' ')[1]) - 600)).toBeLessThan(5);
    } finally {
      await engine.stop();
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('scanpay recover on a clock 10 min ahead learns the offset from the refusal, then lists the orders', async () => {
    const { DeviceClient } = await import('../../agent/backend/device-client.ts');
    const { learnClockOffset } = await import('../../agent/recovery.ts');
    const offset = new ClockOffset(ahead);
    const client = new DeviceClient({ baseUrl: backend.url, clock: offset.asClock(), credentials: () => DEMO_TERMINAL });
    await expect(client.call('orders', { since: 0, limit: 1 })).rejects.toMatchObject({ code: 'PROTO_TIMESTAMP_SKEW' });
    await learnClockOffset(client, offset, ahead);
    expect(Math.abs(offset.skewMs()! - TEN_MIN)).toBeLessThan(5_000);
    await expect(client.call('orders', { since: 0, limit: 1 })).resolves.toMatchObject({ body: { result: 'OK', orders: [] } });
  });

  it('says the skew in words', () => {
    expect(describeSkew(-45_000)).toBe('45 s behind');
    expect(describeSkew(8 * 24 * 3_600_000)).toBe('192 h ahead');
    expect(cashierSkewNotice(10_000)).toBeUndefined();
  });
});
