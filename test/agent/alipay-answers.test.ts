/**
 * Every Alipay answer code of the reference (../shared/reference/acquirer-apis.md, the
 * face-to-face demo's codes 10000/10003/20000/40004 and the ACQ.* sub_codes) mapped to what
 * the payment core must do with it. An answer that cannot be read exactly throws
 * AnswerUnreadable (the adapter's "no answer", unknown); nothing unknown becomes a decline.
 */
import { describe, expect, it } from 'vitest';
import { AnswerUnreadable, cancelAnswer, payAnswer, queryAnswer, refundAnswer, responseKeyOf } from '../../agent/backend/alipay/alipay-answers.ts';

const NO = 'T1ALI0001';
const PAY = { orderNo: NO, amount: 1234 };
const REFUND = { orderNo: NO, refundNo: 'R1', amount: 500 };
const unreadable = (f: () => unknown) => expect(f).toThrow(AnswerUnreadable);
// The demo's shape of a business failure.
const f40004 = (sub_code: string, extra: Record<string, unknown> = {}) => ({ code: '40004', msg: 'Business Failed', sub_code, sub_msg: `msg of ${sub_code}`, ...extra });

describe('alipay.trade.pay answers', () => {
  it('10000 for our amount is paid, with Alipay’s trade number and the Beijing payment time', () => {
    expect(payAnswer({ code: '10000', msg: 'Success', out_trade_no: NO, trade_no: '2026113022001', total_amount: '12.34', gmt_payment: '2026-11-30 15:00:00' }, PAY)).toEqual({
      result: 'SUCCESS',
      orderNo: NO,
      trade: { orderNo: NO, state: 'SUCCESS', amount: 1234, currency: 'CNY', wallet: 'alipay', acquirerTradeNo: '2026113022001', paidAt: Date.UTC(2026, 10, 30, 7, 0, 0), refundedAmount: 0 },
    });
    expect(payAnswer({ code: '10000', total_amount: '12.34', send_pay_date: '2026-11-30 15:00:01' }, PAY)).toMatchObject({ trade: { paidAt: Date.UTC(2026, 10, 30, 7, 0, 1) } });
    const noTime = payAnswer({ code: '10000', total_amount: '12.34', gmt_payment: '30/11/2026' }, PAY);
    expect(noTime.trade).not.toHaveProperty('paidAt');
    expect(noTime.trade).not.toHaveProperty('acquirerTradeNo');
  });

  it('a success for another amount, another order, or without an exact amount is no answer', () => {
    unreadable(() => payAnswer({ code: '10000', total_amount: '12.35' }, PAY));
    unreadable(() => payAnswer({ code: '10000', total_amount: '12.345' }, PAY));
    unreadable(() => payAnswer({ code: '10000', total_amount: '' }, PAY));
    unreadable(() => payAnswer({ code: '10000' }, PAY));
    unreadable(() => payAnswer({ code: '10000', total_amount: 12.34 }, PAY));
    unreadable(() => payAnswer({ code: '10000', total_amount: '12.34', out_trade_no: 'OTHER0001' }, PAY));
    unreadable(() => payAnswer({ code: '' }, PAY));
    unreadable(() => payAnswer({}, PAY));
    unreadable(() => payAnswer({ code: 10000 }, PAY));
    expect(payAnswer({ code: '10000', total_amount: '12.34', out_trade_no: NO, trade_no: null }, PAY).result).toBe('SUCCESS');
  });

  it('10003 waits for the buyer; 20000, an unlisted 40004 and any other code are unknown', () => {
    expect(payAnswer({ code: '10003', msg: 'order success pay inprocess' }, PAY)).toEqual({ result: 'USER_PAYING', orderNo: NO });
    expect(payAnswer({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: '系统错误' }, PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'ACQ.SYSTEM_ERROR', reasonMessage: '系统错误' });
    expect(payAnswer(f40004('ACQ.SYSTEM_ERROR'), PAY)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'ACQ.SYSTEM_ERROR' });
    expect(payAnswer({ code: '40004', msg: 'Business Failed' }, PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: '40004', reasonMessage: 'Business Failed' });
    expect(payAnswer({ code: '40003' }, PAY)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: '40003', reasonMessage: '40003' });
    for (const sub of ['constructor', 'toString', '__proto__']) expect(payAnswer(f40004(sub), PAY)).toMatchObject({ result: 'UNKNOWN', reasonCode: sub });
    // A definite sub_code under another code is not a decline.
    expect(payAnswer({ code: '20000', sub_code: 'ACQ.TRADE_HAS_SUCCESS' }, PAY).result).toBe('UNKNOWN');
  });

  it.each([
    ['ACQ.PAYMENT_AUTH_CODE_INVALID', 'AUTH_CODE_INVALID', 'the payment code is not valid'],
    ['ACQ.BUYER_BALANCE_NOT_ENOUGH', 'NOT_ENOUGH', 'insufficient funds'],
    ['ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH', 'NOT_ENOUGH', 'insufficient funds'],
    ['ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR', 'AMOUNT_LIMIT', 'the amount exceeds the customer’s limit'],
    ['ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR', 'AMOUNT_LIMIT', 'the amount exceeds the customer’s limit'],
    ['ACQ.TOTAL_FEE_EXCEED', 'AMOUNT_LIMIT', 'the amount exceeds the customer’s limit'],
    ['ACQ.TRADE_HAS_SUCCESS', 'ORDER_PAID', 'the order is already paid'],
    ['ACQ.TRADE_HAS_CLOSE', 'ORDER_CLOSED', 'the order is closed'],
    ['ACQ.CONTEXT_INCONSISTENT', 'ORDER_NO_USED', 'the order number was used with other details'],
    ['ACQ.TRADE_BUYER_NOT_MATCH', 'ORDER_NO_USED', 'the order number was used with other details'],
  ])('40004 %s is a decline: %s', (sub, reasonCode, text) => {
    expect(payAnswer(f40004(sub), PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode, reasonMessage: `${text} (${sub})` });
  });

  it.each([
    'ACQ.BUYER_ENABLE_STATUS_FORBID',
    'ACQ.BUYER_SELLER_EQUAL',
    'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT',
    'ACQ.PAYMENT_REQUEST_HAS_RISK',
    'ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE',
    'ACQ.BEYOND_PAY_RESTRICTION',
    'ACQ.SELLER_BEEN_BLOCKED',
    'ACQ.ACCESS_FORBIDDEN',
    'ACQ.INVALID_PARAMETER',
  ])('40004 %s is a decline under its own sub_code', (sub) => {
    expect(payAnswer(f40004(sub), PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: sub, reasonMessage: `msg of ${sub}` });
  });

  it('the gateway’s own refusals (40001, 40002, 40006) end the request: no trade was made', () => {
    for (const code of ['40001', '40002', '40006'])
      expect(payAnswer({ code, msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' }, PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'isv.invalid-signature', reasonMessage: '验签出错' });
    expect(payAnswer({ code: '40002', msg: 'Invalid Arguments' }, PAY)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: '40002', reasonMessage: 'Invalid Arguments' });
  });

  it('reason codes and messages are cut to what the protocol carries', () => {
    const long = payAnswer({ code: '20000', sub_code: 'S'.repeat(100), sub_msg: 'm'.repeat(300) }, PAY);
    expect(long.reasonCode).toHaveLength(64);
    expect(long.reasonMessage).toHaveLength(256);
    unreadable(() => payAnswer({ code: '20000', sub_code: 7 }, PAY));
  });
});

