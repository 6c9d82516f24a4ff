/**
 * What the protocol v1 schemas refuse on the wire (docs/protocol.md): a body that fails its
 * schema is no answer for the agent and a refused request for the gateway. One valid
 * message per schema, then the field values each must refuse.
 */
import { describe, expect, it } from 'vitest';
import * as M from '../../agent/protocol/messages.ts';
import * as D from '../../agent/protocol/device-messages.ts';

const ok = (schema: { safeParse: (v: unknown) => { success: boolean } }, v: unknown) => schema.safeParse(v).success;
const trade = { orderNo: 'ORDER0001', state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat' };

describe('payment messages (messages.ts)', () => {
  it('names the four operations\' paths as documented', () => {
    expect(M.PATHS).toEqual({ pay: '/v1/pay', query: '/v1/query', reverse: '/v1/reverse', refund: '/v1/refund' });
    expect(M.REQUEST_SCHEMAS.pay).toBe(M.payRequest);
    expect(M.RESPONSE_SCHEMAS).toEqual({ pay: M.payResponse, query: M.queryResponse, reverse: M.reverseResponse, refund: M.refundResponse });
  });

  it('takes order numbers of 6–32 letters, digits, _ and - only', () => {
    const pay = (orderNo: string) => ok(M.payResponse, { result: 'SUCCESS', orderNo });
    expect(pay('A_b-09')).toBe(true);
    expect(pay('Z'.repeat(32))).toBe(true);
    for (const bad of ['A_b-0', 'Z'.repeat(33), 'ORDER.0001', 'ORDER 0001', 'x\nORDER0001', 'ORDER0001\n']) expect(pay(bad), bad).toBe(false);
  });

  it('refuses amounts that are not positive integer minor units, and currencies that are not three capitals', () => {
    const t = (patch: object) => ok(M.trade, { ...trade, ...patch });
    expect(t({})).toBe(true);
    for (const amount of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, '100']) expect(t({ amount }), String(amount)).toBe(false);
    for (const currency of ['cny', 'CN', 'CNYY', ' CNY']) expect(t({ currency }), currency).toBe(false);
  });

  it('knows the documented trade states and wallets and nothing else', () => {
    for (const state of ['SUCCESS', 'NOTPAY', 'USERPAYING', 'CLOSED', 'REVOKED', 'REFUND', 'PAYERROR']) expect(ok(M.trade, { ...trade, state }), state).toBe(true);
    expect(M.TRADE_STATES).toHaveLength(7);
    expect(ok(M.trade, { ...trade, state: 'PAID' })).toBe(false);
    for (const wallet of ['wechat', 'alipay', 'unionpay', 'ecny']) expect(ok(M.trade, { ...trade, wallet }), wallet).toBe(true);
    expect(ok(M.trade, { ...trade, wallet: 'paypal' })).toBe(false);
    expect(M.trade.parse(trade).refundedAmount).toBe(0);
    expect(ok(M.trade, { ...trade, refundedAmount: -1 })).toBe(false);
  });

  it('takes each answer\'s documented results only', () => {
    const results = (schema: Parameters<typeof ok>[0], extra: object = {}) =>
      ['SUCCESS', 'USER_PAYING', 'FAIL', 'UNKNOWN', 'RETRY', 'PAID', ''].filter((result) => ok(schema, { result, orderNo: 'ORDER0001', ...extra }));
    expect(results(M.payResponse)).toEqual(['SUCCESS', 'USER_PAYING', 'FAIL', 'UNKNOWN']);
    expect(results(M.queryResponse)).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN']);
    expect(results(M.reverseResponse, { recall: false })).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN', 'RETRY']);
    expect(results(M.refundResponse, { refundNo: 'REFUND0001' })).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN']);
  });

  it('a reverse answer must say whether to call again; a refund answer must name a valid refund', () => {
    expect(ok(M.reverseResponse, { result: 'RETRY', orderNo: 'ORDER0001' })).toBe(false);
    expect(ok(M.reverseResponse, { result: 'RETRY', orderNo: 'ORDER0001', recall: 'yes' })).toBe(false);
    expect(ok(M.refundResponse, { result: 'SUCCESS', orderNo: 'ORDER0001', refundNo: 'R1' })).toBe(false);
    expect(ok(M.refundResponse, { result: 'SUCCESS', orderNo: 'ORDER0001', refundNo: 'REFUND0001', refundedAmount: -5 })).toBe(false);
  });

  it('bounds the reason an answer gives', () => {
    const r = (patch: object) => ok(M.payResponse, { result: 'FAIL', orderNo: 'ORDER0001', ...patch });
    expect(r({ reasonCode: 'X'.repeat(64), reasonMessage: 'm'.repeat(256) })).toBe(true);
    expect(r({ reasonCode: 'X'.repeat(65) })).toBe(false);
    expect(r({ reasonMessage: 'm'.repeat(257) })).toBe(false);
  });

  it('refuses requests outside the documented bounds', () => {
    const pay = { orderNo: 'ORDER0001', paymentCode: '134567890123456789', amount: 1, currency: 'CNY' };
    expect(M.payRequest.parse(pay).description).toBe('');
    for (const patch of [{ paymentCode: '' }, { paymentCode: '1'.repeat(65) }, { description: 'd'.repeat(129) }, { traceId: 't'.repeat(65) }, { amount: 0 }]) {
      expect(ok(M.payRequest, { ...pay, ...patch }), JSON.stringify(patch)).toBe(false);
    }
    expect(ok(M.queryRequest, { orderNo: 'ORDER0001', waitMs: M.MAX_QUERY_WAIT_MS })).toBe(true);
    expect(M.MAX_QUERY_WAIT_MS).toBe(25_000);
    for (const waitMs of [25_001, -1, 1.5]) expect(ok(M.queryRequest, { orderNo: 'ORDER0001', waitMs }), String(waitMs)).toBe(false);
    expect(ok(M.refundRequest, { orderNo: 'ORDER0001', refundNo: 'R-1', amount: 1 })).toBe(false);
    expect(ok(M.errorResponse, { error: { code: 'PROTO_X' } })).toBe(false);
  });
});

