/**
 * scanpay_payments_total counts each payment once, by the event that ends it, though a final
 * payment is emitted again (its end twice, a refund later) and the agent may restart between.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../agent/metrics.ts';
import type { PosPayment, PosResult } from '../../agent/pos-payment.ts';

function payment(id: string, result: PosResult | null, finalAt: number | null, refundedAmount = 0): PosPayment {
  return { id, orderNo: `O${id}`, lane: 'lane-1', amount: 100, currency: 'CNY', description: '', state: result === null ? 'querying' : 'paid', status: '', result, reasonCode: null, reasonMessage: null, rejection: null, wallet: 'wechat', code: null, traceId: null, customerPaying: false, createdAt: 0, updatedAt: finalAt ?? 0, finalAt, deadlineAt: null, refundedAmount, alarms: [] };
}

/** A metrics instance on a clock the test moves. */
function agent(start: number) {
  const clock = { t: start };
  const metrics = createMetrics({ outbox: () => ({ pending: 0, dead: 0 }), scanners: () => [], now: () => clock.t });
  const end = (id: string, result: PosResult, refundedAmount = 0) => metrics.observe({ type: 'payment', payment: payment(id, result, clock.t, refundedAmount) });
  const again = (id: string, result: PosResult, finalAt: number, refundedAmount = 0) => metrics.observe({ type: 'payment', payment: payment(id, result, finalAt, refundedAmount) });
  const count = async (result: PosResult) => Number((await metrics.text()).split('\n').find((l) => l.startsWith(`scanpay_payments_total{result="${result}"}`))!.split(' ')[1]);
  return { clock, metrics, end, again, count };
}

describe('scanpay_payments_total', () => {
  it('counts an end emitted twice once, and no event before the end', async () => {
    const a = agent(1_000_000);
    a.metrics.observe({ type: 'payment', payment: payment('A', null, null) });
    a.end('A', 'not_charged');
    a.clock.t += 3; // the reversal's change, then its outbox item settled
    a.again('A', 'not_charged', a.clock.t - 3);
    a.end('B', 'paid');
    expect(await a.count('not_charged')).toBe(1);
    expect(await a.count('paid')).toBe(1);
  });

  it('counts a "paid" shown seconds after its end was written (the journal sync stalled)', async () => {
    const a = agent(1_000_000);
    const written = a.clock.t;
    a.clock.t += 10_000;
    a.again('slow', 'paid', written);
    expect(await a.count('paid')).toBe(1);
  });

  it('does not count a refund of a payment ended long ago, even 10,000 payments later', async () => {
    const a = agent(1_000_000);
    a.end('first', 'paid');
    const firstEnded = a.clock.t;
    a.clock.t += 1;
    a.again('first', 'paid', firstEnded, 50); // refunded at once: the same payment
    for (let i = 0; i < 10_000; i++) {
      a.clock.t += 100;
      a.end(`P${i}`, 'paid');
    }
    a.again('first', 'paid', firstEnded, 100); // refunded again, 1,000 s on
    a.again('P9999', 'paid', a.clock.t, 100); // the last one refunded at once
    expect(await a.count('paid')).toBe(10_001);
  });

  it('after a restart, counts the payments that end then, not the events of those that ended before', async () => {
    const before = agent(1_000_000);
    before.end('old', 'paid');
    const oldEnded = before.clock.t;
    // Restarted a second later: the counter starts again from 0 (as Prometheus expects of a new process).
    const after = agent(oldEnded + 1_000);
    after.again('old', 'paid', oldEnded, 100); // refunded after the restart
    after.clock.t += 10;
    after.end('recovered', 'declined'); // unfinished at the restart, resolved from the journal
    expect(await after.count('paid')).toBe(0);
    expect(await after.count('declined')).toBe(1);
  });
});
