/**
 * Protocol v1 message shapes (docs/protocol.md), as schemas both sides validate with.
 * A body that fails its schema is, for the agent, no answer at all.
 */
import * as z from 'zod';
import { lazySchema } from './lazy-schema.ts';

export const PROTOCOL_VERSION = 1;

export const PATHS = {
  pay: '/v1/pay',
  query: '/v1/query',
  reverse: '/v1/reverse',
  refund: '/v1/refund',
} as const;

export type Operation = keyof typeof PATHS;

const orderNo = lazySchema(() => z.string().regex(/^[A-Za-z0-9_-]{6,32}$/, 'order numbers are 6–32 characters of A–Z, a–z, 0–9, _ and -'));
const minorUnits = lazySchema(() => z.number().int().positive().max(Number.MAX_SAFE_INTEGER));
const currency = lazySchema(() => z.string().regex(/^[A-Z]{3}$/));

export const TRADE_STATES = ['SUCCESS', 'NOTPAY', 'USERPAYING', 'CLOSED', 'REVOKED', 'REFUND', 'PAYERROR'] as const;
export type TradeState = (typeof TRADE_STATES)[number];

export const trade = lazySchema(() => z.object({
  orderNo,
  state: z.enum(TRADE_STATES),
  amount: minorUnits,
  currency,
  wallet: z.enum(['wechat', 'alipay', 'unionpay', 'ecny']),
  acquirerTradeNo: z.string().optional(),
  paidAt: z.number().int().optional(),
  refundedAmount: z.number().int().nonnegative().default(0),
}));
export type Trade = z.infer<typeof trade>;

const reason = {
  reasonCode: z.string().max(64).optional(),
  reasonMessage: z.string().max(256).optional(),
};

export const payRequest = lazySchema(() => z.object({
  orderNo,
  paymentCode: z.string().min(1).max(64),
  amount: minorUnits,
  currency,
  description: z.string().max(128).default(''),
  traceId: z.string().max(64).optional(),
}));
export type PayRequest = z.input<typeof payRequest>;

export const payResponse = lazySchema(() => z.object({
  result: z.enum(['SUCCESS', 'USER_PAYING', 'FAIL', 'UNKNOWN']),
  orderNo,
  trade: trade.optional(),
  ...reason,
}));
export type PayResponse = z.infer<typeof payResponse>;

/** Longest a terminal may ask the gateway to hold a query (docs/protocol.md, long-poll). */
export const MAX_QUERY_WAIT_MS = 25_000;

/**
 * `waitMs` asks the gateway to hold the answer until the trade leaves USERPAYING/NOTPAY or
 * that long has passed. Optional both ways: a gateway that ignores it answers at once.
 */
export const queryRequest = lazySchema(() => z.object({ orderNo, traceId: z.string().max(64).optional(), waitMs: z.number().int().min(0).max(MAX_QUERY_WAIT_MS).optional() }));
export type QueryRequest = z.input<typeof queryRequest>;

/** `result` says whether the query itself worked; the order's state is `trade.state`. */
export const queryResponse = lazySchema(() => z.object({
  result: z.enum(['SUCCESS', 'FAIL', 'UNKNOWN']),
  orderNo,
  trade: trade.optional(),
  ...reason,
}));
export type QueryResponse = z.infer<typeof queryResponse>;

export const reverseRequest = lazySchema(() => z.object({ orderNo, traceId: z.string().max(64).optional() }));
export type ReverseRequest = z.input<typeof reverseRequest>;

export const reverseResponse = lazySchema(() => z.object({
  result: z.enum(['SUCCESS', 'RETRY', 'FAIL', 'UNKNOWN']),
  orderNo,
  /** WeChat's `recall`, Alipay's `retry_flag`: true means "call reverse again". */
  recall: z.boolean(),
  trade: trade.optional(),
  ...reason,
}));
export type ReverseResponse = z.infer<typeof reverseResponse>;

export const refundRequest = lazySchema(() => z.object({
  orderNo,
  refundNo: orderNo,
  amount: minorUnits,
  traceId: z.string().max(64).optional(),
}));
export type RefundRequest = z.input<typeof refundRequest>;

export const refundResponse = lazySchema(() => z.object({
  result: z.enum(['SUCCESS', 'FAIL', 'UNKNOWN']),
  orderNo,
  refundNo: orderNo,
  refundedAmount: z.number().int().nonnegative().optional(),
  trade: trade.optional(),
  ...reason,
}));
export type RefundResponse = z.infer<typeof refundResponse>;

/** Body of a non-200 answer: a protocol-level refusal, never a business outcome. */
export const errorResponse = lazySchema(() => z.object({ error: z.object({ code: z.string(), message: z.string() }) }));

export const REQUEST_SCHEMAS = { pay: payRequest, query: queryRequest, reverse: reverseRequest, refund: refundRequest } as const;
export const RESPONSE_SCHEMAS = { pay: payResponse, query: queryResponse, reverse: reverseResponse, refund: refundResponse } as const;

/** Definite-failure reason codes. Anything else in a FAIL is still a definite failure. */
export const REASONS = {
  AUTH_CODE_EXPIRED: 'the payment code has expired: ask the customer to refresh it',
  AUTH_CODE_INVALID: 'the payment code is not valid',
  AUTH_CODE_USED: 'the payment code was already used',
  NOT_ENOUGH: 'insufficient funds',
  ORDER_NO_USED: 'the order number was used with other details',
  ORDER_PAID: 'the order is already paid',
  ORDER_CLOSED: 'the order is closed',
  ORDER_REVERSED: 'the order was reversed',
  ORDER_NOT_FOUND: 'no such order',
  REVERSE_EXPIRED: 'the order is too old to reverse: refund it instead',
  REFUND_EXCEEDS: 'the refund exceeds what was paid',
  REFUND_NOT_PAID: 'the order was not paid, nothing to refund',
  AMOUNT_LIMIT: 'the amount exceeds the customer’s limit',
} as const;
