/**
 * Every WeChat answer code of the reference (../shared/reference/acquirer-apis.md and
 * payment-rules.md), v2 and v3, mapped to what the payment core must do with it.
 */
import { describe, expect, it } from 'vitest';
import { mapMicropay, mapOrderQuery, mapRefund, mapReverse, beijingTime } from '../../agent/backend/wechat/v2-answers.ts';
import { mapCodepay, mapQueryV3, mapRefundV3, mapReverseV3 } from '../../agent/backend/wechat/v3-answers.ts';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from '../../agent/backend/wechat/profile.ts';

const NO = 'ORDER000001';
const fail = (err_code: string, extra: Record<string, string> = {}) => ({ return_code: 'SUCCESS', result_code: 'FAIL', err_code, err_code_des: `des of ${err_code}`, ...extra });

function body<T>(m: { body: T } | { malformed: string }): T {
  if ('malformed' in m) throw new Error(`malformed: ${m.malformed}`);
  return m.body;
}

describe('v2 micropay', () => {
  it('SUCCESS is paid, with the trade in fen and the Beijing payment time', () => {
    const b = body(mapMicropay({ return_code: 'SUCCESS', result_code: 'SUCCESS', out_trade_no: NO, transaction_id: '4200000001', total_fee: '1234', fee_type: 'CNY', time_end: '20261130150000' }, NO));
    expect(b).toMatchObject({ result: 'SUCCESS', trade: { amount: 1234, currency: 'CNY', acquirerTradeNo: '4200000001', state: 'SUCCESS', paidAt: Date.UTC(2026, 10, 30, 7, 0, 0) } });
  });

  it.each([
    ['USERPAYING', 'USER_PAYING', undefined],
    ['SYSTEMERROR', 'UNKNOWN', 'SYSTEMERROR'],
    ['BANKERROR', 'UNKNOWN', 'BANKERROR'],
    ['AUTHCODEEXPIRE', 'FAIL', 'AUTH_CODE_EXPIRED'],
    ['AUTH_CODE_INVALID', 'FAIL', 'AUTH_CODE_INVALID'],
    ['NOTENOUGH', 'FAIL', 'NOT_ENOUGH'],
    ['ORDERPAID', 'FAIL', 'ORDER_PAID'],
    ['ORDERCLOSED', 'FAIL', 'ORDER_CLOSED'],
    ['ORDERREVERSED', 'FAIL', 'ORDER_REVERSED'],
    ['OUT_TRADE_NO_USED', 'FAIL', 'ORDER_NO_USED'],
    ['SIGNERROR', 'FAIL', 'WECHAT_SIGNERROR'],
    ['PARAM_ERROR', 'FAIL', 'WECHAT_PARAM_ERROR'],
    ['SOMETHING_NEW', 'UNKNOWN', 'WECHAT_SOMETHING_NEW'],
  ])('err_code %s → %s %s', (err, result, reasonCode) => {
    const b = body(mapMicropay(fail(err), NO));
    expect(b.result).toBe(result);
    if (reasonCode) expect(b.reasonCode).toBe(reasonCode);
  });

  it('an answer about another order, or without the paid amount, is no answer', () => {
    expect(mapMicropay({ result_code: 'SUCCESS', out_trade_no: 'OTHER00001', transaction_id: '1', total_fee: '1' }, NO)).toHaveProperty('malformed');
    expect(mapMicropay({ result_code: 'SUCCESS', out_trade_no: NO, transaction_id: '1' }, NO)).toHaveProperty('malformed');
    expect(mapMicropay({ result_code: 'MAYBE' }, NO)).toHaveProperty('malformed');
  });
});

describe('v2 orderquery', () => {
  it.each([
    ['SUCCESS', 'SUCCESS'],
    ['REFUND', 'REFUND'],
    ['NOTPAY', 'NOTPAY'],
    ['CLOSED', 'CLOSED'],
    ['REVOKED', 'REVOKED'],
    ['USERPAYING', 'USERPAYING'],
    ['PAYERROR', 'PAYERROR'],
    // Received, being charged: not final, the customer side is still moving.
    ['ACCEPT', 'USERPAYING'],
  ])('trade_state %s → %s', (wire, state) => {
    const b = body(mapOrderQuery({ result_code: 'SUCCESS', out_trade_no: NO, trade_state: wire, total_fee: '100', transaction_id: 'T1' }, NO));
    expect(b).toMatchObject({ result: 'SUCCESS', trade: { state, amount: 100 } });
  });

  it('ORDERNOTEXIST is FAIL + ORDER_NOT_FOUND (still unknown for the core); other failures are UNKNOWN', () => {
    expect(body(mapOrderQuery(fail('ORDERNOTEXIST'), NO))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(mapOrderQuery(fail('SYSTEMERROR'), NO))).toMatchObject({ result: 'UNKNOWN' });
  });

  it('an unknown trade_state or a missing total is no answer', () => {
    expect(mapOrderQuery({ result_code: 'SUCCESS', trade_state: 'WEIRD', total_fee: '1' }, NO)).toHaveProperty('malformed');
    expect(mapOrderQuery({ result_code: 'SUCCESS', trade_state: 'SUCCESS' }, NO)).toHaveProperty('malformed');
  });
});

