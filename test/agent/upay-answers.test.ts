/**
 * Every Upay v2 answer of the reference (WoSai/shouqianba-doc en/api: the outer result_code
 * 200/400/500, biz_response.result_code, data.order_status, the error codes) mapped to what
 * the payment core must do with it. Where the doc's client logic is unsafe scanpay's rules
 * win (upay-answers.ts): not-found and every *_ERROR stay unknown, never a decline.
 */
import { describe, expect, it } from 'vitest';
import { cancelAnswer, envelope, payAnswer, queryAnswer, refundAnswer, UpayUnreadable, type Envelope } from '../../agent/backend/upay/upay-answers.ts';

const NO = 'T1UPAY0001';
const PAY = { orderNo: NO, amount: 1234 };
const REFUND = { orderNo: NO, refundNo: 'R1', amount: 500 };
const biz = (b: Record<string, unknown>): Envelope => ({ kind: 'biz', biz: b });
const paidData = (extra: Record<string, unknown> = {}) => ({ sn: '7894259244096169', client_sn: NO, order_status: 'PAID', total_amount: '1234', net_amount: '1234', payway: '3', channel_finish_time: '1764486000000', ...extra });
const unreadable = (f: () => unknown) => expect(f).toThrow(UpayUnreadable);

describe('the envelope: outer result_code', () => {
  it('200 carries a business answer; 400 is a refusal; 500 an error; anything else is no answer', () => {
    expect(envelope({ result_code: '200', biz_response: { result_code: 'PAY_SUCCESS' } })).toEqual({ kind: 'biz', biz: { result_code: 'PAY_SUCCESS' } });
    expect(envelope({ result_code: '400', error_code: 'INVALID_PARAMS', error_message: 'bad total_amount' })).toEqual({ kind: 'refused', code: 'INVALID_PARAMS', message: 'bad total_amount' });
    expect(envelope({ result_code: '400' })).toEqual({ kind: 'refused', code: '400', message: '' });
    expect(envelope({ result_code: '500', error_code: 'UNKNOWN_SYSTEM_ERROR', error_message: 'oops' })).toEqual({ kind: 'error', code: 'UNKNOWN_SYSTEM_ERROR', message: 'oops' });
    expect(envelope({ result_code: '500', error_code: 5, error_message: 6 })).toEqual({ kind: 'error', code: '500', message: '' });
    for (const bad of [null, 'text', [1], 42, { result_code: 200, biz_response: {} }, { result_code: '201' }, { result_code: '200' }, { result_code: '200', biz_response: null }, {}])
      expect(() => envelope(bad), JSON.stringify(bad)).toThrow(UpayUnreadable);
  });
});

