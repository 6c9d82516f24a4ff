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

// Every row of the answer tables, the defaults a cashier reads, and the shapes that are no answer:
// an unknown answer must never become a decline (payment-rules.md rule 2).
describe('v2 answers, row by row', () => {
  const ok = (extra: Record<string, string> = {}) => ({ return_code: 'SUCCESS', result_code: 'SUCCESS', out_trade_no: NO, ...extra });

  it.each([
    ['AUTH_CODE_ERROR', 'AUTH_CODE_INVALID'],
    ['LACK_PARAMS', 'WECHAT_LACK_PARAMS'],
    ['XML_FORMAT_ERROR', 'WECHAT_XML_FORMAT_ERROR'],
    ['NOAUTH', 'WECHAT_NOAUTH'],
    ['APPID_MCHID_NOT_MATCH', 'WECHAT_APPID_MCHID_NOT_MATCH'],
    ['BUYER_MISMATCH', 'WECHAT_BUYER_MISMATCH'],
  ])('micropay %s is a decline with reason %s', (err, reasonCode) => {
    expect(body(mapMicropay(fail(err), NO))).toEqual({ result: 'FAIL', orderNo: NO, reasonCode, reasonMessage: `des of ${err}` });
  });

  it('a decline without err_code_des shows the protocol reason text, or the code when there is none', () => {
    expect(body(mapMicropay({ result_code: 'FAIL', err_code: 'NOTENOUGH' }, NO))).toMatchObject({ reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient funds' });
    expect(body(mapMicropay({ result_code: 'FAIL', err_code: 'NOAUTH' }, NO))).toMatchObject({ reasonCode: 'WECHAT_NOAUTH', reasonMessage: 'WECHAT_NOAUTH' });
    expect(body(mapMicropay(fail('NOTENOUGH', { err_code_des: 'x'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
  });

  it('USERPAYING, SYSTEMERROR, a missing err_code and codes named like Object members are never a decline', () => {
    expect(body(mapMicropay(fail('USERPAYING'), NO))).toEqual({ result: 'USER_PAYING', orderNo: NO, reasonCode: 'USER_PAYING', reasonMessage: 'the customer is entering the password' });
    expect(body(mapMicropay({ result_code: 'FAIL', err_code: 'SYSTEMERROR' }, NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'SYSTEMERROR', reasonMessage: 'outcome unknown: query' });
    expect(body(mapMicropay(fail('SYSTEMERROR', { err_code_des: 'y'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
    expect(body(mapMicropay({ result_code: 'FAIL' }, NO))).toMatchObject({ result: 'UNKNOWN', reasonCode: 'WECHAT_NO_ERR_CODE' });
    for (const err of ['constructor', 'toString', '__proto__']) {
      expect(body(mapMicropay(fail(err), NO))).toMatchObject({ result: 'UNKNOWN', reasonCode: `WECHAT_${err}` });
      expect(body(mapRefund(fail(err), NO, 'R1'))).toMatchObject({ result: 'UNKNOWN', reasonCode: `WECHAT_${err}` });
      expect(mapOrderQuery(ok({ trade_state: err, total_fee: '1' }), NO)).toHaveProperty('malformed');
    }
  });

  it('a paid answer needs a whole positive total_fee and a transaction_id', () => {
    const paid = { transaction_id: 'T1', total_fee: '100' };
    expect(body(mapMicropay(ok(paid), NO))).toEqual({ result: 'SUCCESS', orderNo: NO, trade: { orderNo: NO, state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: 'T1', refundedAmount: 0 } });
    expect(mapMicropay(ok({ total_fee: '100' }), NO)).toHaveProperty('malformed');
    for (const total_fee of ['0', '1.5', '-1', '12a', 'a12', '1234567890123456', ''])
      expect(mapMicropay(ok({ ...paid, total_fee }), NO), total_fee).toHaveProperty('malformed');
    expect(body(mapMicropay(ok({ ...paid, total_fee: '123456789012345' }), NO))).toMatchObject({ trade: { amount: 123456789012345 } });
    expect(mapMicropay({ out_trade_no: NO, ...paid }, NO)).toHaveProperty('malformed');
    expect(body(mapMicropay(ok({ ...paid, fee_type: 'HKD' }), NO))).toMatchObject({ trade: { currency: 'HKD' } });
  });

  it('time_end is read only when it is exactly yyyyMMddHHmmss, and only a paid or refunded trade has a payment time', () => {
    expect(beijingTime('20261231235959')).toBe(Date.UTC(2026, 11, 31, 15, 59, 59));
    for (const t of ['2026123123595', '202612312359590', 'x20261231235959', '2026-12-31 23:59', undefined, '']) expect(beijingTime(t), String(t)).toBeUndefined();
    const q = (trade_state: string) => body(mapOrderQuery(ok({ trade_state, total_fee: '5', time_end: '20260101080000', transaction_id: 'T9', refund_fee: '2' }), NO)).trade!;
    expect(q('REFUND')).toMatchObject({ paidAt: Date.UTC(2026, 0, 1, 0, 0, 0), refundedAmount: 2, acquirerTradeNo: 'T9' });
    expect(q('NOTPAY')).not.toHaveProperty('paidAt');
    expect(q('USERPAYING')).not.toHaveProperty('paidAt');
    expect(body(mapOrderQuery(ok({ trade_state: 'NOTPAY', total_fee: '5' }), NO)).trade).not.toHaveProperty('acquirerTradeNo');
  });

  it('orderquery: failures other than ORDERNOTEXIST are unknown; PAYERROR carries its description', () => {
    expect(body(mapOrderQuery({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' }, NO))).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'no such order' });
    expect(body(mapOrderQuery(fail('SYSTEMERROR'), NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'WECHAT_SYSTEMERROR', reasonMessage: 'des of SYSTEMERROR' });
    expect(body(mapOrderQuery({ result_code: 'FAIL' }, NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'WECHAT_NO_ERR_CODE', reasonMessage: 'query failed' });
    expect(body(mapOrderQuery(fail('SYSTEMERROR', { err_code_des: 'z'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
    expect(mapOrderQuery({ out_trade_no: 'OTHER00001', result_code: 'FAIL', err_code: 'ORDERNOTEXIST' }, NO)).toHaveProperty('malformed');
    expect(mapOrderQuery({ trade_state: 'SUCCESS', total_fee: '1' }, NO)).toHaveProperty('malformed');
    expect(body(mapOrderQuery(ok({ trade_state: 'PAYERROR', total_fee: '5', trade_state_desc: 'bank refused' }), NO))).toMatchObject({ reasonCode: 'PAYERROR', reasonMessage: 'bank refused' });
    expect(body(mapOrderQuery(ok({ trade_state: 'PAYERROR', total_fee: '5' }), NO))).toMatchObject({ reasonCode: 'PAYERROR', reasonMessage: 'payment failed' });
    expect(body(mapOrderQuery(ok({ trade_state: 'SUCCESS', total_fee: '5' }), NO))).not.toHaveProperty('reasonCode');
  });

  it('reverse: every branch, and anything but a clear SUCCESS or a known refusal keeps it open', () => {
    expect(mapReverse({ out_trade_no: 'OTHER00001', result_code: 'SUCCESS', recall: 'N' }, NO)).toHaveProperty('malformed');
    expect(mapReverse({ recall: 'N' }, NO)).toHaveProperty('malformed');
    expect(body(mapReverse({ result_code: 'SUCCESS' }, NO))).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
    expect(body(mapReverse({ result_code: 'SUCCESS', recall: 'Y' }, NO))).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'RECALL', reasonMessage: 'recall=Y: reverse again' });
    expect(body(mapReverse({ result_code: 'FAIL', err_code: 'USERPAYING' }, NO))).toMatchObject({ result: 'RETRY', recall: true, reasonMessage: 'the customer is paying: reverse again later' });
    expect(body(mapReverse({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' }, NO))).toMatchObject({ reasonMessage: 'no such order' });
    expect(body(mapReverse({ result_code: 'FAIL', err_code: 'REVERSE_EXPIRE', recall: 'Y' }, NO))).toMatchObject({ result: 'FAIL', reasonCode: 'REVERSE_EXPIRED' });
    expect(body(mapReverse({ result_code: 'FAIL', recall: 'Y' }, NO))).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'RECALL', reasonMessage: 'recall=Y: reverse again' });
    expect(body(mapReverse(fail('SYSTEMERROR', { recall: 'Y', err_code_des: 'w'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
    expect(body(mapReverse({ result_code: 'FAIL', recall: 'N' }, NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, recall: false, reasonCode: 'WECHAT_NO_ERR_CODE', reasonMessage: 'reverse not confirmed' });
    expect(body(mapReverse(fail('SYSTEMERROR', { recall: 'N' }), NO))).toMatchObject({ result: 'UNKNOWN', reasonCode: 'WECHAT_SYSTEMERROR', reasonMessage: 'des of SYSTEMERROR' });
    expect(body(mapReverse(fail('SYSTEMERROR', { recall: 'N', err_code_des: 'v'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
  });

  it('refund: the declines of the table, the defaults, and answers about another order or without refund_fee', () => {
    for (const [err, reasonCode] of [['PARAM_ERROR', 'WECHAT_PARAM_ERROR'], ['SIGNERROR', 'WECHAT_SIGNERROR'], ['NOAUTH', 'WECHAT_NOAUTH'], ['USER_ACCOUNT_ABNORMAL', 'WECHAT_USER_ACCOUNT_ABNORMAL']])
      expect(body(mapRefund(fail(err!), NO, 'R1'))).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode, reasonMessage: `des of ${err}` });
    expect(body(mapRefund({ result_code: 'FAIL' }, NO, 'R1'))).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'WECHAT_NO_ERR_CODE', reasonMessage: 'refund outcome unknown' });
    expect(body(mapRefund(fail('SYSTEMERROR', { err_code_des: 'u'.repeat(300) }), NO, 'R1')).reasonMessage).toHaveLength(256);
    expect(mapRefund({ result_code: 'SUCCESS', out_trade_no: 'OTHER00001', refund_fee: '5' }, NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefund({ result_code: 'SUCCESS', out_refund_no: 'R1' }, NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefund({ out_refund_no: 'R1', refund_fee: '5' }, NO, 'R1')).toHaveProperty('malformed');
    expect(body(mapRefund({ result_code: 'SUCCESS', refund_fee: '0' }, NO, 'R1'))).toEqual({ result: 'SUCCESS', orderNo: NO, refundNo: 'R1', refundedAmount: 0 });
  });
});

describe('v3 answers, row by row', () => {
  const err = (code: string, message?: string) => JSON.stringify(message === undefined ? { code } : { code, message });
  const tradeJson = (t: Record<string, unknown>) => JSON.stringify({ out_trade_no: NO, ...t });

  it.each([
    ['AUTH_CODE_EXPIRE', 'AUTH_CODE_EXPIRED'],
    ['AUTHCODEEXPIRE', 'AUTH_CODE_EXPIRED'],
    ['AUTH_CODE_INVALID', 'AUTH_CODE_INVALID'],
    ['NOTENOUGH', 'NOT_ENOUGH'],
    ['ORDERPAID', 'ORDER_PAID'],
    ['ORDERCLOSED', 'ORDER_CLOSED'],
    ['ORDER_CLOSED', 'ORDER_CLOSED'],
    ['ORDERREVERSED', 'ORDER_REVERSED'],
    ['ORDER_REVERSED', 'ORDER_REVERSED'],
    ['OUT_TRADE_NO_USED', 'ORDER_NO_USED'],
    ['PARAM_ERROR', 'WECHAT_PARAM_ERROR'],
    ['INVALID_REQUEST', 'WECHAT_INVALID_REQUEST'],
    ['NO_AUTH', 'WECHAT_NO_AUTH'],
    ['APPID_MCHID_NOT_MATCH', 'WECHAT_APPID_MCHID_NOT_MATCH'],
    ['BUYER_MISMATCH', 'WECHAT_BUYER_MISMATCH'],
  ])('codepay %s is a decline with reason %s', (code, reasonCode) => {
    expect(body(mapCodepay(400, err(code, 'm'), NO))).toEqual({ result: 'FAIL', orderNo: NO, reasonCode, reasonMessage: 'm' });
  });

  it.each(['SYSTEM_ERROR', 'SYSTEMERROR', 'BANK_ERROR', 'BANKERROR', 'FREQUENCY_LIMITED'])('codepay %s is unknown under its own code', (code) => {
    expect(body(mapCodepay(500, err(code, 'busy'), NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: code, reasonMessage: 'busy' });
  });

  it('an unlisted code, or one named like an Object member, is unknown; an error without message shows its code', () => {
    expect(body(mapCodepay(400, err('SOMETHING_NEW'), NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'WECHAT_SOMETHING_NEW', reasonMessage: 'SOMETHING_NEW' });
    expect(body(mapCodepay(400, err('NEW', 'q'.repeat(300)), NO)).reasonMessage).toHaveLength(256);
    for (const code of ['constructor', 'toString']) {
      expect(body(mapCodepay(400, err(code), NO)).result).toBe('UNKNOWN');
      expect(body(mapRefundV3(400, err(code), NO, 'R1')).result).toBe('UNKNOWN');
      expect(mapQueryV3(200, tradeJson({ trade_state: code, amount: { total: 1 } }), NO)).toHaveProperty('malformed');
    }
    expect(body(mapCodepay(403, err('USERPAYING', 'enter password'), NO))).toEqual({ result: 'USER_PAYING', orderNo: NO, reasonCode: 'USER_PAYING', reasonMessage: 'enter password' });
    expect(body(mapCodepay(202, 'not json at all', NO))).toEqual({ result: 'USER_PAYING', orderNo: NO, reasonCode: 'USER_PAYING', reasonMessage: 'the customer is entering the password' });
  });

  it('a 200 trade: paid needs amount and transaction_id; USERPAYING, PAYERROR and the other states', () => {
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'SUCCESS', transaction_id: 'T1', amount: { total: 7 } }), NO))).toEqual({ result: 'SUCCESS', orderNo: NO, trade: { orderNo: NO, state: 'SUCCESS', amount: 7, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: 'T1', refundedAmount: 0 } });
    expect(mapCodepay(200, tradeJson({ trade_state: 'SUCCESS', amount: { total: 7 } }), NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, tradeJson({ trade_state: 'SUCCESS', transaction_id: 'T1' }), NO)).toHaveProperty('malformed');
    for (const total of [0, -1, 1.5, '7']) expect(mapCodepay(200, tradeJson({ trade_state: 'SUCCESS', transaction_id: 'T1', amount: { total } }), NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, JSON.stringify({ trade_state: 'SUCCESS', transaction_id: 'T1', amount: { total: 7 } }), NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, tradeJson({ transaction_id: 'T1', amount: { total: 7 } }), NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, tradeJson({ trade_state: 'WEIRD', amount: { total: 7 } }), NO)).toHaveProperty('malformed');
    expect(mapCodepay(200, '', NO)).toHaveProperty('malformed');
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'USERPAYING' }), NO))).toEqual({ result: 'USER_PAYING', orderNo: NO });
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'USERPAYING', amount: { total: 7 } }), NO))).toMatchObject({ result: 'USER_PAYING', trade: { state: 'USERPAYING', amount: 7 } });
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'PAYERROR', trade_state_desc: 'bank said no' }), NO))).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'PAYERROR', reasonMessage: 'bank said no' });
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'PAYERROR', amount: { total: 7 } }), NO))).toMatchObject({ result: 'FAIL', trade: { state: 'PAYERROR' } });
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'NOTPAY' }), NO))).toEqual({ result: 'UNKNOWN', orderNo: NO, reasonCode: 'NOTPAY', reasonMessage: 'query the order' });
    expect(body(mapCodepay(200, tradeJson({ trade_state: 'CLOSED', trade_state_desc: 'd'.repeat(300) }), NO)).reasonMessage).toHaveLength(256);
    expect(mapCodepay(500, '{}', NO)).toHaveProperty('malformed');
    expect(mapCodepay(400, '<xml/>', NO)).toHaveProperty('malformed');
  });

  it('success_time and currency: a payment time only when paid or refunded and readable', () => {
    const q = (t: Record<string, unknown>) => body(mapQueryV3(200, tradeJson({ amount: { total: 9 }, ...t }), NO)).trade!;
    expect(q({ trade_state: 'REFUND', success_time: '2026-11-30T15:00:00+08:00' })).toMatchObject({ state: 'REFUND', paidAt: Date.UTC(2026, 10, 30, 7, 0, 0) });
    expect(q({ trade_state: 'SUCCESS', success_time: 'yesterday' })).not.toHaveProperty('paidAt');
    expect(q({ trade_state: 'CLOSED', success_time: '2026-11-30T15:00:00+08:00' })).not.toHaveProperty('paidAt');
    expect(q({ trade_state: 'SUCCESS', amount: { total: 9, currency: 'HKD' } })).toMatchObject({ currency: 'HKD' });
    expect(q({ trade_state: 'SUCCESS' })).not.toHaveProperty('acquirerTradeNo');
  });

  it('query: not-found spellings, other errors unknown, PAYERROR, answers without an amount', () => {
    for (const code of ['ORDER_NOT_EXIST', 'ORDERNOTEXIST', 'RESOURCE_NOT_EXISTS'])
      expect(body(mapQueryV3(404, err(code, 'gone'), NO))).toEqual({ result: 'FAIL', orderNo: NO, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'gone' });
    expect(body(mapQueryV3(500, err('SYSTEM_ERROR', 'r'.repeat(300)), NO))).toMatchObject({ result: 'UNKNOWN', reasonCode: 'WECHAT_SYSTEM_ERROR', reasonMessage: 'r'.repeat(256) });
    expect(mapQueryV3(200, tradeJson({ trade_state: 'SUCCESS' }), NO)).toHaveProperty('malformed');
    expect(mapQueryV3(200, 'nope', NO)).toHaveProperty('malformed');
    expect(body(mapQueryV3(200, tradeJson({ trade_state: 'PAYERROR', amount: { total: 3 }, trade_state_desc: 'declined' }), NO))).toMatchObject({ result: 'SUCCESS', reasonCode: 'PAYERROR', reasonMessage: 'declined' });
    expect(body(mapQueryV3(200, tradeJson({ trade_state: 'SUCCESS', amount: { total: 3 } }), NO))).not.toHaveProperty('reasonCode');
  });

  it('reverse: every code spelling; unknown codes and system errors are RETRY, never done', () => {
    expect(mapReverseV3(200, 'nope', NO)).toHaveProperty('malformed');
    expect(mapReverseV3(500, '{"message":"no code"}', NO)).toHaveProperty('malformed');
    expect(body(mapReverseV3(403, err('USER_PAYING'), NO))).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'USER_PAYING', reasonMessage: 'USER_PAYING' });
    for (const code of ['ORDERNOTEXIST', 'RESOURCE_NOT_EXISTS']) expect(body(mapReverseV3(404, err(code, 'gone'), NO))).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'gone' });
    expect(body(mapReverseV3(400, err('REVERSE_EXPIRED', 'old'), NO))).toEqual({ result: 'FAIL', orderNo: NO, recall: false, reasonCode: 'REVERSE_EXPIRED', reasonMessage: 'old' });
    expect(body(mapReverseV3(500, err('SYSTEM_ERROR', 'busy'), NO))).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'SYSTEM_ERROR', reasonMessage: 'busy' });
    expect(body(mapReverseV3(400, err('TRADE_ERROR', 't'.repeat(300)), NO))).toMatchObject({ result: 'RETRY', recall: true, reasonCode: 'WECHAT_TRADE_ERROR', reasonMessage: 't'.repeat(256) });
    expect(body(mapReverseV3(400, err('TRADE_ERROR'), NO))).toMatchObject({ reasonMessage: 'TRADE_ERROR' });
    expect(mapReverseV3(200, '[1]', NO)).toHaveProperty('malformed');
    expect(mapReverseV3(200, JSON.stringify({ out_trade_no: 'OTHER00001' }), NO)).toHaveProperty('malformed');
    expect(body(mapReverseV3(200, JSON.stringify({ out_trade_no: NO, recall: false }), NO))).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
    expect(body(mapReverseV3(200, JSON.stringify({ out_trade_no: NO, recall: true }), NO))).toEqual({ result: 'RETRY', orderNo: NO, recall: true, reasonCode: 'RECALL', reasonMessage: 'recall: reverse again' });
    expect(body(mapReverseV3(200, '', NO))).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
  });

  it('refund: every decline; unknown codes and PROCESSING stay open; another refund or order is no answer', () => {
    for (const [code, reasonCode] of [['RESOURCE_NOT_EXISTS', 'ORDER_NOT_FOUND'], ['TRADE_STATE_ERROR', 'REFUND_NOT_PAID'], ['REFUND_FEE_INVALID', 'REFUND_EXCEEDS'], ['NOT_ENOUGH', 'WECHAT_NOT_ENOUGH'], ['PARAM_ERROR', 'WECHAT_PARAM_ERROR'], ['INVALID_REQUEST', 'WECHAT_INVALID_REQUEST'], ['NO_AUTH', 'WECHAT_NO_AUTH'], ['USER_ACCOUNT_ABNORMAL', 'WECHAT_USER_ACCOUNT_ABNORMAL']])
      expect(body(mapRefundV3(400, err(code!), NO, 'R1'))).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode, reasonMessage: code });
    expect(body(mapRefundV3(500, err('SYSTEM_ERROR', 's'.repeat(300)), NO, 'R1'))).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'WECHAT_SYSTEM_ERROR', reasonMessage: 's'.repeat(256) });
    expect(mapRefundV3(500, 'nope', NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefundV3(500, '{"message":"m"}', NO, 'R1')).toHaveProperty('malformed');
    const r = (t: Record<string, unknown>) => JSON.stringify({ out_refund_no: 'R1', status: 'SUCCESS', amount: { refund: 4 }, ...t });
    expect(body(mapRefundV3(200, r({}), NO, 'R1'))).toEqual({ result: 'SUCCESS', orderNo: NO, refundNo: 'R1', refundedAmount: 4 });
    expect(body(mapRefundV3(200, r({ amount: { refund: 0 } }), NO, 'R1'))).toMatchObject({ result: 'SUCCESS', refundedAmount: 0 });
    expect(body(mapRefundV3(200, r({ status: 'PROCESSING' }), NO, 'R1'))).toEqual({ result: 'UNKNOWN', orderNo: NO, refundNo: 'R1', reasonCode: 'REFUND_PROCESSING', reasonMessage: 'the refund is being processed' });
    expect(body(mapRefundV3(200, r({ status: 'CLOSED' }), NO, 'R1'))).toEqual({ result: 'FAIL', orderNo: NO, refundNo: 'R1', reasonCode: 'WECHAT_REFUND_CLOSED', reasonMessage: 'refund closed' });
    expect(mapRefundV3(200, r({ out_refund_no: 'R2' }), NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefundV3(200, r({ out_trade_no: 'OTHER00001' }), NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefundV3(200, r({ amount: { refund: -1 } }), NO, 'R1')).toHaveProperty('malformed');
    expect(mapRefundV3(200, r({ status: undefined }), NO, 'R1')).toHaveProperty('malformed');
  });
});

