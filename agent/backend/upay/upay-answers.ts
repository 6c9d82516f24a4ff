/**
 * Upay v2 answers in the protocol v1 shapes, by the conventions of
 * agent/backend/acquirer-profile.ts. The outer `result_code` (200/400/500) is the request;
 * `biz_response.result_code` the business; `biz_response.data.order_status` the order.
 *
 * Where Upay's documented client logic is unsafe, scanpay's rules win:
 * - a query's UPAY_ORDER_NOT_EXISTS is "not found" (still unknown: the pay may be on its
 *   way), never "payment failed, no cancel needed" as the doc's pseudo-code reads it;
 * - a cancel's UPAY_ORDER_NOT_EXISTS is not "done" either (no tombstone);
 * - CLIENT_SN_CONFLICT on a pay means our order number already exists: query, never decline;
 * - PAY_FAIL_ERROR, PAY_ERROR, CANCEL_ERROR and REFUND_ERROR are unknown outcomes.
 */
import { REASONS, type PayResponse, type QueryResponse, type RefundResponse, type ReverseResponse, type Trade, type TradeState } from '../../protocol/messages.ts';
import type { Wallet } from '../../payment-code.ts';

export class UpayUnreadable extends Error {}

type Reason = keyof typeof REASONS;
type Data = Record<string, unknown>;

/** The request-level outcome: a business answer to read, or a refusal before any business. */
export type Envelope = { kind: 'biz'; biz: Data } | { kind: 'refused'; code: string; message: string } | { kind: 'error'; code: string; message: string };

export function envelope(json: unknown): Envelope {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UpayUnreadable('the answer is not a JSON object');
  const o = json as Data;
  const code = o.result_code;
  const message = typeof o.error_message === 'string' ? o.error_message : '';
  const errorCode = typeof o.error_code === 'string' ? o.error_code : String(code);
  if (code === '200') {
    if (typeof o.biz_response !== 'object' || o.biz_response === null) throw new UpayUnreadable('result_code 200 without biz_response');
    return { kind: 'biz', biz: o.biz_response as Data };
  }
  if (code === '400') return { kind: 'refused', code: errorCode, message };
  if (code === '500') return { kind: 'error', code: errorCode, message };
  throw new UpayUnreadable(`unknown result_code ${String(code)}`);
}

const PAY_FAILS: Record<string, Reason | null> = {
  INVALID_BARCODE: 'AUTH_CODE_INVALID',
  EXPIRED_BARCODE: 'AUTH_CODE_EXPIRED',
  INSUFFICIENT_FUND: 'NOT_ENOUGH',
  BUYER_OVER_DAILY_LIMIT: 'AMOUNT_LIMIT',
  BUYER_OVER_TRANSACTION_LIMIT: 'AMOUNT_LIMIT',
  SELLER_OVER_DAILY_LIMIT: null,
  UPAY_STORE_OVER_DAILY_LIMIT: null,
  UNEXPECTED_PROVIDER_ERROR: null,
  TRADE_FAILED: null,
  UPAY_TERMINAL_NOT_EXISTS: null,
  UPAY_TERMINAL_STATUS_ABNORMAL: null,
};

const NOT_FOUND = new Set(['UPAY_ORDER_NOT_EXISTS', 'UPAY_ORDER_NOT_EXIST']);

/** Upay's payway numbers (appendix) for the wallets scanpay knows. */
const PAYWAYS: Record<string, Wallet> = { '1': 'alipay', '2': 'alipay', '3': 'wechat', '17': 'unionpay' };

const STATES: Record<string, TradeState | null> = {
  CREATED: 'USERPAYING',
  PAID: 'SUCCESS',
  PAY_CANCELED: 'CLOSED',
  REFUNDED: 'REFUND',
  PARTIAL_REFUNDED: 'REFUND',
  REFUND_ERROR: 'SUCCESS',
  CANCELED: 'REVOKED',
  // The result is unknown to Upay itself: no trade state, the order stays unknown.
  PAY_ERROR: null,
  CANCEL_ERROR: null,
};

/** Own keys only: a payway spelled like an Object.prototype member is no wallet. */
function wallet(payway = ''): Wallet {
  return Object.hasOwn(PAYWAYS, payway) ? PAYWAYS[payway]! : 'wechat';
}

