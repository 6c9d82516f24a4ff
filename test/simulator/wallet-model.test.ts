import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { WalletModel, behaviourFor, type Behaviour } from '../../simulator/backend/wallet-model.ts';

const DAY = 24 * 60 * 60_000;
let clock: ManualClock;
let model: WalletModel;

beforeEach(() => {
  clock = new ManualClock();
  model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 7 * DAY });
});

function pay(orderNo: string, paymentCode: string, amount = 1234, currency = 'CNY') {
  return model.pay({ orderNo, paymentCode, amount, currency, description: '' });
}

function code(behaviour: Behaviour, wallet: 'wechat' | 'alipay' | 'unionpay' | 'ecny' = 'wechat'): string {
  return model.issueCode(wallet, behaviour).code;
}

const charges = () => model.ledger().filter((e) => e.kind === 'charge');

describe('behaviour selection', () => {
  it('reads the suffix, then the amount', () => {
    expect(behaviourFor('134567890123456901', 100)).toEqual({ kind: 'insufficient' });
    expect(behaviourFor('134567890123456902', 100)).toEqual({ kind: 'expired' });
    expect(behaviourFor('134567890123456903', 100)).toEqual({ kind: 'invalid' });
    expect(behaviourFor('134567890123456904', 100)).toEqual({ kind: 'walkaway' });
    expect(behaviourFor('134567890123456815', 100)).toEqual({ kind: 'password', seconds: 15 });
    expect(behaviourFor('134567890123456123', 100)).toEqual({ kind: 'instant' });
    expect(behaviourFor('134567890123456123', 100_000)).toEqual({ kind: 'password', seconds: 10 });
    expect(behaviourFor('134567890123456901', 100_000)).toEqual({ kind: 'insufficient' });
  });

  it('issues wallet-shaped codes whose suffix encodes the behaviour', () => {
    expect(code({ kind: 'password', seconds: 7 })).toMatch(/^1[0-5]\d{13}807$/);
    expect(code({ kind: 'walkaway' }, 'alipay')).toMatch(/^(2[5-9]|30)\d{13}904$/);
    expect(code({ kind: 'insufficient' }, 'unionpay')).toMatch(/^62\d{14}901$/);
    expect(code({ kind: 'instant' }, 'ecny')).toMatch(/^01\d{14}[0-7]\d\d$/);
  });
});