describe('/upay/v2/pay answers', () => {
  it('PAY_SUCCESS with a PAID order for our amount is paid: cents, wallet by payway, Upay’s sn, the channel time', () => {
    expect(payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData() }), PAY)).toEqual({
      result: 'SUCCESS',
      orderNo: NO,
      trade: { orderNo: NO, state: 'SUCCESS', amount: 1234, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: '7894259244096169', paidAt: 1764486000000, refundedAmount: 0 },
    });
    for (const [payway, wallet] of [['1', 'alipay'], ['2', 'alipay'], ['3', 'wechat'], ['17', 'unionpay'], ['99', 'wechat'], ['constructor', 'wechat']])
      expect(payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ payway }) }), PAY).trade!.wallet, payway).toBe(wallet);
    const t = payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ payway: undefined, sn: undefined, channel_finish_time: undefined, finish_time: '1764486000001' }) }), PAY).trade!;
    expect(t).toMatchObject({ wallet: 'wechat', paidAt: 1764486000001 });
    expect(t).not.toHaveProperty('acquirerTradeNo');
    for (const when of ['176448600000', '17644860000000', 'x764486000000'])
      expect(payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ channel_finish_time: when }) }), PAY).trade, when).not.toHaveProperty('paidAt');
  });

  it('a success that is not PAID, for another amount or order, or without whole cents is no answer', () => {
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS' }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ order_status: 'CREATED' }) }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ total_amount: '1235', net_amount: '1235' }) }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ client_sn: 'OTHER0001' }) }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: 'paid' }), PAY));
    for (const total_amount of ['12.34', '01234', '-1234', '', '12345678901', 1234])
      unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ total_amount }) }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ net_amount: '1.00' }) }), PAY));
    expect(payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ total_amount: '0', net_amount: '0' }) }), { orderNo: NO, amount: 0 }).result).toBe('SUCCESS');
    expect(payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ total_amount: '1234567890', net_amount: undefined }) }), { orderNo: NO, amount: 1234567890 }).trade).toMatchObject({ refundedAmount: 0 });
  });

  it.each([
    ['INVALID_BARCODE', 'AUTH_CODE_INVALID', 'the payment code is not valid'],
    ['EXPIRED_BARCODE', 'AUTH_CODE_EXPIRED', 'the payment code has expired: ask the customer to refresh it'],
    ['INSUFFICIENT_FUND', 'NOT_ENOUGH', 'insufficient funds'],
    ['BUYER_OVER_DAILY_LIMIT', 'AMOUNT_LIMIT', 'the amount exceeds the customer’s limit'],
    ['BUYER_OVER_TRANSACTION_LIMIT', 'AMOUNT_LIMIT', 'the amount exceeds the customer’s limit'],
  ])('PAY_FAIL %s is a decline: %s', (code, reasonCode, text) => {
    expect(payAnswer(biz({ result_code: 'PAY_FAIL', error_code: code, error_message: 'm' }), PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode, reasonMessage: `${text} (${code})` });
    expect(payAnswer(biz({ result_code: 'FAIL', error_code: code }), PAY)).toMatchObject({ result: 'FAIL', reasonCode });
  });

  it.each(['SELLER_OVER_DAILY_LIMIT', 'UPAY_STORE_OVER_DAILY_LIMIT', 'UNEXPECTED_PROVIDER_ERROR', 'TRADE_FAILED', 'UPAY_TERMINAL_NOT_EXISTS', 'UPAY_TERMINAL_STATUS_ABNORMAL'])('PAY_FAIL %s is a decline under its own code', (code) => {
    expect(payAnswer(biz({ result_code: 'PAY_FAIL', error_code: code, error_message: `msg of ${code}` }), PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: code, reasonMessage: `msg of ${code}` });
  });

  it('CLIENT_SN_CONFLICT, unlisted codes, PAY_FAIL_ERROR and 500s are unknown; PAY_IN_PROGRESS is the customer paying', () => {
    expect(payAnswer(biz({ result_code: 'FAIL', error_code: 'CLIENT_SN_CONFLICT', error_message: 'client_sn exists' }), PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'CLIENT_SN_CONFLICT', reasonMessage: 'client_sn exists' });
    expect(payAnswer(biz({ result_code: 'PAY_FAIL' }), PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'PAY_FAIL', reasonMessage: 'PAY_FAIL' });
    for (const code of ['constructor', 'toString']) expect(payAnswer(biz({ result_code: 'PAY_FAIL', error_code: code }), PAY).result).toBe('UNKNOWN');
    expect(payAnswer(biz({ result_code: 'PAY_FAIL_ERROR', error_code: 'INVALID_BARCODE' }), PAY)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'INVALID_BARCODE' });
    expect(payAnswer(biz({}), PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'FAIL', reasonMessage: 'FAIL' });
    expect(payAnswer(biz({ result_code: 'PAY_IN_PROGRESS', data: { client_sn: NO, order_status: 'CREATED' } }), PAY)).toEqual({ result: 'USER_PAYING', orderNo: NO });
    expect(payAnswer({ kind: 'error', code: 'UNKNOWN_SYSTEM_ERROR'.repeat(4), message: 'x' }, PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'UNKNOWN_SYSTEM_ERROR'.repeat(4).slice(0, 64) });
    const long = payAnswer(biz({ result_code: 'PAY_FAIL_ERROR', error_code: 'E'.repeat(100), error_message: 'm'.repeat(300) }), PAY);
    expect([long.reasonCode!.length, long.reasonMessage!.length]).toEqual([64, 256]);
    unreadable(() => payAnswer(biz({ result_code: 'PAY_FAIL', error_code: 7 }), PAY));
    unreadable(() => payAnswer(biz({ result_code: 200 }), PAY));
  });

  it('a 400 refusal ends the request: no order was made', () => {
    expect(payAnswer({ kind: 'refused', code: 'ILLEGAL_SIGN', message: 'signature mismatch' }, PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'ILLEGAL_SIGN', reasonMessage: 'signature mismatch' });
    expect(payAnswer({ kind: 'refused', code: 'ILLEGAL_SIGN', message: '' }, PAY)).toMatchObject({ reasonMessage: 'ILLEGAL_SIGN' });
    const long = payAnswer({ kind: 'refused', code: 'C'.repeat(100), message: 'm'.repeat(300) }, PAY);
    expect([long.reasonCode!.length, long.reasonMessage!.length]).toEqual([64, 256]);
  });
});