describe('survivors of the first mutation run, killed', () => {
  it('v2: a payment time only when time_end is there; the PAYERROR description is cut to 256', () => {
    const b = body(mapMicropay({ result_code: 'SUCCESS', out_trade_no: NO, transaction_id: 'T1', total_fee: '100' }, NO));
    expect(b.trade).not.toHaveProperty('paidAt');
    expect(body(mapOrderQuery({ result_code: 'SUCCESS', out_trade_no: NO, trade_state: 'PAYERROR', total_fee: '5', trade_state_desc: 'p'.repeat(300) }, NO)).reasonMessage).toHaveLength(256);
  });

  it('v3: a complete paid answer about another order is no answer', () => {
    const other = JSON.stringify({ out_trade_no: 'OTHER00001', transaction_id: 'T1', trade_state: 'SUCCESS', amount: { total: 7 } });
    expect(mapCodepay(200, other, NO)).toHaveProperty('malformed');
    expect(mapQueryV3(200, other, NO)).toHaveProperty('malformed');
  });

  it('v3 reverse: recall must be a boolean, a 204 is reversed with nothing to recall, and a 204 with a garbled body is no answer', () => {
    expect(mapReverseV3(200, JSON.stringify({ out_trade_no: NO, recall: 'true' }), NO)).toHaveProperty('malformed');
    expect(mapReverseV3(200, JSON.stringify({ out_trade_no: 7 }), NO)).toHaveProperty('malformed');
    expect(body(mapReverseV3(204, '', NO))).toEqual({ result: 'SUCCESS', orderNo: NO, recall: false });
    expect(mapReverseV3(204, 'garbled', NO)).toHaveProperty('malformed');
  });
});
