/**
 * What each verified WeChat v3 answer means, as protocol v1 shapes (conventions in
 * agent/backend/acquirer-profile.ts). v3 says "the customer is paying" with HTTP 202 and
 * refuses with a 4xx/5xx whose JSON body is `{code, message}`. Error codes not listed are
 * unknown, never a decline.
 */
import * as z from 'zod';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse, Trade, TradeState } from '../../protocol/messages.ts';
import { reason, tradeState, type Mapped } from './v2-answers.ts';

/** Error codes that end a codepay, with the reason the POS shows. Both spellings WeChat uses across its docs are listed. */
export const V3_PAY_DECLINES: Record<string, string> = {
  AUTHCODEEXPIRE: 'AUTH_CODE_EXPIRED',
  AUTH_CODE_EXPIRE: 'AUTH_CODE_EXPIRED',
  AUTH_CODE_INVALID: 'AUTH_CODE_INVALID',
  NOTENOUGH: 'NOT_ENOUGH',
  NOT_ENOUGH: 'NOT_ENOUGH',
  ORDERPAID: 'ORDER_PAID',
  ORDER_PAID: 'ORDER_PAID',
  ORDERCLOSED: 'ORDER_CLOSED',
  ORDER_CLOSED: 'ORDER_CLOSED',
  ORDERREVERSED: 'ORDER_REVERSED',
  ORDER_REVERSED: 'ORDER_REVERSED',
  OUT_TRADE_NO_USED: 'ORDER_NO_USED',
  PARAM_ERROR: 'WECHAT_PARAM_ERROR',
  INVALID_REQUEST: 'WECHAT_INVALID_REQUEST',
  NO_AUTH: 'WECHAT_NO_AUTH',
  APPID_MCHID_NOT_MATCH: 'WECHAT_APPID_MCHID_NOT_MATCH',
  BUYER_MISMATCH: 'WECHAT_BUYER_MISMATCH',
};

export const V3_UNKNOWN = new Set(['SYSTEM_ERROR', 'SYSTEMERROR', 'BANK_ERROR', 'BANKERROR', 'FREQUENCY_LIMITED']);

const errorBody = z.object({ code: z.string(), message: z.string().optional() });

const trade = z.looseObject({
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  trade_state: z.string(),
  trade_state_desc: z.string().optional(),
  success_time: z.string().optional(),
  amount: z.looseObject({ total: z.number().int().positive(), currency: z.string().optional() }).optional(),
});
type V3Trade = z.infer<typeof trade>;

