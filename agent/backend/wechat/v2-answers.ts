/**
 * What each verified WeChat v2 answer means, as protocol v1 shapes (the conventions in
 * agent/backend/acquirer-profile.ts). Pure functions over the answer's fields, so that every
 * err_code of the reference is a table row with a test. Codes not listed here are unknown,
 * never a decline: the official demo's "not SUCCESS and recall=N, so done" is how orders get
 * lost, and the cost of querying once more is small.
 */
import { REASONS, type PayResponse, type QueryResponse, type RefundResponse, type ReverseResponse, type Trade, type TradeState } from '../../protocol/messages.ts';
import type { V2Fields } from './v2-codec.ts';

export type Mapped<T> = { body: T } | { malformed: string };


/** micropay err_codes that end the payment, with the reason the POS shows. */
export const V2_PAY_DECLINES: Record<string, string> = {
  AUTHCODEEXPIRE: 'AUTH_CODE_EXPIRED',
  AUTH_CODE_INVALID: 'AUTH_CODE_INVALID',
  AUTH_CODE_ERROR: 'AUTH_CODE_INVALID',
  NOTENOUGH: 'NOT_ENOUGH',
  ORDERPAID: 'ORDER_PAID',
  ORDERCLOSED: 'ORDER_CLOSED',
  ORDERREVERSED: 'ORDER_REVERSED',
  OUT_TRADE_NO_USED: 'ORDER_NO_USED',
  // Refusals of the request itself: nothing was charged, and repeating it will not help.
  SIGNERROR: 'WECHAT_SIGNERROR',
  PARAM_ERROR: 'WECHAT_PARAM_ERROR',
  LACK_PARAMS: 'WECHAT_LACK_PARAMS',
  XML_FORMAT_ERROR: 'WECHAT_XML_FORMAT_ERROR',
  NOAUTH: 'WECHAT_NOAUTH',
  APPID_MCHID_NOT_MATCH: 'WECHAT_APPID_MCHID_NOT_MATCH',
  BUYER_MISMATCH: 'WECHAT_BUYER_MISMATCH',
};

/** micropay err_codes that leave the outcome open: query with the same out_trade_no. */
export const V2_PAY_UNKNOWN = new Set(['SYSTEMERROR', 'BANKERROR']);

/** orderquery trade_state → protocol v1 state. ACCEPT ("received, charging") is not final: the customer side is still moving. */
export const V2_TRADE_STATES: Record<string, TradeState> = {
  SUCCESS: 'SUCCESS',
  REFUND: 'REFUND',
  NOTPAY: 'NOTPAY',
  CLOSED: 'CLOSED',
  REVOKED: 'REVOKED',
  USERPAYING: 'USERPAYING',
  PAYERROR: 'PAYERROR',
  ACCEPT: 'USERPAYING',
};

/**
 * The protocol state of a wire trade_state. Own keys only: a code spelled like an
 * Object.prototype member ("constructor") is an unknown state, not a function.
 */
export function tradeState(wire = ''): TradeState | undefined {
  return Object.hasOwn(V2_TRADE_STATES, wire) ? V2_TRADE_STATES[wire] : undefined;
}

export function reason(code: string, des?: string): { reasonCode: string; reasonMessage: string } {
  return { reasonCode: code, reasonMessage: (des || (REASONS as Record<string, string>)[code] || code).slice(0, 256) };
}

function int(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

/** `time_end` is yyyyMMddHHmmss in Beijing time (UTC+8). */
export function beijingTime(v: string | undefined): number | undefined {
  const m = v && /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h! - 8, mi!, s!);
}

/** The trade an answer describes, when it carries an amount. */
function tradeOf(f: V2Fields, orderNo: string, state: TradeState): Trade | undefined {
  const amount = int(f.total_fee);
  if (!amount) return undefined;
  const paidAt = beijingTime(f.time_end);
  const refunded = int(f.refund_fee) ?? 0;
  return {
    orderNo,
    state,
    amount,
    currency: f.fee_type || 'CNY',
    wallet: 'wechat',
    ...(f.transaction_id ? { acquirerTradeNo: f.transaction_id } : {}),
    ...(paidAt !== undefined && (state === 'SUCCESS' || state === 'REFUND') ? { paidAt } : {}),
    refundedAmount: refunded,
  };
}

/** An answer about another order is no answer about ours. */
function otherOrder(f: V2Fields, orderNo: string): string | undefined {
  return f.out_trade_no && f.out_trade_no !== orderNo ? 'the answer names another out_trade_no' : undefined;
}

export function mapMicropay(f: V2Fields, orderNo: string): Mapped<PayResponse> {
  const other = otherOrder(f, orderNo);
  if (other) return { malformed: other };
  if (f.result_code === 'SUCCESS') {
    const trade = tradeOf(f, orderNo, 'SUCCESS');
    if (!trade || !f.transaction_id) return { malformed: 'a successful micropay answer without total_fee or transaction_id' };
    return { body: { result: 'SUCCESS', orderNo, trade } };
  }
  if (f.result_code !== 'FAIL') return { malformed: `result_code ${JSON.stringify(f.result_code ?? '')}` };
  const err = f.err_code ?? '';
  if (err === 'USERPAYING') return { body: { result: 'USER_PAYING', orderNo, reasonCode: 'USER_PAYING', reasonMessage: 'the customer is entering the password' } };
  const decline = Object.hasOwn(V2_PAY_DECLINES, err) ? V2_PAY_DECLINES[err] : undefined;
  if (decline) return { body: { result: 'FAIL', orderNo, ...reason(decline, f.err_code_des) } };
  return { body: { result: 'UNKNOWN', orderNo, reasonCode: V2_PAY_UNKNOWN.has(err) ? err : `WECHAT_${err || 'NO_ERR_CODE'}`, reasonMessage: (f.err_code_des || 'outcome unknown: query').slice(0, 256) } };
}