describe('alipay.trade.query answers', () => {
  const q = (trade_status: string, extra: Record<string, unknown> = {}) => queryAnswer({ code: '10000', msg: 'Success', out_trade_no: NO, trade_no: '2026A', trade_status, total_amount: '88.00', send_pay_date: '2026-11-30 15:00:00', ...extra }, NO);

  it.each([
    ['TRADE_SUCCESS', 'SUCCESS'],
    ['TRADE_FINISHED', 'SUCCESS'],
    ['WAIT_BUYER_PAY', 'USERPAYING'],
    ['TRADE_CLOSED', 'CLOSED'],
  ])('trade_status %s → %s, only paid states with a payment time', (status, state) => {
    const r = q(status);
    expect(r).toMatchObject({ result: 'SUCCESS', orderNo: NO, trade: { orderNo: NO, state, amount: 8800, wallet: 'alipay', acquirerTradeNo: '2026A' } });
    if (state === 'SUCCESS') expect(r.trade!.paidAt).toBe(Date.UTC(2026, 10, 30, 7, 0, 0));
    else expect(r.trade).not.toHaveProperty('paidAt');
  });

  it('an unknown or missing trade_status, or a missing amount, is no answer', () => {
    for (const s of ['TRADE_PENDING', 'constructor', '']) unreadable(() => q(s));
    unreadable(() => queryAnswer({ code: '10000', total_amount: '1.00' }, NO));
    unreadable(() => q('TRADE_SUCCESS', { total_amount: undefined }));
    unreadable(() => q('TRADE_SUCCESS', { out_trade_no: 'OTHER0001' }));
    unreadable(() => queryAnswer({ code: null }, NO));
  });

  it('ACQ.TRADE_NOT_EXIST is not found; every other failure is unknown', () => {
    expect(queryAnswer(f40004('ACQ.TRADE_NOT_EXIST'), NO)).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'no such order (ACQ.TRADE_NOT_EXIST)' });
    expect(queryAnswer({ code: '20000', sub_code: 'ACQ.TRADE_NOT_EXIST' }, NO).result).toBe('UNKNOWN');
    expect(queryAnswer(f40004('ACQ.SYSTEM_ERROR'), NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'ACQ.SYSTEM_ERROR', reasonMessage: 'msg of ACQ.SYSTEM_ERROR' });
    expect(queryAnswer({ code: '40004', msg: 'Business Failed' }, NO)).toMatchObject({ result: 'UNKNOWN', reasonCode: '40004' });
  });
});