describe('/upay/v2/query answers', () => {
  const q = (order_status: string, extra: Record<string, unknown> = {}) => queryAnswer(biz({ result_code: 'SUCCESS', data: paidData({ order_status, ...extra }) }), NO);

  it.each([
    ['CREATED', 'USERPAYING'],
    ['PAID', 'SUCCESS'],
    ['PAY_CANCELED', 'CLOSED'],
    ['REFUNDED', 'REFUND'],
    ['PARTIAL_REFUNDED', 'REFUND'],
    ['REFUND_ERROR', 'SUCCESS'],
    ['CANCELED', 'REVOKED'],
  ])('order_status %s → %s', (status, state) => {
    expect(q(status)).toMatchObject({ result: 'SUCCESS', orderNo: NO, trade: { state, amount: 1234 } });
  });

  it('refunds are total minus net; a payment time only on a paid trade', () => {
    expect(q('PARTIAL_REFUNDED', { net_amount: '1000' }).trade).toMatchObject({ refundedAmount: 234 });
    expect(q('PARTIAL_REFUNDED', { net_amount: '1000' }).trade).not.toHaveProperty('paidAt');
    expect(q('PAID', { net_amount: '2000' }).trade).toMatchObject({ refundedAmount: 0, paidAt: 1764486000000 });
  });

  it('PAY_ERROR and CANCEL_ERROR are unknown to Upay itself; an unlisted status is no answer', () => {
    expect(q('PAY_ERROR')).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'PAY_ERROR' });
    expect(q('CANCEL_ERROR')).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'CANCEL_ERROR' });
    for (const s of ['PAID_LATER', 'constructor', '']) unreadable(() => q(s));
    unreadable(() => queryAnswer(biz({ result_code: 'SUCCESS', data: { client_sn: NO } }), NO));
    unreadable(() => q('PAID', { client_sn: 'OTHER0001' }));
  });

  it('UPAY_ORDER_NOT_EXISTS is not found (still unknown for the core); other failures and envelopes are unknown', () => {
    for (const code of ['UPAY_ORDER_NOT_EXISTS', 'UPAY_ORDER_NOT_EXIST'])
      expect(queryAnswer(biz({ result_code: 'FAIL', error_code: code }), NO)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: `no such order (${code})` });
    expect(queryAnswer(biz({ result_code: 'SUCCESS', error_code: 'UPAY_ORDER_NOT_EXISTS' }), NO).result).toBe('UNKNOWN');
    expect(queryAnswer(biz({ result_code: 'FAIL', error_code: 'UNKNOWN_SYSTEM_ERROR', error_message: 'busy' }), NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'UNKNOWN_SYSTEM_ERROR', reasonMessage: 'busy' });
    expect(queryAnswer(biz({ result_code: 'FAIL' }), NO)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'FAIL' });
    expect(queryAnswer(biz({ result_code: 'SUCCESS' }), NO)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'SUCCESS' });
    expect(queryAnswer({ kind: 'refused', code: 'ILLEGAL_SIGN', message: 'm' }, NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'ILLEGAL_SIGN' });
    expect(queryAnswer({ kind: 'error', code: 'E'.repeat(100), message: '' }, NO).reasonCode).toHaveLength(64);
  });
});