describe('device messages (device-messages.ts)', () => {
  const key = 'A'.repeat(43) + '=';

  it('names the device operations\' paths as documented', () => {
    expect(D.DEVICE_PATHS).toEqual({
      activateHello: '/v1/activate/hello',
      activate: '/v1/activate',
      params: '/v1/params',
      heartbeat: '/v1/heartbeat',
      rotateKey: '/v1/rotate-key',
      upload: '/v1/upload',
      settle: '/v1/settle',
      orders: '/v1/orders',
    });
    expect(Object.keys(D.DEVICE_REQUESTS)).toEqual(Object.keys(D.DEVICE_PATHS));
    expect(Object.keys(D.DEVICE_RESPONSES)).toEqual(Object.keys(D.DEVICE_PATHS));
  });

  it('takes activation codes of 3 to 6 groups of four capitals or digits', () => {
    expect(D.ACTIVATION_CODE.test('K7QP-3MZD-W2XH-R8TN')).toBe(true);
    expect(D.ACTIVATION_CODE.test('K7QP-3MZD-W2XH')).toBe(true);
    for (const bad of ['K7QP-3MZD', 'k7qp-3mzd-w2xh', 'K7QP-3MZD-W2XH-R8TN-AAAA-BBBB-CCCC', 'K7QP3MZDW2XH', 'xK7QP-3MZD-W2XH', 'K7QP-3MZD-W2XHx']) {
      expect(D.ACTIVATION_CODE.test(bad), bad).toBe(false);
    }
    expect(D.codeIdOf('K7QP-3MZD-W2XH')).toBe('K7QP');
  });

  it('refuses keys that are not 32 bytes of base64, and activation answers out of shape', () => {
    const hello = { codeId: 'K7QP', ephemeralKey: key, deviceKey: key };
    expect(ok(D.activateHelloRequest, hello)).toBe(true);
    for (const bad of ['A'.repeat(44), 'A'.repeat(42) + '==', `!${'A'.repeat(42)}=`, `${key}\n`]) expect(ok(D.activateHelloRequest, { ...hello, deviceKey: bad }), bad).toBe(false);
    expect(ok(D.activateHelloRequest, { ...hello, codeId: 'k7qp' })).toBe(false);
    const answer = { result: 'HELLO', activationId: `S-${'0'.repeat(32)}`, serverEphemeral: key, salt: 's', kdf: { N: 2 ** 15, r: 8, p: 1 } };
    expect(ok(D.activateHelloResponse, answer)).toBe(true);
    expect(ok(D.activateHelloResponse, { ...answer, result: 'OK' })).toBe(false);
    expect(ok(D.activateHelloResponse, { ...answer, activationId: `S-${'G'.repeat(32)}` })).toBe(false);
    // A gateway may not weaken the code's key derivation below the documented floor.
    expect(ok(D.activateHelloResponse, { ...answer, kdf: { N: 2 ** 13, r: 8, p: 1 } })).toBe(false);
    const activated = { result: 'ACTIVATED', terminalId: 'T-1_a', merchantId: 'M1', merchantName: 'Shop', wrappedKey: 'w', params: { version: 1 } };
    expect(ok(D.activateResponse, activated)).toBe(true);
    for (const terminalId of ['', 'T'.repeat(33), 'T 1', 'T/1']) expect(ok(D.activateResponse, { ...activated, terminalId }), terminalId).toBe(false);
    expect(ok(D.activateResponse, { ...activated, params: { version: 0 } })).toBe(false);
  });

  it('refuses upload records with an unknown wallet or outcome, or money not in integer minor units', () => {
    const rec = { orderNo: 'ORDER0001', wallet: 'alipay', amount: 100, currency: 'CNY', outcome: 'paid', refunded: 0, refunds: [], finalAt: 1 };
    expect(D.txRecord.parse(rec).carried).toBe(false);
    for (const outcome of ['paid', 'declined', 'reversed']) expect(ok(D.txRecord, { ...rec, outcome }), outcome).toBe(true);
    for (const patch of [{ outcome: 'refunded' }, { wallet: 'paypal' }, { amount: -1 }, { amount: 0.5 }, { currency: 'cny' }, { orderNo: 'A1' }]) {
      expect(ok(D.txRecord, { ...rec, ...patch }), JSON.stringify(patch)).toBe(false);
    }
    expect(ok(D.uploadRequest, { records: [] })).toBe(false);
  });

  it('refuses settlement messages out of shape', () => {
    expect(ok(D.settleRequest, { batchNo: 'B-1', closedAt: 1, totals: {} })).toBe(true);
    expect(ok(D.settleRequest, { batchNo: 'B 1', closedAt: 1, totals: {} })).toBe(false);
    expect(ok(D.settleRequest, { batchNo: 'B-1', closedAt: 1, totals: { paypal: {} } })).toBe(false);
    for (const kind of ['missing-at-backend', 'missing-at-terminal', 'outcome-differs', 'amount-differs', 'refund-differs']) {
      expect(ok(D.discrepancy, { orderNo: 'O', wallet: 'wechat', kind, terminal: null, backend: null }), kind).toBe(true);
    }
    expect(ok(D.discrepancy, { orderNo: 'O', wallet: 'wechat', kind: 'other', terminal: null, backend: null })).toBe(false);
    const results = ['MATCHED', 'DETAIL_REQUIRED', 'MISMATCH', 'OK'].filter((result) => ok(D.settleResponse, { result, batchNo: 'B', backendTotals: {}, discrepancies: [] }));
    expect(results).toEqual(['MATCHED', 'DETAIL_REQUIRED', 'MISMATCH']);
  });

  it('refuses a journal mark that is not hex, and answers with the wrong result', () => {
    const mark = { journalId: '0123abcd', lastOrderNo: null, lastAt: null };
    expect(ok(D.journalMark, mark)).toBe(true);
    for (const journalId of ['0123abc', '0123ABCD', 'g123abcd', 'a'.repeat(65)]) expect(ok(D.journalMark, { ...mark, journalId }), journalId).toBe(false);
    expect(ok(D.heartbeatResponse, { result: 'OK', serverTime: 1, paramsVersion: 1, rotateKey: false })).toBe(true);
    expect(ok(D.heartbeatResponse, { result: 'OK', serverTime: 1, paramsVersion: 1, rotateKey: false, journal: mark })).toBe(false);
    expect(ok(D.rotateKeyResponse, { result: 'ROTATED', ephemeralKey: key, keyVersion: 2 })).toBe(true);
    expect(ok(D.rotateKeyResponse, { result: 'OK', ephemeralKey: key, keyVersion: 2 })).toBe(false);
    expect(ok(D.uploadResponse, { result: 'OK', accepted: 1 })).toBe(true);
    expect(ok(D.ordersResponse, { result: 'DONE', orders: [], more: false })).toBe(false);
    expect(D.ordersRequest.parse({ since: 0 }).limit).toBe(100);
    expect(ok(D.ordersRequest, { since: 0, limit: 201 })).toBe(false);
    expect(ok(D.paramsResponse, { result: 'UNCHANGED', version: 1 })).toBe(true);
    expect(ok(D.paramsResponse, { result: 'NEW', params: { version: 2, anything: 1 } })).toBe(true);
    expect(ok(D.paramsResponse, { result: 'SAME', version: 1 })).toBe(false);
  });

  it('totals a batch per wallet: carried records count only their refunds', () => {
    const t = D.totalsOf([
      { wallet: 'wechat', amount: 100, outcome: 'paid', refunds: [{ refundNo: 'R', amount: 30 }], carried: false },
      { wallet: 'wechat', amount: 50, outcome: 'reversed', refunds: [], carried: false },
      { wallet: 'wechat', amount: 70, outcome: 'paid', refunds: [{ refundNo: 'R2', amount: 70 }], carried: true },
      { wallet: 'alipay', amount: 20, outcome: 'declined', refunds: [], carried: false },
    ]);
    expect(t).toEqual({
      wechat: { payments: { count: 1, amount: 100 }, reversals: { count: 1, amount: 50 }, refunds: { count: 2, amount: 100 } },
      alipay: { payments: { count: 0, amount: 0 }, reversals: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 } },
    });
    expect(D.sameTotals(t, { wechat: t.wechat! })).toBe(true);
    expect(D.sameTotals(t, { ...t, unionpay: { ...t.alipay!, refunds: { count: 1, amount: 1 } } })).toBe(false);
    expect(D.sameTotals({ wechat: t.wechat! }, { wechat: { ...t.wechat!, payments: { count: 1, amount: 101 } } })).toBe(false);
  });
});
