/**
 * A payment as the POS sees it, from the first moment (waiting for the customer's code,
 * known only to the lane) to the end (paid, declined, not charged), with the words a POS
 * or a cashier's screen shows for each state. One shape for the API, the event stream and
 * the command line, so that they never disagree.
 */
import type { PaymentView } from './payment/engine.ts';
import type { Alarm } from './payment/payment-alarms.ts';

export type PosState = 'waiting_scan' | 'cancelled' | PaymentView['state'];

/**
 * What the POS needs to decide: `paid`; `declined` (the wallet refused, with a reason);
 * `not_charged` (cancelled, timed out, never sent or reversed: the customer owes nothing
 * and nothing was taken).
 */
export type PosResult = 'paid' | 'declined' | 'not_charged';

export interface PosPayment {
  /** The POS's order id: the resource id of the API. */
  id: string;
  /** The acquirer order number, once the code was scanned. */
  orderNo: string | null;
  lane: string | null;
  amount: number;
  currency: string;
  description: string;
  state: PosState;
  /** The words to show, e.g. "customer entering password". */
  status: string;
  result: PosResult | null;
  reasonCode: string | null;
  reasonMessage: string | null;
  /** A scan refused while waiting (product barcode, card number, reused code); the lane keeps waiting. */
  rejection: { code: string; message: string } | null;
  wallet: string | null;
  /** Masked payment code. */
  code: string | null;
  traceId: string | null;
  customerPaying: boolean;
  createdAt: number;
  updatedAt: number;
  finalAt: number | null;
  /** When the current wait ends: the scan deadline, or the last query before a reversal. */
  deadlineAt: number | null;
  refundedAmount: number;
  /** The device's own faults touching this payment (storage full, a forgetful acquirer, an overdue reversal), each with a code and cashier words. */
  alarms: Alarm[];
}

/** Reasons the engine records for a payment that never reached the backend: not a decline by the wallet. */
const NEVER_SENT = new Set(['CANCELLED', 'NOT_SENT']);

export function resultOf(v: Pick<PaymentView, 'outcome' | 'reasonCode'>): PosResult | null {
  switch (v.outcome) {
    case 'paid':
      return 'paid';
    case 'declined':
      return v.reasonCode && NEVER_SENT.has(v.reasonCode) ? 'not_charged' : 'declined';
    case 'reversed':
      return 'not_charged';
    default:
      return null;
  }
}

export function statusWords(p: Pick<PosPayment, 'state' | 'result' | 'customerPaying' | 'reasonCode' | 'reasonMessage' | 'rejection' | 'alarms'>): string {
  const words = progressWords(p);
  // An alarm comes first: what the cashier must know now (e.g. the result cannot be saved).
  return p.alarms.length > 0 ? `${p.alarms.map((a) => a.message).join(' ')} (${words})` : words;
}

function progressWords(p: Pick<PosPayment, 'state' | 'result' | 'customerPaying' | 'reasonCode' | 'reasonMessage' | 'rejection'>): string {
  if (p.result === 'paid') return 'paid';
  if (p.result === 'declined') return `declined: ${p.reasonMessage ?? p.reasonCode ?? 'no reason given'}`;
  if (p.result === 'not_charged') return p.reasonMessage ? `not charged: ${p.reasonMessage}` : 'not charged';
  switch (p.state) {
    case 'waiting_scan':
      return p.rejection ? `code rejected: ${p.rejection.message}; waiting for scan` : 'waiting for scan';
    case 'submitting':
      return 'submitting';
    case 'waiting_network':
      return 'submitting: waiting for the network';
    case 'querying':
      return p.customerPaying ? 'customer entering password' : 'checking result';
    case 'reversing':
      return 'reversing';
    case 'reversal_queued':
      return 'reversal queued: the customer will not be charged';
    default:
      return p.state;
  }
}

/** The POS view of a payment the engine holds. */
export function fromEngine(v: PaymentView): PosPayment {
  const base = {
    id: v.posOrderId ?? v.orderNo,
    orderNo: v.orderNo,
    lane: v.lane,
    amount: v.amount,
    currency: v.currency,
    description: v.description,
    state: v.state,
    result: resultOf(v),
    reasonCode: v.reasonCode,
    reasonMessage: v.reasonMessage,
    rejection: null,
    wallet: v.wallet,
    code: v.code,
    traceId: v.traceId,
    customerPaying: v.customerPaying && v.outcome === null,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
    finalAt: v.finalAt,
    deadlineAt: v.outcome === null && v.state === 'querying' ? v.queryDeadlineAt : null,
    refundedAmount: v.refundedAmount,
    alarms: v.alarms,
  };
  // While a reverse waits, the machine says why and for how long ("the wallet refuses while the customer is paying; retrying in 4 s, about 20 s left").
  const waitingReverse = v.outcome === null && v.state === 'reversing' && v.cause.startsWith('reversing: ');
  return { ...base, status: waitingReverse ? v.cause : statusWords(base) };
}
