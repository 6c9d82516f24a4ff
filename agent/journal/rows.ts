/** The rows the journal keeps and the states a payment goes through. */
import type { Wallet } from '../payment-code.ts';

export type PaymentState =
  | 'submitting'
  | 'waiting_network'
  | 'querying'
  | 'reversing'
  | 'reversal_queued'
  | 'paid'
  | 'declined'
  | 'reversed';

export type Outcome = 'paid' | 'declined' | 'reversed';

export interface PaymentRow {
  order_no: string;
  pos_order_id: string | null;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code_hash: string;
  code_masked: string;
  code: string | null;
  trace_id: string;
  state: PaymentState;
  outcome: Outcome | null;
  reason_code: string | null;
  reason_message: string | null;
  pay_attempts: number;
  pay_in_flight: number;
  maybe_sent: number;
  query_count: number;
  reverse_attempts: number;
  cancel_requested: number;
  created_at: number;
  code_expires_at: number;
  query_deadline_at: number;
  next_action_at: number | null;
  /** When the latest pay attempt left: the acquirer's earliest-reverse and revoke rules count from it. */
  pay_sent_at: number | null;
  acquirer_trade_no: string | null;
  updated_at: number;
  final_at: number | null;
  batch_no: string | null;
  /** The POS lane that took it, so a restart gives the lane its payment back. */
  lane: string | null;
  /** 1 once an answer named the order (USER_PAYING, a query that found it): a later "not found" is a contradiction. */
  acknowledged: number;
  /** When the acquirer first said "not found" after acknowledging the order: an alarm until the payment ends. */
  contradiction_at: number | null;
}

export interface PaymentEvent {
  id: number;
  order_no: string;
  at: number;
  state: string;
  cause: string;
  detail: string | null;
}

export interface RefundRow {
  refund_no: string;
  pos_refund_id: string;
  order_no: string;
  amount: number;
  state: 'pending' | 'refunded' | 'failed';
  reason_code: string | null;
  created_at: number;
  updated_at: number;
  batch_no: string | null;
}

export interface SettlementRow {
  batch_no: string;
  closed_at: number;
  status: 'closed' | 'matched' | 'mismatch';
  settled_at: number | null;
  report: string | null;
}

export type OutboxStatus = 'pending' | 'done' | 'dead';

export interface OutboxRow {
  id: number;
  kind: string;
  order_no: string | null;
  dedupe_key: string;
  payload: string;
  status: OutboxStatus;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last_error: string | null;
  done_at: number | null;
  revived_at: number | null;
  /** Elapsed time pending, counted on the monotonic clock by running agents (never from wall-clock differences). */
  age_ms: number;
  /** When an item that is never dead-lettered on age passed its maximum age: an alarm while it waits. */
  overdue_at: number | null;
}

export interface NewPayment {
  orderNo: string;
  posOrderId?: string | undefined;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code: string;
  codeMasked: string;
  traceId: string;
  createdAt: number;
  codeExpiresAt: number;
  queryDeadlineAt: number;
  lane?: string | undefined;
}

/** Columns a state change may set besides the state itself. */
export type PaymentPatch = Partial<
  Pick<
    PaymentRow,
    | 'reason_code'
    | 'reason_message'
    | 'pay_in_flight'
    | 'maybe_sent'
    | 'cancel_requested'
    | 'next_action_at'
    | 'acquirer_trade_no'
    | 'acknowledged'
    | 'contradiction_at'
  >
>;