describe('alipay.trade.cancel answers', () => {
  it('10000 is cancelled (close or refund); retry_flag=Y is call again whatever the code', () => {
    expect(cancelAnswer({ code: '10000', out_trade_no: NO, retry_flag: 'N', action: 'close' }, NO)).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false, reasonMessage: 'cancelled (close)' });
    expect(cancelAnswer({ code: '10000', retry_flag: 'N' }, NO)).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
    expect(cancelAnswer({ code: '10000', retry_flag: 'Y', action: 'close' }, NO)).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: '10000', reasonMessage: '10000' });
    expect(cancelAnswer(f40004('ACQ.SYSTEM_ERROR', { retry_flag: 'Y' }), NO)).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'ACQ.SYSTEM_ERROR', reasonMessage: 'msg of ACQ.SYSTEM_ERROR' });
    expect(cancelAnswer(f40004('ACQ.TRADE_NOT_EXIST', { retry_flag: 'Y' }), NO).result).toBe('RETRY');
  });

  it('not found and too late are final; anything else is unknown and cancelled again', () => {
    expect(cancelAnswer(f40004('ACQ.TRADE_NOT_EXIST', { retry_flag: 'N' }), NO)).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'no such order (ACQ.TRADE_NOT_EXIST)' });
    expect(cancelAnswer(f40004('ACQ.TRADE_CANCEL_TIME_OUT'), NO)).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'REVERSE_EXPIRED', reasonMessage: 'the order is too old to reverse: refund it instead (ACQ.TRADE_CANCEL_TIME_OUT)' });
    expect(cancelAnswer({ code: '20000', sub_code: 'ACQ.TRADE_NOT_EXIST' }, NO).result).toBe('UNKNOWN');
    expect(cancelAnswer({ code: '20000', sub_code: 'ACQ.TRADE_CANCEL_TIME_OUT' }, NO).result).toBe('UNKNOWN');
    expect(cancelAnswer(f40004('ACQ.SELLER_BALANCE_NOT_ENOUGH', { retry_flag: 'N' }), NO)).toEqual({ result: 'UNKNOWN', orderNo: NO, recall: true, reasonCode: 'ACQ.SELLER_BALANCE_NOT_ENOUGH', reasonMessage: 'msg of ACQ.SELLER_BALANCE_NOT_ENOUGH' });
  });

  it('a retry_flag other than Y or N, another order or no code is no answer', () => {
    unreadable(() => cancelAnswer({ code: '10000', retry_flag: 'y' }, NO));
    unreadable(() => cancelAnswer({ code: '10000', retry_flag: '' }, NO));
    unreadable(() => cancelAnswer({ code: '10000', out_trade_no: 'OTHER0001' }, NO));
    unreadable(() => cancelAnswer({ retry_flag: 'Y' }, NO));
  });
});

