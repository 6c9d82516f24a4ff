/**
 * Alipay's verified answers in the protocol v1 shapes, by the conventions of
 * agent/backend/acquirer-profile.ts. Pure functions; anything they cannot read exactly
 * throws AnswerUnreadable, which the adapter turns into "unknown" (never a decline).
 *
 * Codes (../shared/reference/acquirer-apis.md, the face-to-face demo): 10000 success,
 * 10003 waiting for the buyer, 20000 unknown, 40004 business failure with a sub_code.
 * Only the sub_codes listed here as definite count as failures; any other answer to a pay
 * is unknown and the query decides (ACQ.SYSTEM_ERROR on a pay means exactly that).
 */
import { REASONS, type PayResponse, type QueryResponse, type RefundResponse, type ReverseResponse, type Trade, type TradeState } from '../../protocol/messages.ts';
import { parseBeijingTimestamp } from './beijing-time.ts';
import { yuanToFen } from './yuan.ts';

export class AnswerUnreadable extends Error {}

type Reason = keyof typeof REASONS;
type Data = Record<string, unknown>;

export const METHODS = { pay: 'alipay.trade.pay', query: 'alipay.trade.query', reverse: 'alipay.trade.cancel', refund: 'alipay.trade.refund' } as const;
export const responseKeyOf = (method: string) => `${method.replaceAll('.', '_')}_response`;

/** Pay sub_codes that end the payment for certain; the customer was not charged. */
export const PAY_DECLINES: Record<string, Reason | null> = {
  'ACQ.PAYMENT_AUTH_CODE_INVALID': 'AUTH_CODE_INVALID',
  'ACQ.BUYER_BALANCE_NOT_ENOUGH': 'NOT_ENOUGH',
  'ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH': 'NOT_ENOUGH',
  'ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR': 'AMOUNT_LIMIT',
  'ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR': 'AMOUNT_LIMIT',
  'ACQ.TOTAL_FEE_EXCEED': 'AMOUNT_LIMIT',
  'ACQ.TRADE_HAS_SUCCESS': 'ORDER_PAID',
  'ACQ.TRADE_HAS_CLOSE': 'ORDER_CLOSED',
  'ACQ.CONTEXT_INCONSISTENT': 'ORDER_NO_USED',
  'ACQ.TRADE_BUYER_NOT_MATCH': 'ORDER_NO_USED',
  // Refusals with no scanpay reason of their own: the sub_code is the reason.
  'ACQ.BUYER_ENABLE_STATUS_FORBID': null,
  'ACQ.BUYER_SELLER_EQUAL': null,
  'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT': null,
  'ACQ.PAYMENT_REQUEST_HAS_RISK': null,
  'ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE': null,
  'ACQ.BEYOND_PAY_RESTRICTION': null,
  'ACQ.SELLER_BEEN_BLOCKED': null,
  'ACQ.ACCESS_FORBIDDEN': null,
  'ACQ.INVALID_PARAMETER': null,
};

/** Missing or invalid arguments, insufficient permissions: refused before any business. */
const GATEWAY_REFUSALS = new Set(['40001', '40002', '40006']);

const TRADE_STATUS: Record<string, TradeState> = {
  WAIT_BUYER_PAY: 'USERPAYING',
  TRADE_SUCCESS: 'SUCCESS',
  TRADE_FINISHED: 'SUCCESS',
  TRADE_CLOSED: 'CLOSED',
};