function parseJson(text: string): unknown {
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function tradeOf(t: V3Trade, state: TradeState): Trade | undefined {
  if (!t.amount) return undefined;
  const paidAt = t.success_time ? Date.parse(t.success_time) : Number.NaN;
  return {
    orderNo: t.out_trade_no,
    state,
    amount: t.amount.total,
    currency: t.amount.currency || 'CNY',
    wallet: 'wechat',
    ...(t.transaction_id ? { acquirerTradeNo: t.transaction_id } : {}),
    ...(Number.isFinite(paidAt) && (state === 'SUCCESS' || state === 'REFUND') ? { paidAt } : {}),
    refundedAmount: 0,
  };
}

type Parsed = { kind: 'trade'; t: V3Trade; state: TradeState } | { kind: 'error'; code: string; message: string } | { kind: 'malformed'; why: string };

/** A 2xx trade body, or a 4xx/5xx `{code, message}`. */
function read(status: number, text: string, orderNo: string): Parsed {
  const json = parseJson(text);
  if (json === undefined) return { kind: 'malformed', why: 'the body is not JSON' };
  if (status >= 400) {
    const e = errorBody.safeParse(json);
    return e.success ? { kind: 'error', code: e.data.code, message: e.data.message ?? e.data.code } : { kind: 'malformed', why: `HTTP ${status} without {code, message}` };
  }
  const t = trade.safeParse(json);
  if (!t.success) return { kind: 'malformed', why: t.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  if (t.data.out_trade_no !== orderNo) return { kind: 'malformed', why: 'the answer names another out_trade_no' };
  const state = tradeState(t.data.trade_state);
  if (!state) return { kind: 'malformed', why: `trade_state ${JSON.stringify(t.data.trade_state)}` };
  return { kind: 'trade', t: t.data, state };
}

export function mapCodepay(status: number, text: string, orderNo: string): Mapped<PayResponse> {
  if (status === 202) {
    // The body of a 202 may be {"trade_state":"USERPAYING"} alone: the status is the message.
    return { body: { result: 'USER_PAYING', orderNo, reasonCode: 'USER_PAYING', reasonMessage: 'the customer is entering the password' } };
  }
  const r = read(status, text, orderNo);
  if (r.kind === 'malformed') return { malformed: r.why };
  if (r.kind === 'error') {
    if (r.code === 'USERPAYING') return { body: { result: 'USER_PAYING', orderNo, reasonCode: 'USER_PAYING', reasonMessage: r.message } };
    const decline = Object.hasOwn(V3_PAY_DECLINES, r.code) ? V3_PAY_DECLINES[r.code] : undefined;
    if (decline) return { body: { result: 'FAIL', orderNo, ...reason(decline, r.message) } };
    return { body: { result: 'UNKNOWN', orderNo, reasonCode: V3_UNKNOWN.has(r.code) ? r.code : `WECHAT_${r.code}`, reasonMessage: r.message.slice(0, 256) } };
  }
  const tr = tradeOf(r.t, r.state);
  switch (r.state) {
    case 'SUCCESS':
      return tr && r.t.transaction_id ? { body: { result: 'SUCCESS', orderNo, trade: tr } } : { malformed: 'a successful codepay answer without amount or transaction_id' };
    case 'USERPAYING':
      return { body: { result: 'USER_PAYING', orderNo, ...(tr ? { trade: tr } : {}) } };
    case 'PAYERROR':
      return { body: { result: 'FAIL', orderNo, ...(tr ? { trade: tr } : {}), ...reason('PAYERROR', r.t.trade_state_desc) } };
    default:
      // NOTPAY, CLOSED, REVOKED, REFUND in a pay answer: the query says what it means.
      return { body: { result: 'UNKNOWN', orderNo, reasonCode: r.state, reasonMessage: (r.t.trade_state_desc || 'query the order').slice(0, 256) } };
  }
}

export function mapQueryV3(status: number, text: string, orderNo: string): Mapped<QueryResponse> {
  const r = read(status, text, orderNo);
  if (r.kind === 'malformed') return { malformed: r.why };
  if (r.kind === 'error') {
    if (r.code === 'ORDER_NOT_EXIST' || r.code === 'ORDERNOTEXIST' || r.code === 'RESOURCE_NOT_EXISTS') return { body: { result: 'FAIL', orderNo, ...reason('ORDER_NOT_FOUND', r.message) } };
    return { body: { result: 'UNKNOWN', orderNo, reasonCode: `WECHAT_${r.code}`, reasonMessage: r.message.slice(0, 256) } };
  }
  const tr = tradeOf(r.t, r.state);
  if (!tr) return { malformed: 'a query answer without amount' };
  return { body: { result: 'SUCCESS', orderNo, trade: tr, ...(r.state === 'PAYERROR' ? reason('PAYERROR', r.t.trade_state_desc) : {}) } };
}

const reverseBody = z.looseObject({ out_trade_no: z.string().optional(), recall: z.boolean().optional() });

export function mapReverseV3(status: number, text: string, orderNo: string): Mapped<ReverseResponse> {
  const json = parseJson(text);
  if (json === undefined) return { malformed: 'the body is not JSON' };
  if (status >= 400) {
    const e = errorBody.safeParse(json);
    if (!e.success) return { malformed: `HTTP ${status} without {code, message}` };
    const { code } = e.data;
    const message = e.data.message ?? code;
    if (code === 'USERPAYING' || code === 'USER_PAYING') return { body: { result: 'RETRY', orderNo, recall: true, ...reason('USER_PAYING', message) } };
    if (code === 'ORDER_NOT_EXIST' || code === 'ORDERNOTEXIST' || code === 'RESOURCE_NOT_EXISTS') return { body: { result: 'FAIL', orderNo, recall: false, ...reason('ORDER_NOT_FOUND', message) } };
    if (code === 'REVERSE_EXPIRE' || code === 'REVERSE_EXPIRED') return { body: { result: 'FAIL', orderNo, recall: false, ...reason('REVERSE_EXPIRED', message) } };
    // SYSTEM_ERROR and everything unknown: not reversed yet, call again.
    return { body: { result: 'RETRY', orderNo, recall: true, reasonCode: V3_UNKNOWN.has(code) ? code : `WECHAT_${code}`, reasonMessage: message.slice(0, 256) } };
  }
  if (status === 204) return { body: { result: 'SUCCESS', orderNo, recall: false } };
  const b = reverseBody.safeParse(json);
  if (!b.success) return { malformed: 'a reverse answer that is not an object' };
  if (b.data.out_trade_no !== undefined && b.data.out_trade_no !== orderNo) return { malformed: 'the answer names another out_trade_no' };
  if (b.data.recall) return { body: { result: 'RETRY', orderNo, recall: true, reasonCode: 'RECALL', reasonMessage: 'recall: reverse again' } };
  return { body: { result: 'SUCCESS', orderNo, recall: false } };
}

const refundBody = z.looseObject({
  out_refund_no: z.string(),
  out_trade_no: z.string().optional(),
  status: z.string(),
  amount: z.looseObject({ refund: z.number().int().nonnegative() }),
});

export const V3_REFUND_DECLINES: Record<string, string> = {
  ORDER_NOT_EXIST: 'ORDER_NOT_FOUND',
  RESOURCE_NOT_EXISTS: 'ORDER_NOT_FOUND',
  TRADE_STATE_ERROR: 'REFUND_NOT_PAID',
  REFUND_FEE_INVALID: 'REFUND_EXCEEDS',
  NOT_ENOUGH: 'WECHAT_NOT_ENOUGH',
  PARAM_ERROR: 'WECHAT_PARAM_ERROR',
  INVALID_REQUEST: 'WECHAT_INVALID_REQUEST',
  NO_AUTH: 'WECHAT_NO_AUTH',
  USER_ACCOUNT_ABNORMAL: 'WECHAT_USER_ACCOUNT_ABNORMAL',
};

export function mapRefundV3(status: number, text: string, orderNo: string, refundNo: string): Mapped<RefundResponse> {
  const json = parseJson(text);
  if (json === undefined) return { malformed: 'the body is not JSON' };
  if (status >= 400) {
    const e = errorBody.safeParse(json);
    if (!e.success) return { malformed: `HTTP ${status} without {code, message}` };
    const decline = Object.hasOwn(V3_REFUND_DECLINES, e.data.code) ? V3_REFUND_DECLINES[e.data.code] : undefined;
    const message = e.data.message ?? e.data.code;
    if (decline) return { body: { result: 'FAIL', orderNo, refundNo, ...reason(decline, message) } };
    return { body: { result: 'UNKNOWN', orderNo, refundNo, reasonCode: `WECHAT_${e.data.code}`, reasonMessage: message.slice(0, 256) } };
  }
  const b = refundBody.safeParse(json);
  if (!b.success) return { malformed: b.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  if (b.data.out_refund_no !== refundNo || (b.data.out_trade_no !== undefined && b.data.out_trade_no !== orderNo)) return { malformed: 'the answer names another refund or order' };
  switch (b.data.status) {
    case 'SUCCESS':
      return { body: { result: 'SUCCESS', orderNo, refundNo, refundedAmount: b.data.amount.refund } };
    case 'PROCESSING':
      // Accepted, not yet done: the same out_refund_no is sent again until it says SUCCESS.
      return { body: { result: 'UNKNOWN', orderNo, refundNo, reasonCode: 'REFUND_PROCESSING', reasonMessage: 'the refund is being processed' } };
    default:
      return { body: { result: 'FAIL', orderNo, refundNo, reasonCode: `WECHAT_REFUND_${b.data.status}`, reasonMessage: `refund ${b.data.status.toLowerCase()}` } };
  }
}