describe('alipay.trade.refund answers', () => {
  it('10000 whose refund_fee (the trade’s refunded total) covers this refund is refunded', () => {
    expect(refundAnswer({ code: '10000', out_trade_no: NO, refund_fee: '5.00' }, REFUND)).toEqual({ result: 'SUCCESS', orderNo: NO, refundNo: 'R1', refundedAmount: 500 });
    expect(refundAnswer({ code: '10000', refund_fee: '12.00' }, REFUND)).toMatchObject({ result: 'SUCCESS', refundedAmount: 500 });
    unreadable(() => refundAnswer({ code: '10000', refund_fee: '4.99' }, REFUND));
    unreadable(() => refundAnswer({ code: '10000' }, REFUND));
    unreadable(() => refundAnswer({ code: '10000', refund_fee: '5.00', out_trade_no: 'OTHER0001' }, REFUND));
  });

  it.each([
    ['ACQ.TRADE_NOT_EXIST', 'ORDER_NOT_FOUND', 'no such order'],
    ['ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', 'REFUND_EXCEEDS', 'the refund exceeds what was paid'],
    ['ACQ.REFUND_FEE_ERROR', 'REFUND_EXCEEDS', 'the refund exceeds what was paid'],
    ['ACQ.TRADE_STATUS_ERROR', 'REFUND_NOT_PAID', 'the order was not paid, nothing to refund'],
  ])('40004 %s ends the refund: %s', (sub, reasonCode, text) => {
    expect(refundAnswer(f40004(sub), REFUND)).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode, reasonMessage: `${text} (${sub})` });
  });

  it.each(['ACQ.TRADE_NOT_ALLOWED_REFUND', 'ACQ.TRADE_HAS_FINISHED', 'ACQ.SELLER_BALANCE_NOT_ENOUGH', 'ACQ.INVALID_PARAMETER'])('40004 %s ends the refund under its own sub_code', (sub) => {
    expect(refundAnswer(f40004(sub), REFUND)).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode: sub, reasonMessage: `msg of ${sub}` });
  });

  it('a system error, an unlisted sub_code or a listed one under another code stays open', () => {
    expect(refundAnswer({ code: '20000', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: 'busy' }, REFUND)).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'ACQ.SYSTEM_ERROR', reasonMessage: 'busy' });
    expect(refundAnswer({ code: '20000', sub_code: 'ACQ.TRADE_NOT_EXIST' }, REFUND).result).toBe('UNKNOWN');
    expect(refundAnswer({ code: '40004' }, REFUND).result).toBe('UNKNOWN');
    expect(refundAnswer(f40004('constructor'), REFUND).result).toBe('UNKNOWN');
  });
});

it('the answer member is named after the method', () => {
  expect(responseKeyOf('alipay.trade.pay')).toBe('alipay_trade_pay_response');
  expect(responseKeyOf('alipay.trade.cancel')).toBe('alipay_trade_cancel_response');
});

it('a query whose total_amount is not exact yuan is no answer (never a trade of no amount)', () => {
  for (const total_amount of ['88.001', '8e1', '-1.00'])
    expect(() => queryAnswer({ code: '10000', out_trade_no: NO, trade_status: 'TRADE_SUCCESS', total_amount }, NO), total_amount).toThrow(AnswerUnreadable);
});