function str(d: Data, k: string): string | undefined {
  const v = d[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new UpayUnreadable(`${k} is not a string`);
  return v;
}

function cents(d: Data, k: string): number {
  const v = str(d, k);
  if (v === undefined || !/^(0|[1-9]\d{0,9})$/.test(v)) throw new UpayUnreadable(`${k} is not a whole number of cents`);
  return Number(v);
}

function reason(code: Reason, upayCode?: string) {
  return { reasonCode: code, reasonMessage: upayCode ? `${REASONS[code]} (${upayCode})` : REASONS[code] };
}

function own(biz: Data) {
  const code = str(biz, 'error_code') ?? str(biz, 'result_code') ?? 'FAIL';
  return { reasonCode: code.slice(0, 64), reasonMessage: (str(biz, 'error_message') ?? code).slice(0, 256) };
}

function dataOf(biz: Data, orderNo: string): Data | undefined {
  const d = biz.data;
  if (d === undefined || d === null) return undefined;
  if (typeof d !== 'object') throw new UpayUnreadable('data is not an object');
  const client = str(d as Data, 'client_sn');
  if (client !== undefined && client !== orderNo) throw new UpayUnreadable('the answer names another order');
  return d as Data;
}

function tradeOf(d: Data, orderNo: string, state: TradeState): Trade {
  const total = cents(d, 'total_amount');
  const net = str(d, 'net_amount') === undefined ? total : cents(d, 'net_amount');
  const finish = str(d, 'channel_finish_time') ?? str(d, 'finish_time');
  const sn = str(d, 'sn');
  return {
    orderNo,
    state,
    amount: total,
    currency: 'CNY',
    wallet: wallet(str(d, 'payway')),
    ...(sn ? { acquirerTradeNo: sn } : {}),
    ...(state === 'SUCCESS' && finish && /^\d{13}$/.test(finish) ? { paidAt: Number(finish) } : {}),
    refundedAmount: Math.max(0, total - net),
  };
}

export function payAnswer(e: Envelope, req: { orderNo: string; amount: number }): PayResponse {
  const { orderNo } = req;
  // Refused before any business (bad parameters, unknown terminal, bad signature): no order was made.
  if (e.kind === 'refused') return { result: 'FAIL', orderNo, reasonCode: e.code.slice(0, 64), reasonMessage: e.message.slice(0, 256) || e.code };
  if (e.kind === 'error') return { result: 'UNKNOWN', orderNo, reasonCode: e.code.slice(0, 64) };
  const biz = e.biz;
  const d = dataOf(biz, orderNo);
  switch (str(biz, 'result_code')) {
    case 'PAY_SUCCESS': {
      if (!d || str(d, 'order_status') !== 'PAID') throw new UpayUnreadable('PAY_SUCCESS without a paid order');
      const t = tradeOf(d, orderNo, 'SUCCESS');
      if (t.amount !== req.amount) throw new UpayUnreadable('the paid amount differs from the order');
      return { result: 'SUCCESS', orderNo, trade: t };
    }
    case 'PAY_FAIL':
    case 'FAIL': {
      const code = str(biz, 'error_code') ?? '';
      if (Object.hasOwn(PAY_FAILS, code)) {
        const mapped = PAY_FAILS[code];
        return { result: 'FAIL', orderNo, ...(mapped ? reason(mapped, code) : own(biz)) };
      }
      // CLIENT_SN_CONFLICT (our order exists), TRADE_HAS_SUCCESS and anything unlisted: the query decides.
      return { result: 'UNKNOWN', orderNo, ...own(biz) };
    }
    case 'PAY_IN_PROGRESS':
      return { result: 'USER_PAYING', orderNo };
    default:
      return { result: 'UNKNOWN', orderNo, ...own(biz) };
  }
}

export function queryAnswer(e: Envelope, orderNo: string): QueryResponse {
  if (e.kind !== 'biz') return { result: 'UNKNOWN', orderNo, reasonCode: e.code.slice(0, 64) };
  const biz = e.biz;
  const code = str(biz, 'error_code');
  if (str(biz, 'result_code') === 'FAIL' && code && NOT_FOUND.has(code)) return { result: 'FAIL', orderNo, ...reason('ORDER_NOT_FOUND', code) };
  const d = dataOf(biz, orderNo);
  if (str(biz, 'result_code') !== 'SUCCESS' || !d) return { result: 'UNKNOWN', orderNo, ...own(biz) };
  const status = str(d, 'order_status') ?? '';
  if (!Object.hasOwn(STATES, status)) throw new UpayUnreadable(`unknown order_status ${status}`);
  const state = STATES[status];
  if (!state) return { result: 'UNKNOWN', orderNo, reasonCode: status };
  return { result: 'SUCCESS', orderNo, trade: tradeOf(d, orderNo, state) };
}

export function cancelAnswer(e: Envelope, orderNo: string): ReverseResponse {
  if (e.kind !== 'biz') return { result: 'UNKNOWN', orderNo, recall: true, reasonCode: e.code.slice(0, 64) };
  const biz = e.biz;
  const code = str(biz, 'error_code') ?? '';
  switch (str(biz, 'result_code')) {
    case 'CANCEL_SUCCESS':
    case 'CANCEL_ABORT_SUCCESS':
      return { result: 'SUCCESS', orderNo, recall: false };
    case 'FAIL':
      if (NOT_FOUND.has(code)) return { result: 'FAIL', orderNo, recall: false, ...reason('ORDER_NOT_FOUND', code) };
      if (code === 'UPAY_CANCEL_ORDER_NOOP') return { result: 'SUCCESS', orderNo, recall: false, reasonMessage: 'already cancelled' };
      // Past the day of payment a paid order is refunded instead.
      if (code === 'UPAY_CANCEL_INVALID_ORDER_STATE') return { result: 'FAIL', orderNo, recall: false, ...reason('REVERSE_EXPIRED', code) };
      if (code === 'UPAY_TCP_ORDER_NOT_REFUNDABLE') return { result: 'FAIL', orderNo, recall: false, ...own(biz) };
      return { result: 'UNKNOWN', orderNo, recall: true, ...own(biz) };
    default:
      // CANCEL_ERROR, CANCEL_ABORT_ERROR: the outcome is unknown; cancel again.
      return { result: 'UNKNOWN', orderNo, recall: true, ...own(biz) };
  }
}

const REFUND_FAILS: Record<string, Reason | null> = {
  UPAY_ORDER_NOT_EXISTS: 'ORDER_NOT_FOUND',
  UPAY_ORDER_NOT_EXIST: 'ORDER_NOT_FOUND',
  REFUNDABLE_AMOUNT_NOT_ENOUGH: 'REFUND_EXCEEDS',
  REFUND_AMT_NOT_EQUAL_TOTAL: 'REFUND_EXCEEDS',
  UPAY_REFUND_INVALID_ORDER_STATE: null,
  ACCOUNT_BALANCE_NOT_ENOUGH: null,
  UPAY_TCP_ORDER_NOT_REFUNDABLE: null,
};

export function refundAnswer(e: Envelope, req: { orderNo: string; refundNo: string; amount: number }): RefundResponse {
  const { orderNo, refundNo } = req;
  if (e.kind === 'refused') return { result: 'FAIL', orderNo, refundNo, reasonCode: e.code.slice(0, 64), reasonMessage: e.message.slice(0, 256) || e.code };
  if (e.kind === 'error') return { result: 'UNKNOWN', orderNo, refundNo, reasonCode: e.code.slice(0, 64) };
  const biz = e.biz;
  const code = str(biz, 'error_code') ?? '';
  const result = str(biz, 'result_code');
  if (result === 'REFUND_SUCCESS' || (result === 'FAIL' && code === 'UPAY_REFUND_ORDER_NOOP')) return { result: 'SUCCESS', orderNo, refundNo, refundedAmount: req.amount };
  if (result === 'FAIL' && Object.hasOwn(REFUND_FAILS, code)) {
    const mapped = REFUND_FAILS[code];
    return { result: 'FAIL', orderNo, refundNo, ...(mapped ? reason(mapped, code) : own(biz)) };
  }
  return { result: 'UNKNOWN', orderNo, refundNo, ...own(biz) };
}