describe('pay', () => {
  it('charges an instant payment once and records it in the ledger', () => {
    const r = pay('ORDER-0001', code({ kind: 'instant' }));
    expect(r).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS', amount: 1234, wallet: 'wechat', paidAt: clock.now() } });
    expect(charges()).toMatchObject([{ seq: 1, kind: 'charge', orderNo: 'ORDER-0001', amount: 1234, currency: 'CNY', wallet: 'wechat' }]);
    expect(charges()[0]?.code).toMatch(/^13\*+\d{4}$/);
  });

  it.each([
    [{ kind: 'insufficient' } as const, 'NOT_ENOUGH'],
    [{ kind: 'expired' } as const, 'AUTH_CODE_EXPIRED'],
    [{ kind: 'invalid' } as const, 'AUTH_CODE_INVALID'],
  ])('declines %o with %s and charges nothing', (behaviour, reasonCode) => {
    const r = pay('ORDER-0002', code(behaviour));
    expect(r).toMatchObject({ result: 'FAIL', reasonCode, trade: { state: 'PAYERROR' } });
    expect(model.query('ORDER-0002').trade?.state).toBe('PAYERROR');
    expect(model.ledger()).toEqual([]);
  });

  it('refuses a string that is no wallet code without creating an order', () => {
    expect(pay('ORDER-0003', '4006381333931')).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_INVALID' });
    expect(model.orders()).toEqual([]);
  });

  it('password: USER_PAYING until the customer confirms NN seconds later, then paid', () => {
    const c = code({ kind: 'password', seconds: 20 });
    const start = clock.now();
    expect(pay('ORDER-0004', c)).toMatchObject({ result: 'USER_PAYING', trade: { state: 'USERPAYING' } });
    clock.advance(19_999);
    expect(model.query('ORDER-0004').trade?.state).toBe('USERPAYING');
    expect(charges()).toEqual([]);
    clock.advance(1);
    expect(model.query('ORDER-0004').trade).toMatchObject({ state: 'SUCCESS', paidAt: start + 20_000 });
    expect(charges()).toMatchObject([{ at: start + 20_000, amount: 1234 }]);
  });

  it('asks a password of 10 s for 1000.00 and more on a plain code', () => {
    expect(pay('ORDER-0005', '134567890123456123', 100_000)).toMatchObject({ result: 'USER_PAYING' });
    clock.advance(10_000);
    expect(model.query('ORDER-0005').trade?.state).toBe('SUCCESS');
  });

  it('walk-away: USER_PAYING, never paid, NOTPAY after the abandon time', () => {
    pay('ORDER-0006', code({ kind: 'walkaway' }));
    clock.advance(89_999);
    expect(model.query('ORDER-0006').trade?.state).toBe('USERPAYING');
    clock.advance(1);
    expect(model.query('ORDER-0006').trade?.state).toBe('NOTPAY');
    expect(model.ledger()).toEqual([]);
    expect(model.reverse('ORDER-0006')).toMatchObject({ result: 'SUCCESS', recall: false, trade: { state: 'REVOKED' } });
  });

  it('an override beats the suffix and the amount rule', () => {
    const c = '134567890123456901';
    model.setBehaviour(c, { kind: 'instant' });
    expect(pay('ORDER-0007', c, 500_000)).toMatchObject({ result: 'SUCCESS' });
  });

  it('codes are single use, even when the first payment failed', () => {
    const c = code({ kind: 'insufficient' });
    pay('ORDER-0008', c);
    expect(pay('ORDER-0009', c)).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_USED' });
    const ok = code({ kind: 'instant' });
    pay('ORDER-0010', ok);
    expect(pay('ORDER-0011', ok)).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_USED' });
    expect(charges()).toHaveLength(1);
  });

  it('issued codes expire after the TTL; unissued ones count from first sight', () => {
    const c = code({ kind: 'instant' });
    clock.advance(60_000);
    expect(pay('ORDER-0012', c)).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_EXPIRED' });
    expect(pay('ORDER-0013', '134567890123456000')).toMatchObject({ result: 'SUCCESS' });
    expect(charges().map((e) => e.orderNo)).toEqual(['ORDER-0013']);
  });

  it('a repeated pay answers the current state and never charges twice', () => {
    const c = code({ kind: 'password', seconds: 5 });
    expect(pay('ORDER-0014', c)).toMatchObject({ result: 'USER_PAYING' });
    expect(pay('ORDER-0014', c)).toMatchObject({ result: 'USER_PAYING' });
    clock.advance(5_000);
    expect(pay('ORDER-0014', c)).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS' } });
    expect(pay('ORDER-0014', c)).toMatchObject({ result: 'SUCCESS' });
    expect(charges()).toHaveLength(1);
    expect(model.audit()).toMatchObject({ orders: 1, charged: 1234, netCharged: 1234, doubleCharges: [] });

    const d = code({ kind: 'insufficient' });
    pay('ORDER-0015', d);
    expect(pay('ORDER-0015', d)).toMatchObject({ result: 'FAIL', reasonCode: 'NOT_ENOUGH' });
  });

  it('the same order number with other details is ORDER_NO_USED', () => {
    const c = code({ kind: 'instant' });
    pay('ORDER-0016', c, 100);
    expect(pay('ORDER-0016', c, 200)).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NO_USED' });
    expect(pay('ORDER-0016', c, 100, 'USD')).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NO_USED' });
    expect(pay('ORDER-0016', code({ kind: 'instant' }), 100)).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NO_USED' });
    expect(charges()).toHaveLength(1);
  });
});

describe('query', () => {
  it('does not know an order it never saw', () => {
    expect(model.query('ORDER-0100')).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
  });
});