describe('/upay/v2/cancel answers', () => {
  it('CANCEL_SUCCESS and CANCEL_ABORT_SUCCESS are done; UPAY_CANCEL_ORDER_NOOP is already done', () => {
    for (const r of ['CANCEL_SUCCESS', 'CANCEL_ABORT_SUCCESS']) expect(cancelAnswer(biz({ result_code: r }), NO)).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
    expect(cancelAnswer(biz({ result_code: 'FAIL', error_code: 'UPAY_CANCEL_ORDER_NOOP' }), NO)).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false, reasonMessage: 'already cancelled' });
  });

  it('not found, past the day and not refundable are final; CANCEL_ERROR and anything unlisted cancel again', () => {
    for (const code of ['UPAY_ORDER_NOT_EXISTS', 'UPAY_ORDER_NOT_EXIST'])
      expect(cancelAnswer(biz({ result_code: 'FAIL', error_code: code }), NO)).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: `no such order (${code})` });
    expect(cancelAnswer(biz({ result_code: 'FAIL', error_code: 'UPAY_CANCEL_INVALID_ORDER_STATE' }), NO)).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'REVERSE_EXPIRED', reasonMessage: 'the order is too old to reverse: refund it instead (UPAY_CANCEL_INVALID_ORDER_STATE)' });
    expect(cancelAnswer(biz({ result_code: 'FAIL', error_code: 'UPAY_TCP_ORDER_NOT_REFUNDABLE', error_message: 'no' }), NO)).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'UPAY_TCP_ORDER_NOT_REFUNDABLE', reasonMessage: 'no' });
    expect(cancelAnswer(biz({ result_code: 'FAIL', error_code: 'UNKNOWN_SYSTEM_ERROR' }), NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, recall: true, reasonCode: 'UNKNOWN_SYSTEM_ERROR', reasonMessage: 'UNKNOWN_SYSTEM_ERROR' });
    expect(cancelAnswer(biz({ result_code: 'FAIL' }), NO)).toMatchObject({ result: 'UNKNOWN', recall: true, reasonCode: 'FAIL' });
    for (const r of ['CANCEL_ERROR', 'CANCEL_ABORT_ERROR'])
      expect(cancelAnswer(biz({ result_code: r, error_code: 'UPAY_ORDER_NOT_EXISTS' }), NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, recall: true, reasonCode: 'UPAY_ORDER_NOT_EXISTS', reasonMessage: 'UPAY_ORDER_NOT_EXISTS' });
    expect(cancelAnswer({ kind: 'refused', code: 'R'.repeat(100), message: 'm' }, NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, recall: true, reasonCode: 'R'.repeat(64) });
    expect(cancelAnswer({ kind: 'error', code: 'UNKNOWN_SYSTEM_ERROR', message: 'm' }, NO)).toMatchObject({ result: 'UNKNOWN', recall: true });
  });
});