export function mapOrderQuery(f: V2Fields, orderNo: string): Mapped<QueryResponse> {
  const other = otherOrder(f, orderNo);
  if (other) return { malformed: other };
  if (f.result_code === 'FAIL') {
    if (f.err_code === 'ORDERNOTEXIST') return { body: { result: 'FAIL', orderNo, ...reason('ORDER_NOT_FOUND', f.err_code_des) } };
    return { body: { result: 'UNKNOWN', orderNo, reasonCode: `WECHAT_${f.err_code || 'NO_ERR_CODE'}`, reasonMessage: (f.err_code_des || 'query failed').slice(0, 256) } };
  }
  if (f.result_code !== 'SUCCESS') return { malformed: `result_code ${JSON.stringify(f.result_code ?? '')}` };
  const state = tradeState(f.trade_state);
  if (!state) return { malformed: `trade_state ${JSON.stringify(f.trade_state ?? '')}` };
  const trade = tradeOf(f, orderNo, state);
  if (!trade) return { malformed: 'an orderquery answer without total_fee' };
  return { body: { result: 'SUCCESS', orderNo, trade, ...(state === 'PAYERROR' ? { reasonCode: 'PAYERROR', reasonMessage: (f.trade_state_desc || 'payment failed').slice(0, 256) } : {}) } };
}

export function mapReverse(f: V2Fields, orderNo: string): Mapped<ReverseResponse> {
  const other = otherOrder(f, orderNo);
  if (other) return { malformed: other };
  const recall = f.recall === 'Y';
  if (f.result_code === 'SUCCESS') {
    // A success that still says recall=Y is not done: WeChat asks for another call.
    return { body: recall ? { result: 'RETRY', orderNo, recall: true, reasonCode: 'RECALL', reasonMessage: 'recall=Y: reverse again' } : { result: 'SUCCESS', orderNo, recall: false } };
  }
  if (f.result_code !== 'FAIL') return { malformed: `result_code ${JSON.stringify(f.result_code ?? '')}` };
  const err = f.err_code ?? '';
  const des = f.err_code_des;
  if (err === 'USERPAYING') return { body: { result: 'RETRY', orderNo, recall: true, ...reason('USER_PAYING', des || 'the customer is paying: reverse again later') } };
  if (err === 'ORDERNOTEXIST') return { body: { result: 'FAIL', orderNo, recall: false, ...reason('ORDER_NOT_FOUND', des) } };
  if (err === 'REVERSE_EXPIRE') return { body: { result: 'FAIL', orderNo, recall: false, ...reason('REVERSE_EXPIRED', des) } };
  if (recall) return { body: { result: 'RETRY', orderNo, recall: true, reasonCode: err || 'RECALL', reasonMessage: (des || 'recall=Y: reverse again').slice(0, 256) } };
  // recall=N without a code we know: not done (the official demo's mistake), keep trying.
  return { body: { result: 'UNKNOWN', orderNo, recall: false, reasonCode: `WECHAT_${err || 'NO_ERR_CODE'}`, reasonMessage: (des || 'reverse not confirmed').slice(0, 256) } };
}

/** Refund err_codes that end the refund; the rest leave it open and it is sent again with the same out_refund_no. */
export const V2_REFUND_DECLINES: Record<string, string> = {
  ORDERNOTEXIST: 'ORDER_NOT_FOUND',
  TRADE_STATE_ERROR: 'REFUND_NOT_PAID',
  REFUND_FEE_INVALID: 'REFUND_EXCEEDS',
  NOTENOUGH: 'WECHAT_NOTENOUGH',
  PARAM_ERROR: 'WECHAT_PARAM_ERROR',
  SIGNERROR: 'WECHAT_SIGNERROR',
  NOAUTH: 'WECHAT_NOAUTH',
  USER_ACCOUNT_ABNORMAL: 'WECHAT_USER_ACCOUNT_ABNORMAL',
};

export function mapRefund(f: V2Fields, orderNo: string, refundNo: string): Mapped<RefundResponse> {
  const other = otherOrder(f, orderNo);
  if (other) return { malformed: other };
  if (f.out_refund_no && f.out_refund_no !== refundNo) return { malformed: 'the answer names another out_refund_no' };
  if (f.result_code === 'SUCCESS') {
    const refunded = int(f.refund_fee);
    if (refunded === undefined) return { malformed: 'a refund answer without refund_fee' };
    return { body: { result: 'SUCCESS', orderNo, refundNo, refundedAmount: refunded } };
  }
  if (f.result_code !== 'FAIL') return { malformed: `result_code ${JSON.stringify(f.result_code ?? '')}` };
  const err = f.err_code ?? '';
  const decline = Object.hasOwn(V2_REFUND_DECLINES, err) ? V2_REFUND_DECLINES[err] : undefined;
  if (decline) return { body: { result: 'FAIL', orderNo, refundNo, ...reason(decline, f.err_code_des) } };
  return { body: { result: 'UNKNOWN', orderNo, refundNo, reasonCode: `WECHAT_${f.err_code || 'NO_ERR_CODE'}`, reasonMessage: (f.err_code_des || 'refund outcome unknown').slice(0, 256) } };
}