describe('reverse', () => {
  it('refunds a paid order in full', () => {
    pay('ORDER-0200', code({ kind: 'instant' }));
    expect(model.reverse('ORDER-0200')).toMatchObject({ result: 'SUCCESS', recall: false, trade: { state: 'REVOKED', refundedAmount: 1234 } });
    expect(model.ledger().map((e) => [e.kind, e.amount])).toEqual([['charge', 1234], ['reversal', 1234]]);
    expect(model.audit()).toMatchObject({ charged: 1234, netCharged: 0 });
    // Idempotent, and a repeated pay now sees the order reversed.
    expect(model.reverse('ORDER-0200')).toMatchObject({ result: 'SUCCESS' });
    expect(model.ledger()).toHaveLength(2);
  });

  it('closes an unpaid (declined) order without a ledger entry', () => {
    pay('ORDER-0201', code({ kind: 'insufficient' }));
    expect(model.reverse('ORDER-0201')).toMatchObject({ result: 'SUCCESS', trade: { state: 'REVOKED' } });
    expect(model.ledger()).toEqual([]);
  });

  it('records an unseen order as reversed, so a late pay cannot charge', () => {
    expect(model.reverse('ORDER-0202')).toEqual({ result: 'SUCCESS', orderNo: 'ORDER-0202', recall: false });
    expect(pay('ORDER-0202', code({ kind: 'instant' }))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_REVERSED' });
    expect(model.ledger()).toEqual([]);
    expect(model.order('ORDER-0202')).toMatchObject({ state: 'REVOKED', tombstone: true, charged: 0 });
  });

  it('answers RETRY while the customer enters the password, then refunds once paid', () => {
    const c = code({ kind: 'password', seconds: 30 });
    pay('ORDER-0203', c);
    clock.advance(10_000);
    expect(model.reverse('ORDER-0203')).toMatchObject({ result: 'RETRY', recall: true, trade: { state: 'USERPAYING' } });
    expect(model.ledger()).toEqual([]);
    clock.advance(20_000);
    expect(model.reverse('ORDER-0203')).toMatchObject({ result: 'SUCCESS', recall: false, trade: { state: 'REVOKED' } });
    expect(model.ledger().map((e) => e.kind)).toEqual(['charge', 'reversal']);
    expect(pay('ORDER-0203', c)).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_REVERSED' });
    expect(model.audit()).toMatchObject({ charged: 1234, netCharged: 0, doubleCharges: [] });
  });

  it('refuses an order older than the reversal window', () => {
    pay('ORDER-0204', code({ kind: 'instant' }));
    clock.advance(7 * DAY + 1);
    expect(model.reverse('ORDER-0204')).toMatchObject({ result: 'FAIL', recall: false, reasonCode: 'REVERSE_EXPIRED' });
    expect(model.ledger().map((e) => e.kind)).toEqual(['charge']);
  });
});

describe('refund', () => {
  it('refunds in parts up to the paid amount, idempotent by refund number', () => {
    pay('ORDER-0300', code({ kind: 'instant' }), 1000);
    const r1 = { orderNo: 'ORDER-0300', refundNo: 'REFUND-001', amount: 300 };
    expect(model.refund(r1)).toMatchObject({ result: 'SUCCESS', refundedAmount: 300, trade: { state: 'REFUND', refundedAmount: 300 } });
    expect(model.refund(r1)).toMatchObject({ result: 'SUCCESS', refundedAmount: 300 });
    expect(model.refund({ ...r1, amount: 301 })).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NO_USED' });
    expect(model.refund({ orderNo: 'ORDER-0300', refundNo: 'REFUND-002', amount: 701 })).toMatchObject({ result: 'FAIL', reasonCode: 'REFUND_EXCEEDS' });
    expect(model.refund({ orderNo: 'ORDER-0300', refundNo: 'REFUND-002', amount: 700 })).toMatchObject({ result: 'SUCCESS', trade: { refundedAmount: 1000 } });
    expect(model.ledger().map((e) => [e.kind, e.amount, e.refundNo])).toEqual([
      ['charge', 1000, undefined],
      ['refund', 300, 'REFUND-001'],
      ['refund', 700, 'REFUND-002'],
    ]);
    expect(model.order('ORDER-0300')).toMatchObject({ charged: 1000, refunded: 1000, net: 0 });
  });

  it('refuses unpaid and unknown orders', () => {
    pay('ORDER-0301', code({ kind: 'insufficient' }));
    expect(model.refund({ orderNo: 'ORDER-0301', refundNo: 'REFUND-003', amount: 1 })).toMatchObject({ result: 'FAIL', reasonCode: 'REFUND_NOT_PAID' });
    expect(model.refund({ orderNo: 'ORDER-0302', refundNo: 'REFUND-004', amount: 1 })).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    pay('ORDER-0303', code({ kind: 'instant' }));
    model.reverse('ORDER-0303');
    expect(model.refund({ orderNo: 'ORDER-0303', refundNo: 'REFUND-005', amount: 1 })).toMatchObject({ result: 'FAIL', reasonCode: 'REFUND_NOT_PAID' });
    expect(model.ledger().filter((e) => e.kind === 'refund')).toEqual([]);
  });
});