describe('/upay/v2/refund answers', () => {
  it('REFUND_SUCCESS, or a repeat of a refund already made, is refunded', () => {
    expect(refundAnswer(biz({ result_code: 'REFUND_SUCCESS' }), REFUND)).toEqual({ result: 'SUCCESS', orderNo: NO, refundNo: 'R1', refundedAmount: 500 });
    expect(refundAnswer(biz({ result_code: 'FAIL', error_code: 'UPAY_REFUND_ORDER_NOOP' }), REFUND)).toMatchObject({ result: 'SUCCESS', refundedAmount: 500 });
    expect(refundAnswer(biz({ result_code: 'REFUND_ERROR', error_code: 'UPAY_REFUND_ORDER_NOOP' }), REFUND).result).toBe('UNKNOWN');
  });

  it.each([
    ['UPAY_ORDER_NOT_EXISTS', 'ORDER_NOT_FOUND', 'no such order'],
    ['UPAY_ORDER_NOT_EXIST', 'ORDER_NOT_FOUND', 'no such order'],
    ['REFUNDABLE_AMOUNT_NOT_ENOUGH', 'REFUND_EXCEEDS', 'the refund exceeds what was paid'],
    ['REFUND_AMT_NOT_EQUAL_TOTAL', 'REFUND_EXCEEDS', 'the refund exceeds what was paid'],
  ])('FAIL %s ends the refund: %s', (code, reasonCode, text) => {
    expect(refundAnswer(biz({ result_code: 'FAIL', error_code: code }), REFUND)).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode, reasonMessage: `${text} (${code})` });
  });

  it.each(['UPAY_REFUND_INVALID_ORDER_STATE', 'ACCOUNT_BALANCE_NOT_ENOUGH', 'UPAY_TCP_ORDER_NOT_REFUNDABLE'])('FAIL %s ends the refund under its own code', (code) => {
    expect(refundAnswer(biz({ result_code: 'FAIL', error_code: code, error_message: 'm' }), REFUND)).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode: code, reasonMessage: 'm' });
  });

  it('REFUND_ERROR, unlisted codes and 500s stay open; a 400 refusal ends it', () => {
    expect(refundAnswer(biz({ result_code: 'REFUND_ERROR', error_code: 'REFUNDABLE_AMOUNT_NOT_ENOUGH' }), REFUND)).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'REFUNDABLE_AMOUNT_NOT_ENOUGH', reasonMessage: 'REFUNDABLE_AMOUNT_NOT_ENOUGH' });
    expect(refundAnswer(biz({ result_code: 'FAIL', error_code: 'constructor' }), REFUND).result).toBe('UNKNOWN');
    expect(refundAnswer(biz({ result_code: 'FAIL' }), REFUND)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'FAIL' });
    expect(refundAnswer({ kind: 'error', code: 'E'.repeat(100), message: 'x' }, REFUND)).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'E'.repeat(64) });
    expect(refundAnswer({ kind: 'refused', code: 'ILLEGAL_SIGN', message: '' }, REFUND)).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode: 'ILLEGAL_SIGN', reasonMessage: 'ILLEGAL_SIGN' });
    const long = refundAnswer({ kind: 'refused', code: 'C'.repeat(100), message: 'm'.repeat(300) }, REFUND);
    expect([long.reasonCode!.length, long.reasonMessage!.length]).toEqual([64, 256]);
  });
});

describe('the data block, read strictly', () => {
  it('a null field is an absent one; data without client_sn is ours; a null data is no data', () => {
    const t = payAnswer(biz({ result_code: 'PAY_SUCCESS', data: paidData({ sn: null, client_sn: undefined }) }), PAY);
    expect(t.result).toBe('SUCCESS');
    expect(t.trade).not.toHaveProperty('acquirerTradeNo');
    expect(payAnswer(biz({ result_code: 'PAY_IN_PROGRESS', data: null }), PAY)).toEqual({ result: 'USER_PAYING', orderNo: NO });
    expect(queryAnswer(biz({ result_code: 'SUCCESS', data: null }), NO)).toMatchObject({ result: 'UNKNOWN' });
  });

  it('a garbled data block makes even a decline no answer', () => {
    unreadable(() => payAnswer(biz({ result_code: 'PAY_FAIL', error_code: 'INVALID_BARCODE', data: 'garbled' }), PAY));
    unreadable(() => queryAnswer(biz({ result_code: 'SUCCESS', data: 7 }), NO));
  });

  it('a query amount that is not whole cents is no answer; a FAIL carrying a paid order is still unknown', () => {
    for (const total_amount of ['12.34', '', '01']) unreadable(() => queryAnswer(biz({ result_code: 'SUCCESS', data: paidData({ total_amount }) }), NO));
    expect(queryAnswer(biz({ result_code: 'FAIL', error_code: 'UNKNOWN_SYSTEM_ERROR', data: paidData() }), NO)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'UNKNOWN_SYSTEM_ERROR' });
  });
});
