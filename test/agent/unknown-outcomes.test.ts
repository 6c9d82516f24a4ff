/**
 * Money bugs a developer could plausibly write that once survived the whole suite (issue
 * 13): each test here fails with its named mutation applied to the engine (checked by hand,
 * see docs/testing.md). Real HTTP to the simulated acquirer, a real journal file, a manual
 * clock; the acquirer's ledger says what the customer was charged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.ts';
import { maskCode, type Wallet } from '../../agent/payment-code.ts';
import { RULE_PROFILES, walletRulesFor, type RuleProfileName } from '../../simulator/backend/rule-profiles.ts';
import { fillDisk } from '../support/journal-faults.ts';
import { createRig, type Rig } from '../support/payment-rig.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const ledgerOf = (r: Rig, orderNo: string) => r.backend.sim.ledger().filter((e) => e.orderNo === orderNo);
const net = (r: Rig, orderNo: string) => ledgerOf(r, orderNo).reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0);

describe('a lost answer is remembered as "maybe sent"', () => {
  it('lost answer, a full disk, then the device off until long after the code expired: paid by query, never "declined, not charged"', async () => {
    rig = await createRig();
    const r = rig;
    const code = r.backend.sim.issueCode('wechat', { kind: 'instant' });
    r.backend.sim.addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    // The disk fills the moment the pay's uncertain answer has been recorded.
    let disk: ReturnType<typeof fillDisk> | undefined;
    const afterPay = r.journal.afterPayAttempt.bind(r.journal);
    r.journal.afterPayAttempt = (...args) => {
      afterPay(...args);
      disk = fillDisk(r.journal);
    };
    const p = r.engine.pay({ amount: 1234, paymentCode: code });
    // A few seconds of failing writes (the engine retries from the journal), then the power goes.
    await r.drive(() => r.clock.now() >= p.createdAt + 5_000);
    expect(disk?.writesRefused()).toBeGreaterThan(1);
    expect(r.journal.getPayment(p.orderNo)).toMatchObject({ state: 'submitting', pay_in_flight: 0, outcome: null });
    expect(net(r, p.orderNo)).toBe(1234);
    // Back (with a working disk) two minutes later, long after the customer's code expired.
    await r.restartAgent({ offForMs: 120_000 });
    await r.drive(() => r.engine.get(p.orderNo).outcome !== null);
    const done = r.engine.get(p.orderNo);
    expect(done.outcome).toBe('paid');
    expect(done.reasonCode).toBeNull();
    expect(net(r, p.orderNo)).toBe(1234);
    expect(r.backend.sim.calls().filter((c) => c.op === 'pay')).toHaveLength(1);
  });
});

describe('query answers that are not final', () => {
  it('an order left NOTPAY (the customer gave up) keeps being queried and is reversed at the deadline, never declined on NOTPAY', async () => {
    // The customer walks away 8 s in: the acquirer answers NOTPAY from then on.
    rig = await createRig({ backend: { passwordAbandonMs: 8_000 } });
    const code = rig.backend.sim.issueCode('wechat', { kind: 'walkaway' });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('reversed');
    expect(p.reasonCode).toBeNull();
    expect(rig.journal.events(p.orderNo).map((e) => e.cause)).toContain('query: NOTPAY');
    const reverse = rig.backend.sim.calls().find((c) => c.op === 'reverse');
    expect(reverse!.at - p.createdAt).toBe(45_000);
    expect(rig.backend.sim.orders().find((o) => o.orderNo === p.orderNo)!.state).toBe('REVOKED');
    expect(net(rig, p.orderNo)).toBe(0);
  });

  // A held query never outlasts the query deadline, whatever the wallet's schedule: the
  // reverse goes out at the deadline itself, not up to a whole hold later.
  it.each<[Wallet, RuleProfileName, number]>([
    ['alipay', 'alipay-like', 60_000],
    ['unionpay', 'upay-like', 60_000],
    ['ecny', 'v1', 60_000],
  ])('%s under %s rules: every query answers by the deadline, the reverse leaves at %i ms', async (wallet, profileName, deadlineMs) => {
    const profile = RULE_PROFILES[profileName];
    // 10:00 in Beijing: Alipay's same-day cancel window stays open for the whole payment.
    rig = await createRig({ acquirerProfile: profile, backend: { rules: walletRulesFor(profile) }, startAt: Date.UTC(2026, 0, 5, 2, 0, 0) });
    const code = rig.backend.sim.issueCode(wallet, { kind: 'walkaway' });
    const p = await rig.payAndFinish(code);
    const queriesAnswered = rig.journal.events(p.orderNo).filter((e) => e.cause.startsWith('query: '));
    expect(queriesAnswered.length).toBeGreaterThan(1);
    for (const q of queriesAnswered) expect(q.at - p.createdAt).toBeLessThanOrEqual(deadlineMs);
    const reverse = rig.backend.sim.calls().find((c) => c.op === 'reverse');
    expect(reverse!.at - p.createdAt).toBe(deadlineMs);
    expect(p.outcome).toBe('reversed');
    expect(net(rig, p.orderNo)).toBe(0);
  });
});

describe('a refund answered UNKNOWN', () => {
  it('stays pending and counts against the amount: the cashier cannot refund again; it ends refunded once', async () => {
    rig = await createRig();
    const r = rig;
    const p = await r.payAndFinish(r.backend.sim.issueCode('alipay', { kind: 'instant' }), 1000);
    r.backend.sim.addFault({ op: 'refund', kind: 'system-error', count: 1 });
    const first = await r.engine.refund(p.orderNo, { refundId: 'R-unknown', amount: 1000 });
    expect(first.state).toBe('pending');
    expect(r.engine.get(p.orderNo).refundedAmount).toBe(0);
    await expect(r.engine.refund(p.orderNo, { refundId: 'R-again', amount: 1000 })).rejects.toMatchObject({ code: 'PAY_REFUND_EXCEEDS' });
    await expect(r.engine.refund(p.orderNo, { refundId: 'R-rest' })).rejects.toMatchObject({ code: 'PAY_REFUND_EXCEEDS' });
    await r.drive(() => r.engine.refunds(p.orderNo).every((x) => x.state !== 'pending'));
    expect(r.engine.refunds(p.orderNo)).toEqual([expect.objectContaining({ refundId: 'R-unknown', state: 'refunded', amount: 1000 })]);
    expect(ledgerOf(r, p.orderNo).filter((e) => e.kind === 'refund')).toHaveLength(1);
    expect(net(r, p.orderNo)).toBe(0);
  });
});

describe('the payment code in logs', () => {
  it('every line the engine writes at trace level carries the masked code, never the code, whatever the key', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
    rig = await createRig({ logger });
    const code = rig.backend.sim.issueCode('wechat', { kind: 'password', seconds: 7 });
    rig.backend.sim.addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('paid');
    const all = lines.join('');
    expect(all).not.toContain(code);
    expect(all).not.toContain(code.slice(2, 14));
    expect(all).toContain(maskCode(code));
  });
});
