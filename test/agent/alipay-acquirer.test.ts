/**
 * The Alipay adapter against the simulated Alipay gateway over real HTTP: every answer kind
 * in the normalized shapes, Alipay's own rules (no tombstone, auto-close, same-day cancel),
 * and every bent answer (unsigned, forged, cut, garbled) as unknown, never as a result.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlipayAcquirer } from '../../agent/backend/alipay/alipay-acquirer.ts';
import { demoAlipayCredentials } from '../../agent/backend/alipay/demo-alipay.ts';
import { ManualClock } from '../../agent/clock.ts';
import { alipayWire } from '../../simulator/backend/alipay/alipay-wire.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

// 10:00 in Beijing, so that "later the same day" and "the next day" are both easy to reach.
const clock = new ManualClock(Date.UTC(2026, 2, 2, 2, 0, 0));
let backend: RunningBackend;
let alipay: AlipayAcquirer;
let n = 0;
const orderNo = () => `T1ALI${Date.now()}${++n}`;

beforeAll(async () => {
  backend = await startBackend({ clock, wire: alipayWire(), passwordAbandonMs: 30_000 });
  alipay = new AlipayAcquirer({ ...demoAlipayCredentials(), gatewayUrl: `${backend.url}/gateway.do`, clock, terminalId: 'T0000001' });
});
afterAll(() => backend.close());
beforeEach(() => backend.sim.clearFaults());

const pay = (code: string, o = orderNo(), amount = 1234) => alipay.pay({ orderNo: o, paymentCode: code, amount, currency: 'CNY', description: '咖啡' });
const body = <T>(r: { kind: string; body?: T }): T => {
  expect(r.kind).toBe('answer');
  return r.body as T;
};

describe('Alipay adapter ↔ simulated gateway', () => {
  it('pays, in yuan on the wire and fen back, and a repeated pay says already paid', async () => {
    const o = orderNo();
    const payCode = backend.sim.issueCode('alipay', { kind: 'instant' });
    const r = body(await pay(payCode, o));
    expect(r).toMatchObject({ result: 'SUCCESS', orderNo: o, trade: { state: 'SUCCESS', amount: 1234, currency: 'CNY', wallet: 'alipay', paidAt: clock.now() } });
    expect(backend.sim.order(o)).toMatchObject({ charged: 1234, net: 1234 });
    const code = backend.sim.ledger().find((e) => e.orderNo === o)!.code;
    expect(code).not.toMatch(/^\d{18}$/); // the ledger holds masked codes only
    expect(body(await pay(payCode, o))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_PAID' });
    expect(backend.sim.order(o)?.charged).toBe(1234);
  });

  it('maps declines to their reasons, and the gateway takes Alipay codes only', async () => {
    expect(body(await pay(backend.sim.issueCode('alipay', { kind: 'insufficient' })))).toMatchObject({ result: 'FAIL', reasonCode: 'NOT_ENOUGH' });
    expect(body(await pay(backend.sim.issueCode('alipay', { kind: 'expired' })))).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_INVALID' });
    expect(body(await pay('134567890123456789'))).toMatchObject({ result: 'FAIL', reasonCode: 'AUTH_CODE_INVALID' });
    // The control API hands out Alipay codes whatever wallet is asked for.
    expect(backend.sim.issueCode('wechat', { kind: 'instant' })).toMatch(/^28/);
  });

  it('waits for the buyer (10003), queries WAIT_BUYER_PAY, then TRADE_SUCCESS', async () => {
    const o = orderNo();
    expect(body(await pay(backend.sim.issueCode('alipay', { kind: 'password', seconds: 5 }), o))).toMatchObject({ result: 'USER_PAYING' });
    expect(body(await alipay.query({ orderNo: o }))).toMatchObject({ result: 'SUCCESS', trade: { state: 'USERPAYING', amount: 1234 } });
    clock.advance(5_000);
    expect(body(await alipay.query({ orderNo: o }))).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS' } });
  });

  it('a query of an unknown trade is ORDER_NOT_FOUND; a cancel leaves no tombstone, so a late pay still lands', async () => {
    const o = orderNo();
    expect(body(await alipay.query({ orderNo: o }))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(await alipay.reverse({ orderNo: o }))).toMatchObject({ result: 'FAIL', recall: false, reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(await pay(backend.sim.issueCode('alipay', { kind: 'instant' }), o))).toMatchObject({ result: 'SUCCESS' });
    expect(body(await alipay.reverse({ orderNo: o }))).toMatchObject({ result: 'SUCCESS', recall: false });
    expect(backend.sim.order(o)).toMatchObject({ charged: 1234, net: 0 });
  });

  it('a cancel while the customer pays is retry_flag=Y: call again', async () => {
    const o = orderNo();
    await pay(backend.sim.issueCode('alipay', { kind: 'password', seconds: 20 }), o);
    expect(body(await alipay.reverse({ orderNo: o }))).toMatchObject({ result: 'RETRY', recall: true });
    clock.advance(20_000);
    expect(body(await alipay.reverse({ orderNo: o }))).toMatchObject({ result: 'SUCCESS', recall: false });
    expect(backend.sim.order(o)?.net).toBe(0);
  });

  it('closes an unpaid trade on its own after about 3 minutes', async () => {
    const o = orderNo();
    await pay(backend.sim.issueCode('alipay', { kind: 'walkaway' }), o);
    clock.advance(60_000);
    expect(body(await alipay.query({ orderNo: o }))).toMatchObject({ trade: { state: 'USERPAYING' } });
    clock.advance(120_000);
    expect(body(await alipay.query({ orderNo: o }))).toMatchObject({ result: 'SUCCESS', trade: { state: 'CLOSED' } });
  });

  it('cancels only on the trade’s Beijing day; after midnight Beijing it is REVERSE_EXPIRED and a refund undoes it', async () => {
    const o = orderNo();
    await pay(backend.sim.issueCode('alipay', { kind: 'instant' }), o);
    clock.advance(14 * 3_600_000); // 10:00 → 00:00 the next day in Beijing
    expect(body(await alipay.reverse({ orderNo: o }))).toMatchObject({ result: 'FAIL', reasonCode: 'REVERSE_EXPIRED' });
    expect(body(await alipay.refund({ orderNo: o, refundNo: `${o}-R`.slice(-32), amount: 1234 }))).toMatchObject({ result: 'SUCCESS', refundedAmount: 1234 });
    expect(backend.sim.order(o)?.net).toBe(0);
  });

  it('refunds in part, idempotently by refund number, and refuses more than was paid', async () => {
    const o = orderNo();
    await pay(backend.sim.issueCode('alipay', { kind: 'instant' }), o);
    const refund = (refundNo: string, amount: number) => alipay.refund({ orderNo: o, refundNo, amount });
    expect(body(await refund('RF000001', 234))).toMatchObject({ result: 'SUCCESS', refundedAmount: 234 });
    expect(body(await refund('RF000001', 234))).toMatchObject({ result: 'SUCCESS' });
    expect(body(await refund('RF000002', 1001))).toMatchObject({ result: 'FAIL', reasonCode: 'REFUND_EXCEEDS' });
    expect(body(await alipay.refund({ orderNo: orderNo(), refundNo: 'RF000003', amount: 1 }))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(backend.sim.order(o)).toMatchObject({ refunded: 234, net: 1000 });
  });

  it('treats unsigned, forged, garbled, cut and 5xx answers as unknown, and a system error as UNKNOWN', async () => {
    const cases = [
      ['unsigned', 'BACKEND_SIGNATURE_INVALID'],
      ['bad-signature', 'BACKEND_SIGNATURE_INVALID'],
      ['malformed', 'BACKEND_SIGNATURE_INVALID'],
      ['lost-response', 'BACKEND_UNKNOWN'],
      ['reset', 'BACKEND_UNKNOWN'],
      ['http5xx', 'BACKEND_HTTP_STATUS'],
    ] as const;
    for (const [kind, code] of cases) {
      backend.sim.addFault({ op: 'pay', kind, count: 1 });
      const o = orderNo();
      const r = await pay(backend.sim.issueCode('alipay', { kind: 'instant' }), o);
      expect(r.kind, kind).toBe('unknown');
      if (r.kind === 'unknown') expect(r.error.code, kind).toBe(code);
      // Processed or not, the query tells the truth afterwards.
      const q = body(await alipay.query({ orderNo: o }));
      expect(q.trade?.state ?? q.reasonCode, kind).toBe(['reset', 'http5xx'].includes(kind) ? 'ORDER_NOT_FOUND' : 'SUCCESS');
    }
    backend.sim.addFault({ op: 'pay', kind: 'system-error', count: 1 });
    expect(body(await pay(backend.sim.issueCode('alipay', { kind: 'instant' })))).toMatchObject({ result: 'UNKNOWN' });
  });

  it('a request signed with another app key is refused by the gateway before any trade', async () => {
    const other = new AlipayAcquirer({ ...demoAlipayCredentials(), appPrivateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, gatewayUrl: `${backend.url}/gateway.do`, clock });
    const o = orderNo();
    const r = await other.pay({ orderNo: o, paymentCode: backend.sim.issueCode('alipay', { kind: 'instant' }), amount: 100, currency: 'CNY' });
    expect(body(r)).toMatchObject({ result: 'FAIL', reasonCode: 'isv.invalid-signature' });
    expect(backend.sim.order(o)).toBeUndefined();
  });
});
