/**
 * `POST /v1/orders` (docs/protocol.md): a terminal's orders since a time, oldest first, in
 * pages. What `scanpay recover` asks after the device lost its journal: it settles each
 * one (reverses what is open, records what is final).
 */
import type { z } from 'zod';
import type { OrderSummary, ordersRequest } from '../../agent/protocol/device-messages.ts';
import type { OrderView } from './wallet-model.ts';

export interface OrderBook {
  order(orderNo: string): OrderView | undefined;
}

/** Reads the terminal's own orders one by one (from disk), never every order of the backend. */
export function listOrders(book: OrderBook, mine: ReadonlySet<string>, req: z.output<typeof ordersRequest>): { result: 'OK'; orders: OrderSummary[]; more: boolean } {
  const all = [...mine]
    .flatMap((orderNo) => book.order(orderNo) ?? [])
    .filter((o) => o.createdAt >= req.since)
    .sort((a, b) => a.createdAt - b.createdAt || a.orderNo.localeCompare(b.orderNo));
  const start = req.after === undefined ? 0 : all.findIndex((o) => o.orderNo === req.after) + 1;
  const page = all.slice(start, start + req.limit);
  return { result: 'OK', orders: page.map(summary), more: start + page.length < all.length };
}

function summary(o: OrderView): OrderSummary {
  return {
    orderNo: o.orderNo,
    state: o.state,
    ...(o.wallet ? { wallet: o.wallet } : {}),
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    ...(o.currency ? { currency: o.currency } : {}),
    createdAt: o.createdAt,
    ...(o.paidAt !== undefined ? { paidAt: o.paidAt } : {}),
    refundedAmount: o.refunded,
    ...(o.refunds.length ? { refunds: o.refunds } : {}),
  };
}
