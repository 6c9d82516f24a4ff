/** Payments and refunds as a POS or a cashier sees them: never the payment code itself. */
import type { Journal, PaymentRow, PaymentState, RefundRow } from '../journal/journal.ts';
import type { Wallet } from '../payment-code.ts';
import type { PaymentContext } from './payment.machine.ts';

export interface PaymentView {
  orderNo: string;
  posOrderId: string | null;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code: string;
  traceId: string;
  state: PaymentState;
  outcome: 'paid' | 'declined' | 'reversed' | null;
  reasonCode: string | null;
  reasonMessage: string | null;
  customerPaying: boolean;
  cause: string;
  createdAt: number;
  updatedAt: number;
  finalAt: number | null;
  queryDeadlineAt: number;
  /** Minor units refunded so far (confirmed refunds only). */
  refundedAmount: number;
}

export interface RefundView {
  refundId: string;
  refundNo: string;
  orderNo: string;
  amount: number;
  state: 'pending' | 'refunded' | 'failed';
  reasonCode: string | null;
}

/** Minor units refunded from a payment: confirmed refunds, and pending ones too when asked (they may succeed). */
export function refundedAmount(journal: Journal, orderNo: string, includePending: boolean): number {
  return journal
    .refundsOf(orderNo)
    .filter((r) => r.state === 'refunded' || (includePending && r.state === 'pending'))
    .reduce((n, r) => n + r.amount, 0);
}

export function refundView(r: RefundRow): RefundView {
  return { refundId: r.pos_refund_id, refundNo: r.refund_no, orderNo: r.order_no, amount: r.amount, state: r.state, reasonCode: r.reason_code };
}

/** The row as shown; `live` is the running machine's context, when there is one (its cause and "customer paying"). */
export function paymentView(journal: Journal, row: PaymentRow, live: PaymentContext | undefined): PaymentView {
  const lastCause = live?.cause ?? journal.events(row.order_no).at(-1)?.cause ?? '';
  return {
    orderNo: row.order_no,
    posOrderId: row.pos_order_id,
    amount: row.amount,
    currency: row.currency,
    description: row.description,
    wallet: row.wallet,
    code: row.code_masked,
    traceId: row.trace_id,
    state: row.state,
    outcome: row.outcome,
    reasonCode: row.reason_code,
    reasonMessage: row.reason_message,
    customerPaying: live?.customerPaying ?? false,
    cause: lastCause,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finalAt: row.final_at,
    queryDeadlineAt: row.query_deadline_at,
    refundedAmount: row.outcome === 'paid' ? refundedAmount(journal, row.order_no, false) : 0,
  };
}