function text(d: Data, k: string): string | undefined {
  const v = d[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AnswerUnreadable(`${k} is not a string`);
  return v;
}

function need(d: Data, k: string): string {
  const v = text(d, k);
  if (v === undefined || v === '') throw new AnswerUnreadable(`${k} is missing`);
  return v;
}

function fen(d: Data, k: string): number {
  const v = yuanToFen(need(d, k));
  if (v === null) throw new AnswerUnreadable(`${k} is not an exact yuan amount`);
  return v;
}

/** The answer is about our order, or it is no answer at all. */
function sameOrder(d: Data, orderNo: string): void {
  const o = text(d, 'out_trade_no');
  if (o !== undefined && o !== orderNo) throw new AnswerUnreadable('the answer names another order');
}

function reason(code: Reason, subCode?: string): { reasonCode: string; reasonMessage: string } {
  return { reasonCode: code, reasonMessage: subCode ? `${REASONS[code]} (${subCode})` : REASONS[code] };
}

function subReason(d: Data): { reasonCode: string; reasonMessage: string } {
  const sub = text(d, 'sub_code') ?? text(d, 'code') ?? 'FAIL';
  return { reasonCode: sub.slice(0, 64), reasonMessage: (text(d, 'sub_msg') ?? text(d, 'msg') ?? sub).slice(0, 256) };
}

function trade(d: Data, orderNo: string, state: TradeState, amount: number): Trade {
  const paid = text(d, 'gmt_payment') ?? text(d, 'send_pay_date');
  const paidAt = paid ? parseBeijingTimestamp(paid) : Number.NaN;
  const tradeNo = text(d, 'trade_no');
  return {
    orderNo,
    state,
    amount,
    currency: 'CNY',
    wallet: 'alipay',
    ...(tradeNo ? { acquirerTradeNo: tradeNo } : {}),
    ...(state === 'SUCCESS' && Number.isFinite(paidAt) ? { paidAt } : {}),
    refundedAmount: 0,
  };
}

export function payAnswer(d: Data, req: { orderNo: string; amount: number }): PayResponse {
  const { orderNo } = req;
  sameOrder(d, orderNo);
  const code = need(d, 'code');
  const sub = text(d, 'sub_code');
  if (code === '10000') {
    // A success for another amount is not our payment: let the query say what happened.
    if (fen(d, 'total_amount') !== req.amount) throw new AnswerUnreadable('the paid amount differs from the order');
    return { result: 'SUCCESS', orderNo, trade: trade(d, orderNo, 'SUCCESS', req.amount) };
  }
  if (code === '10003') return { result: 'USER_PAYING', orderNo };
  // The gateway refused the request itself (bad signature, app id, parameters): no trade was made.
  if (GATEWAY_REFUSALS.has(code)) return { result: 'FAIL', orderNo, ...subReason(d) };
  if (code === '40004' && sub !== undefined && Object.hasOwn(PAY_DECLINES, sub)) {
    const mapped = PAY_DECLINES[sub];
    return { result: 'FAIL', orderNo, ...(mapped ? reason(mapped, sub) : subReason(d)) };
  }
  return { result: 'UNKNOWN', orderNo, ...subReason(d) };
}

export function queryAnswer(d: Data, orderNo: string): QueryResponse {
  sameOrder(d, orderNo);
  const code = need(d, 'code');
  const sub = text(d, 'sub_code');
  if (code === '10000') {
    const status = need(d, 'trade_status');
    const state = Object.hasOwn(TRADE_STATUS, status) ? TRADE_STATUS[status] : undefined;
    if (!state) throw new AnswerUnreadable(`unknown trade_status ${status}`);
    return { result: 'SUCCESS', orderNo, trade: trade(d, orderNo, state, fen(d, 'total_amount')) };
  }
  // Not found may still be a pay on its way: the core keeps it unknown (acquirer-profile.ts).
  if (code === '40004' && sub === 'ACQ.TRADE_NOT_EXIST') return { result: 'FAIL', orderNo, ...reason('ORDER_NOT_FOUND', sub) };
  return { result: 'UNKNOWN', orderNo, ...subReason(d) };
}

export function cancelAnswer(d: Data, orderNo: string): ReverseResponse {
  sameOrder(d, orderNo);
  const code = need(d, 'code');
  const sub = text(d, 'sub_code');
  const retry = text(d, 'retry_flag');
  if (retry !== undefined && retry !== 'Y' && retry !== 'N') throw new AnswerUnreadable(`retry_flag ${retry}`);
  // retry_flag=Y means "call cancel again", whatever else the answer says.
  if (retry === 'Y') return { result: 'RETRY', orderNo, recall: true, ...subReason(d) };
  if (code === '10000') {
    const action = text(d, 'action');
    return { result: 'SUCCESS', orderNo, recall: false, ...(action ? { reasonMessage: `cancelled (${action})` } : {}) };
  }
  if (code === '40004' && sub === 'ACQ.TRADE_NOT_EXIST') return { result: 'FAIL', orderNo, recall: false, ...reason('ORDER_NOT_FOUND', sub) };
  if (code === '40004' && sub === 'ACQ.TRADE_CANCEL_TIME_OUT') return { result: 'FAIL', orderNo, recall: false, ...reason('REVERSE_EXPIRED', sub) };
  // System errors, balance short for a refund, anything unlisted: try again, never give up.
  return { result: 'UNKNOWN', orderNo, recall: true, ...subReason(d) };
}

export const REFUND_FAILS: Record<string, Reason | null> = {
  'ACQ.TRADE_NOT_EXIST': 'ORDER_NOT_FOUND',
  'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL': 'REFUND_EXCEEDS',
  'ACQ.REFUND_FEE_ERROR': 'REFUND_EXCEEDS',
  'ACQ.TRADE_STATUS_ERROR': 'REFUND_NOT_PAID',
  'ACQ.TRADE_NOT_ALLOWED_REFUND': null,
  'ACQ.TRADE_HAS_FINISHED': null,
  'ACQ.SELLER_BALANCE_NOT_ENOUGH': null,
  'ACQ.INVALID_PARAMETER': null,
};

export function refundAnswer(d: Data, req: { orderNo: string; refundNo: string; amount: number }): RefundResponse {
  const { orderNo, refundNo } = req;
  sameOrder(d, orderNo);
  const code = need(d, 'code');
  const sub = text(d, 'sub_code');
  if (code === '10000') {
    // refund_fee is the trade's refunded total: it covers this refund, or the answer is wrong.
    if (fen(d, 'refund_fee') < req.amount) throw new AnswerUnreadable('refund_fee is less than this refund');
    return { result: 'SUCCESS', orderNo, refundNo, refundedAmount: req.amount };
  }
  if (code === '40004' && sub !== undefined && Object.hasOwn(REFUND_FAILS, sub)) {
    const mapped = REFUND_FAILS[sub];
    return { result: 'FAIL', orderNo, refundNo, ...(mapped ? reason(mapped, sub) : subReason(d)) };
  }
  return { result: 'UNKNOWN', orderNo, refundNo, ...subReason(d) };
}