describe('v2 reverse', () => {
  it('SUCCESS with recall=N is reversed; SUCCESS with recall=Y is not done yet', () => {
    expect(body(mapReverse({ result_code: 'SUCCESS', recall: 'N' }, NO))).toMatchObject({ result: 'SUCCESS', recall: false });
    expect(body(mapReverse({ result_code: 'SUCCESS', recall: 'Y' }, NO))).toMatchObject({ result: 'RETRY', recall: true });
  });

  it('recall=Y is RETRY whatever the code', () => {
    expect(body(mapReverse(fail('SYSTEMERROR', { recall: 'Y' }), NO))).toMatchObject({ result: 'RETRY', recall: true, reasonCode: 'SYSTEMERROR' });
  });

  it('refused while the customer pays is RETRY recall with USER_PAYING, even with recall=N', () => {
    expect(body(mapReverse(fail('USERPAYING', { recall: 'N' }), NO))).toMatchObject({ result: 'RETRY', recall: true, reasonCode: 'USER_PAYING' });
  });

  it('an order WeChat does not know is FAIL + ORDER_NOT_FOUND; older than 7 days is REVERSE_EXPIRED', () => {
    expect(body(mapReverse(fail('ORDERNOTEXIST', { recall: 'N' }), NO))).toMatchObject({ result: 'FAIL', recall: false, reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(mapReverse(fail('REVERSE_EXPIRE', { recall: 'N' }), NO))).toMatchObject({ result: 'FAIL', recall: false, reasonCode: 'REVERSE_EXPIRED' });
  });

  it('"not SUCCESS, recall=N" with a code we do not know is not done (where the official demo stops)', () => {
    expect(body(mapReverse(fail('TRADE_ERROR', { recall: 'N' }), NO))).toMatchObject({ result: 'UNKNOWN', recall: false });
  });
});

describe('v2 refund', () => {
  it('SUCCESS carries the refunded amount; the refund number must be ours', () => {
    expect(body(mapRefund({ result_code: 'SUCCESS', out_trade_no: NO, out_refund_no: 'R1', refund_fee: '50' }, NO, 'R1'))).toMatchObject({ result: 'SUCCESS', refundedAmount: 50 });
    expect(mapRefund({ result_code: 'SUCCESS', out_refund_no: 'R2', refund_fee: '50' }, NO, 'R1')).toHaveProperty('malformed');
  });

  it.each([
    ['ORDERNOTEXIST', 'FAIL', 'ORDER_NOT_FOUND'],
    ['TRADE_STATE_ERROR', 'FAIL', 'REFUND_NOT_PAID'],
    ['REFUND_FEE_INVALID', 'FAIL', 'REFUND_EXCEEDS'],
    ['NOTENOUGH', 'FAIL', 'WECHAT_NOTENOUGH'],
    ['SYSTEMERROR', 'UNKNOWN', 'WECHAT_SYSTEMERROR'],
    ['BIZERR_NEED_RETRY', 'UNKNOWN', 'WECHAT_BIZERR_NEED_RETRY'],
  ])('err_code %s → %s %s', (err, result, reasonCode) => {
    expect(body(mapRefund(fail(err), NO, 'R1'))).toMatchObject({ result, reasonCode });
  });
});

describe('v3 codepay', () => {
  const paid = JSON.stringify({ out_trade_no: NO, transaction_id: '42000', trade_state: 'SUCCESS', success_time: '2026-11-30T15:00:00+08:00', amount: { total: 1234, currency: 'CNY' } });

  it('200 SUCCESS is paid', () => {
    expect(body(mapCodepay(200, paid, NO))).toMatchObject({ result: 'SUCCESS', trade: { amount: 1234, acquirerTradeNo: '42000', paidAt: Date.UTC(2026, 10, 30, 7, 0, 0) } });
  });

  it('HTTP 202 is USERPAYING, whatever the body says', () => {
    expect(body(mapCodepay(202, '{"trade_state":"USERPAYING"}', NO)).result).toBe('USER_PAYING');
    expect(body(mapCodepay(202, '', NO)).result).toBe('USER_PAYING');
  });

  it.each([
    ['SYSTEM_ERROR', 500, 'UNKNOWN'],
    ['BANK_ERROR', 500, 'UNKNOWN'],
    ['USERPAYING', 403, 'USER_PAYING'],
    ['AUTHCODEEXPIRE', 403, 'FAIL'],
    ['AUTH_CODE_INVALID', 400, 'FAIL'],
    ['NOTENOUGH', 403, 'FAIL'],
    ['NOT_ENOUGH', 403, 'FAIL'],
    ['ORDER_PAID', 403, 'FAIL'],
    ['ORDER_CLOSED', 400, 'FAIL'],
    ['ORDER_REVERSED', 400, 'FAIL'],
    ['OUT_TRADE_NO_USED', 400, 'FAIL'],
    ['PARAM_ERROR', 400, 'FAIL'],
    ['SOMETHING_NEW', 400, 'UNKNOWN'],
  ])('%s (HTTP %i) → %s', (code, status, result) => {
    expect(body(mapCodepay(status, JSON.stringify({ code, message: 'm' }), NO)).result).toBe(result);
  });

  it('reason codes of declines are the protocol ones', () => {
    expect(body(mapCodepay(403, '{"code":"NOTENOUGH","message":"余额不足"}', NO))).toMatchObject({ reasonCode: 'NOT_ENOUGH', reasonMessage: '余额不足' });
    expect(body(mapCodepay(403, '{"code":"ORDER_PAID","message":"paid"}', NO))).toMatchObject({ reasonCode: 'ORDER_PAID' });
  });

  it('a body that is not the documented shape is no answer', () => {
    expect(mapCodepay(200, 'nope', NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, '{"out_trade_no":"OTHER0001","trade_state":"SUCCESS"}', NO)).toHaveProperty('malformed');
    expect(mapCodepay(400, '{"message":"no code"}', NO)).toHaveProperty('malformed');
  });
});

describe('v3 query, reverse, refund', () => {
  it('query states and ORDER_NOT_EXIST', () => {
    for (const s of ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR']) {
      expect(body(mapQueryV3(200, JSON.stringify({ out_trade_no: NO, trade_state: s, amount: { total: 5 } }), NO))).toMatchObject({ result: 'SUCCESS', trade: { state: s } });
    }
    expect(body(mapQueryV3(404, '{"code":"ORDER_NOT_EXIST","message":"x"}', NO))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(mapQueryV3(500, '{"code":"SYSTEM_ERROR","message":"x"}', NO)).result).toBe('UNKNOWN');
  });

  it('reverse', () => {
    expect(body(mapReverseV3(200, JSON.stringify({ out_trade_no: NO }), NO))).toMatchObject({ result: 'SUCCESS', recall: false });
    expect(body(mapReverseV3(204, '', NO))).toMatchObject({ result: 'SUCCESS' });
    expect(body(mapReverseV3(200, JSON.stringify({ recall: true }), NO))).toMatchObject({ result: 'RETRY', recall: true });
    expect(body(mapReverseV3(403, '{"code":"USERPAYING","message":"x"}', NO))).toMatchObject({ result: 'RETRY', recall: true, reasonCode: 'USER_PAYING' });
    expect(body(mapReverseV3(404, '{"code":"ORDER_NOT_EXIST","message":"x"}', NO))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(mapReverseV3(400, '{"code":"REVERSE_EXPIRE","message":"x"}', NO))).toMatchObject({ result: 'FAIL', reasonCode: 'REVERSE_EXPIRED' });
    expect(body(mapReverseV3(500, '{"code":"SYSTEM_ERROR","message":"x"}', NO))).toMatchObject({ result: 'RETRY', recall: true });
  });

  it('refund: SUCCESS, PROCESSING is not done, errors', () => {
    const ok = (status: string) => JSON.stringify({ out_refund_no: 'R1', out_trade_no: NO, status, amount: { refund: 7 } });
    expect(body(mapRefundV3(200, ok('SUCCESS'), NO, 'R1'))).toMatchObject({ result: 'SUCCESS', refundedAmount: 7 });
    expect(body(mapRefundV3(200, ok('PROCESSING'), NO, 'R1')).result).toBe('UNKNOWN');
    expect(body(mapRefundV3(200, ok('ABNORMAL'), NO, 'R1')).result).toBe('FAIL');
    expect(body(mapRefundV3(404, '{"code":"ORDER_NOT_EXIST","message":"x"}', NO, 'R1'))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(mapRefundV3(500, '{"code":"SYSTEM_ERROR","message":"x"}', NO, 'R1')).result).toBe('UNKNOWN');
  });
});

describe('profiles', () => {
  it('carry WeChat’s rules', () => {
    for (const p of [WECHAT_V2_PROFILE, WECHAT_V3_PROFILE]) {
      expect(p).toMatchObject({ unseenReverseIsFinal: false, earliestReverseMs: 15_000, reverseWindow: { kind: 'duration', ms: 7 * 86_400_000 }, reverseRefusedWhilePaying: true, acquirerRevokesUnpaidAfterMs: 45_000 });
    }
    expect(beijingTime('20260101080000')).toBe(Date.UTC(2026, 0, 1, 0, 0, 0));
  });
});
