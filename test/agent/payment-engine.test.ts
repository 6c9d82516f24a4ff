/**
 * The payment core end to end: real HTTP to the simulated acquirer, a real journal file,
 * a manual clock. The acquirer's ledger is the oracle for what the customer was charged.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isScanpayError } from '../../agent/errors.ts';
import { createRig, type Rig } from '../support/payment-rig.ts';

let rig: Rig;
beforeEach(async () => {
  rig = await createRig();
});
afterEach(async () => {
  await rig.close();
});

const sim = () => rig.backend.sim;
const net = (orderNo: string) =>
  sim()
    .ledger()
    .filter((e) => e.orderNo === orderNo)
    .reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0);
const charges = (orderNo: string) => sim().ledger().filter((e) => e.orderNo === orderNo && e.kind === 'charge').length;

describe('payment core over real HTTP', () => {
  it('instant success: paid, charged once, journal and ledger agree', async () => {
    const code = sim().issueCode('wechat', { kind: 'instant' });
    const p = await rig.payAndFinish(code);
    expect(p).toMatchObject({ outcome: 'paid', state: 'paid', amount: 1234, wallet: 'wechat' });
    expect(charges(p.orderNo)).toBe(1);
    expect(net(p.orderNo)).toBe(1234);
    // The code is gone from the journal once the payment is final; only the masked form stays.
    expect(rig.journal.getPayment(p.orderNo)!.code).toBeNull();
    expect(p.code).not.toBe(code);
  });

  it('response lost after the charge: ends paid by query, charged exactly once', async () => {
    const code = sim().issueCode('alipay', { kind: 'instant' });
    sim().addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('paid');
    expect(charges(p.orderNo)).toBe(1);
    const ops = sim().calls().map((c) => c.op);
    expect(ops[0]).toBe('pay');
    expect(ops).toContain('query');
    expect(ops.filter((o) => o === 'pay')).toHaveLength(1);
  });

  it('customer enters the password in time: paid after queries', async () => {
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 12 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('paid');
    expect(net(p.orderNo)).toBe(1234);
    expect(rig.seen.some((v) => v.orderNo === p.orderNo && v.customerPaying)).toBe(true);
  });

  it('customer still paying past the deadline: reverse refused with retry, then accepted; charged zero', async () => {
    // WeChat deadline 45 s; the customer confirms at 60 s, in the middle of the reversal.
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 60 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('reversed');
    const reverses = sim().calls().filter((c) => c.op === 'reverse');
    expect(reverses.length).toBeGreaterThan(1);
    const events = rig.journal.events(p.orderNo).map((e) => e.cause);
    expect(events.some((c) => /^reverse: retry/.test(c))).toBe(true);
    expect(events.at(-1)).toBe('reversed');
    expect(net(p.orderNo)).toBe(0);
    expect(sim().audit().doubleCharges).toEqual([]);
  });

  it('customer walks away: reversed, never charged', async () => {
    const code = sim().issueCode('alipay', { kind: 'walkaway' });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('reversed');
    expect(charges(p.orderNo)).toBe(0);
  });

  it.each([
    ['insufficient', 'NOT_ENOUGH'],
    ['expired', 'AUTH_CODE_EXPIRED'],
    ['invalid', 'AUTH_CODE_INVALID'],
  ] as const)('definite failure (%s) ends declined with its reason, nothing charged', async (kind, reason) => {
    const code = sim().issueCode('wechat', { kind });
    const p = await rig.payAndFinish(code);
    expect(p).toMatchObject({ outcome: 'declined', reasonCode: reason });
    expect(charges(p.orderNo)).toBe(0);
  });

  it.each(['bad-signature', 'unsigned', 'malformed'] as const)('a %s answer is never taken as success', async (kind) => {
    const code = sim().issueCode('wechat', { kind: 'instant' });
    sim().addFault({ op: 'any', kind });
    const p = rig.engine.pay({ amount: 500, paymentCode: code });
    // Every answer is untrustworthy: the agent must end up queueing the reversal, not paid.
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'reversal_queued');
    expect(rig.seen.filter((v) => v.orderNo === p.orderNo).map((v) => v.state)).not.toContain('paid');
    // The charge really happened behind the tampered answers...
    expect(charges(p.orderNo)).toBe(1);
    // ...and once answers verify again, the queued reversal undoes it.
    sim().clearFaults();
    const final = await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null).then(() => rig.engine.get(p.orderNo));
    expect(final.outcome).toBe('reversed');
    expect(net(p.orderNo)).toBe(0);
  });

  it.each(['http5xx', 'reset', 'system-error'] as const)('pay answered with %s: unknown, queried, then reversed; nothing charged', async (kind) => {
    const code = sim().issueCode('unionpay', { kind: 'instant' });
    sim().addFault({ op: 'pay', kind, count: 1 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('reversed');
    expect(net(p.orderNo)).toBe(0);
    // The pay was never resent under a new order number: one order for this code.
    expect(new Set(sim().calls().map((c) => c.orderNo))).toEqual(new Set([p.orderNo]));
  });

  it('backend down during the reversal: queued, then delivered when it returns', async () => {
    const code = sim().issueCode('wechat', { kind: 'walkaway' });
    const p = rig.engine.pay({ amount: 800, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'querying');
    await rig.backend.stop();
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'reversal_queued');
    expect(rig.journal.outbox('pending')).toHaveLength(1);
    // A few failed deliveries while it stays down.
    const before = rig.clock.now();
    await rig.drive(() => rig.clock.now() - before > 60_000);
    expect(rig.journal.outbox('pending')[0]!.attempts).toBeGreaterThan(1);
    expect(rig.engine.get(p.orderNo).outcome).toBeNull();
    await rig.backend.restart();
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    expect(rig.engine.get(p.orderNo).outcome).toBe('reversed');
    expect(rig.journal.outbox('done')).toHaveLength(1);
    expect(net(p.orderNo)).toBe(0);
    expect(sim().order(p.orderNo)?.state).toBe('REVOKED');
  });

  it('backend down during the reversal: a restarted agent delivers the queued reversal', async () => {
    const code = sim().issueCode('alipay', { kind: 'instant' });
    sim().addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    const p = rig.engine.pay({ amount: 900, paymentCode: code });
    await rig.engine.idle();
    await rig.backend.stop();
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'reversal_queued');
    expect(charges(p.orderNo)).toBe(1);
    await rig.restartAgent();
    await rig.backend.restart();
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    expect(rig.engine.get(p.orderNo).outcome).toBe('reversed');
    expect(net(p.orderNo)).toBe(0);
  });

  it('network down when paying: resent with the same order number when it returns', async () => {
    await rig.backend.stop();
    const code = sim().issueCode('wechat', { kind: 'instant' });
    const p = rig.engine.pay({ amount: 700, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'waiting_network');
    expect(rig.engine.get(p.orderNo).cause).toMatch(/network down/);
    await rig.backend.restart();
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    expect(rig.engine.get(p.orderNo).outcome).toBe('paid');
    expect(charges(p.orderNo)).toBe(1);
    expect(rig.journal.getPayment(p.orderNo)!.pay_attempts).toBeGreaterThan(1);
  });

  it('network down until the code expires: not charged, no reversal needed', async () => {
    await rig.backend.stop();
    const code = sim().issueCode('wechat', { kind: 'instant' });
    const p = await rig.payAndFinish(code);
    expect(p).toMatchObject({ outcome: 'declined', reasonCode: 'NOT_SENT' });
    expect(sim().calls()).toHaveLength(0);
  });

  it('cancel while the customer enters the password: reversed, charged zero', async () => {
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 30 });
    const p = rig.engine.pay({ amount: 600, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).customerPaying);
    rig.engine.cancel(p.orderNo);
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    expect(rig.engine.get(p.orderNo).outcome).toBe('reversed');
    expect(net(p.orderNo)).toBe(0);
    expect(() => rig.engine.cancel(p.orderNo)).toThrow(/already ended/);
  });

  it('wrong barcode: refused at once, no backend call', () => {
    for (const text of ['4006381333931', '6222021234567890', 'hello']) {
      expect(() => rig.engine.pay({ amount: 100, paymentCode: text })).toThrow();
    }
    expect(sim().calls()).toHaveLength(0);
    expect(rig.journal.listPayments()).toHaveLength(0);
  });

  it('duplicate scan: the same code for a second order is refused, no backend call', async () => {
    const code = sim().issueCode('wechat', { kind: 'instant' });
    const first = await rig.payAndFinish(code);
    const callsBefore = sim().calls().length;
    let error: unknown;
    try {
      rig.engine.pay({ amount: 1234, paymentCode: code });
    } catch (e) {
      error = e;
    }
    expect(isScanpayError(error, 'PAY_CODE_DUPLICATE')).toBe(true);
    expect(sim().calls()).toHaveLength(callsBefore);
    expect(charges(first.orderNo)).toBe(1);
    expect(JSON.stringify(error)).not.toContain(code);
  });

  it('the same POS order id returns the same payment, never a second charge', async () => {
    const code = sim().issueCode('wechat', { kind: 'instant' });
    const a = rig.engine.pay({ amount: 300, paymentCode: code, posOrderId: 'POS-1' });
    const b = rig.engine.pay({ amount: 300, paymentCode: code, posOrderId: 'POS-1' });
    expect(b.orderNo).toBe(a.orderNo);
    await rig.drive(() => rig.engine.get(a.orderNo).outcome !== null);
    expect(charges(a.orderNo)).toBe(1);
    expect(() => rig.engine.pay({ amount: 301, paymentCode: code, posOrderId: 'POS-1' })).toThrow(/POS order id/);
  });

  it('refuses amounts that are not positive integers within the limit', () => {
    const code = sim().issueCode('wechat', { kind: 'instant' });
    for (const amount of [0, -1, 12.5, Number.NaN, 500_001]) {
      expect(() => rig.engine.pay({ amount, paymentCode: code })).toThrow(/amount/);
    }
    expect(sim().calls()).toHaveLength(0);
  });

  it('a reversal undeliverable past its maximum age is never a dead letter: an alarm on the payment, and it keeps trying until it settles by refund', async () => {
    // One hour stands in for the 7-day reversal window, on both sides, to keep the run short.
    await rig.close();
    const hour = 3_600_000;
    rig = await createRig({ backend: { reverseWindowMs: hour }, outbox: { maxAgeMs: { reverse: hour }, retryMaxMs: 10 * 60_000 } });
    const code = sim().issueCode('wechat', { kind: 'walkaway' });
    const p = rig.engine.pay({ amount: 800, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).state === 'querying');
    await rig.backend.stop();
    await rig.drive(() => rig.engine.get(p.orderNo).alarms.length > 0);
    expect(rig.journal.outbox('dead')).toEqual([]);
    expect(rig.engine.get(p.orderNo)).toMatchObject({ outcome: null, state: 'reversal_queued', alarms: [{ code: 'PAY_FOLLOW_UP_OVERDUE', message: expect.stringMatching(/customer may still be charged/) }] });
    expect(rig.seen.filter((v) => v.orderNo === p.orderNo).at(-1)!.alarms).toHaveLength(1);
    await rig.backend.restart();
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    // Too old to reverse: the refund path finds nothing was paid, a query shows the order can no longer be paid, and it says so.
    expect(rig.engine.get(p.orderNo)).toMatchObject({ outcome: 'reversed', alarms: [] });
    expect(sim().calls().map((c) => c.op).slice(-3)).toEqual(['reverse', 'refund', 'query']);
    expect(rig.journal.events(p.orderNo).at(-1)!.cause).toMatch(/never paid/);
    expect(net(p.orderNo)).toBe(0);
  });

  describe('refunds', () => {
    const refunds = (orderNo: string) => sim().ledger().filter((e) => e.orderNo === orderNo && e.kind === 'refund');

    it('refunds in part, twice, and refuses more than was paid', async () => {
      const p = await rig.payAndFinish(sim().issueCode('wechat', { kind: 'instant' }), 1000);
      expect(await rig.engine.refund(p.orderNo, { refundId: 'R1', amount: 300 })).toMatchObject({ state: 'refunded', amount: 300 });
      expect(await rig.engine.refund(p.orderNo, { refundId: 'R2' })).toMatchObject({ state: 'refunded', amount: 700 });
      await expect(rig.engine.refund(p.orderNo, { refundId: 'R3', amount: 1 })).rejects.toMatchObject({ code: 'PAY_REFUND_EXCEEDS' });
      expect(rig.engine.get(p.orderNo).refundedAmount).toBe(1000);
      expect(net(p.orderNo)).toBe(0);
    });

    it('is idempotent by refund id', async () => {
      const p = await rig.payAndFinish(sim().issueCode('alipay', { kind: 'instant' }), 1000);
      const [a, b] = await Promise.all([rig.engine.refund(p.orderNo, { refundId: 'same', amount: 400 }), rig.engine.refund(p.orderNo, { refundId: 'same', amount: 400 })]);
      expect(b.refundNo).toBe(a.refundNo);
      await rig.drive(() => rig.engine.refunds(p.orderNo).every((r) => r.state !== 'pending'));
      expect(refunds(p.orderNo)).toHaveLength(1);
      await expect(rig.engine.refund(p.orderNo, { refundId: 'same', amount: 500 })).rejects.toMatchObject({ code: 'PAY_REFUND_CONFLICT' });
    });

    it('a refund whose answer is lost is retried from the outbox with the same refund number, refunded once', async () => {
      const p = await rig.payAndFinish(sim().issueCode('wechat', { kind: 'instant' }), 1000);
      sim().addFault({ op: 'refund', kind: 'lost-response', count: 1 });
      const r = await rig.engine.refund(p.orderNo, { refundId: 'lost', amount: 1000 });
      expect(r.state).toBe('pending');
      await rig.drive(() => rig.engine.refunds(p.orderNo)[0]!.state !== 'pending');
      expect(rig.engine.refunds(p.orderNo)[0]!.state).toBe('refunded');
      expect(refunds(p.orderNo)).toHaveLength(1);
      expect(sim().calls().filter((c) => c.op === 'refund')).toHaveLength(2);
    });

    it('refuses to refund a payment that was not paid', async () => {
      const p = await rig.payAndFinish(sim().issueCode('wechat', { kind: 'insufficient' }));
      await expect(rig.engine.refund(p.orderNo, { refundId: 'x' })).rejects.toMatchObject({ code: 'PAY_NOT_REFUNDABLE' });
    });
  });
});
