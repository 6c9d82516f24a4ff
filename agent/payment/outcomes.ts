/**
 * What each backend answer means for a payment. Pure functions: the rules of
 * docs/protocol.md in one place. Anything without a verified answer is unknown, never a
 * failure (money-safety rule 2).
 */
import type { CallResult } from '../backend/acquirer.ts';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse } from '../protocol/messages.ts';

export type PayOutcome =
  | { kind: 'paid'; at: number; tradeNo?: string | undefined }
  | { kind: 'declined'; at: number; reasonCode: string; reasonMessage?: string | undefined }
  | { kind: 'reversed'; at: number; reasonCode: string }
  | { kind: 'userPaying'; at: number }
  | { kind: 'unknown'; at: number; reason: string }
  | { kind: 'notSent'; at: number; reason: string };

export type QueryOutcome =
  | { kind: 'paid'; at: number; tradeNo?: string | undefined }
  | { kind: 'declined'; at: number; reasonCode: string; reasonMessage?: string | undefined }
  | { kind: 'reversed'; at: number }
  /** `sentAt`: when the query left; the schedule counts from there, so a held query is not followed by a needless wait. */
  | { kind: 'pending'; at: number; customerPaying: boolean; reason: string; sentAt?: number; notFound?: boolean };

export type ReverseOutcome =
  | { kind: 'reversed'; at: number }
  /**
   * Not now: `reasonCode` USER_PAYING when the wallet refuses while the customer pays;
   * `retryAt` when the acquirer's rules say when it can succeed (earliest reverse).
   */
  | { kind: 'retry'; at: number; reason: string; reasonCode?: string | undefined; retryAt?: number }
  /** The acquirer has no such order: final only where its profile says so, or once the code can no longer land. */
  | { kind: 'notFound'; at: number }
  /** No verified answer: the outbox takes over and keeps trying. */
  | { kind: 'unreachable'; at: number; reason: string }
  /** A definite "cannot reverse" (too old): the outbox turns it into a refund. */
  | { kind: 'refused'; at: number; reasonCode: string };

function noAnswer(r: Exclude<CallResult<unknown>, { kind: 'answer' }>): string {
  return `${r.error.code}: ${r.error.message}`;
}

export function payOutcome(r: CallResult<PayResponse>, at: number): PayOutcome {
  if (r.kind === 'not_sent') return { kind: 'notSent', at, reason: noAnswer(r) };
  if (r.kind === 'unknown') return { kind: 'unknown', at, reason: noAnswer(r) };
  const b = r.body;
  switch (b.result) {
    case 'SUCCESS':
      return { kind: 'paid', at, tradeNo: b.trade?.acquirerTradeNo };
    case 'USER_PAYING':
      return { kind: 'userPaying', at };
    case 'UNKNOWN':
      return { kind: 'unknown', at, reason: `backend: ${b.reasonCode ?? 'UNKNOWN'}` };
    case 'FAIL':
      // A repeated pay can meet its own order already settled one way or the other.
      if (b.reasonCode === 'ORDER_PAID') return { kind: 'paid', at, tradeNo: b.trade?.acquirerTradeNo };
      if (b.reasonCode === 'ORDER_REVERSED') return { kind: 'reversed', at, reasonCode: b.reasonCode };
      return { kind: 'declined', at, reasonCode: b.reasonCode ?? 'DECLINED', reasonMessage: b.reasonMessage };
  }
}

export function queryOutcome(r: CallResult<QueryResponse>, at: number): QueryOutcome {
  if (r.kind !== 'answer') return { kind: 'pending', at, customerPaying: false, reason: noAnswer(r) };
  const b = r.body;
  // A reverse that arrived before the pay leaves a tombstone with no trade details.
  if (b.reasonCode === 'ORDER_REVERSED') return { kind: 'reversed', at };
  if (b.result !== 'SUCCESS' || !b.trade) {
    // ORDER_NOT_FOUND included: the pay may still be on its way.
    return { kind: 'pending', at, customerPaying: false, reason: `query ${b.result}${b.reasonCode ? ` ${b.reasonCode}` : ''}`, ...(b.reasonCode === 'ORDER_NOT_FOUND' ? { notFound: true } : {}) };
  }
  switch (b.trade.state) {
    case 'SUCCESS':
    case 'REFUND':
      return { kind: 'paid', at, tradeNo: b.trade.acquirerTradeNo };
    case 'REVOKED':
      return { kind: 'reversed', at };
    case 'CLOSED':
      return { kind: 'declined', at, reasonCode: 'ORDER_CLOSED' };
    case 'PAYERROR':
      return { kind: 'declined', at, reasonCode: b.reasonCode ?? 'PAYERROR', reasonMessage: b.reasonMessage };
    case 'USERPAYING':
      return { kind: 'pending', at, customerPaying: true, reason: 'USERPAYING' };
    case 'NOTPAY':
      return { kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' };
  }
}

export function reverseOutcome(r: CallResult<ReverseResponse>, at: number): ReverseOutcome {
  if (r.kind !== 'answer') return { kind: 'unreachable', at, reason: noAnswer(r) };
  const b = r.body;
  switch (b.result) {
    case 'SUCCESS':
      return { kind: 'reversed', at };
    case 'RETRY':
    case 'UNKNOWN':
      return { kind: 'retry', at, reason: `${b.result}${b.reasonCode ? ` ${b.reasonCode}` : ''}`, reasonCode: b.reasonCode };
    case 'FAIL':
      if (b.reasonCode === 'ORDER_NOT_FOUND') return { kind: 'notFound', at };
      return { kind: 'refused', at, reasonCode: b.reasonCode ?? 'REVERSE_FAILED' };
  }
}

type Kinded = { kind: string };

/** The outcome as its kind, for a transition already guarded on that kind (no casts in the machine). */
export function as<T extends Kinded, K extends T['kind']>(o: T, kind: K): Extract<T, { kind: K }> {
  if (o.kind !== kind) throw new Error(`expected a ${kind} outcome, got ${o.kind}`);
  return o as Extract<T, { kind: K }>;
}

/**
 * What a refund sent instead of a refused reverse said: the whole amount refunded, nothing
 * paid to refund (which is not "never paid"), a definite failure, or no verified answer.
 */
export type RefundInsteadOutcome =
  | { kind: 'refunded'; at: number }
  | { kind: 'notPaid'; at: number }
  | { kind: 'failed'; at: number; reasonCode: string }
  /** Answered UNKNOWN: asked again later, same refund number. */
  | { kind: 'unknown'; at: number }
  | { kind: 'unanswered'; at: number; reason: string };

export function refundInsteadOutcome(r: CallResult<RefundResponse>, at: number): RefundInsteadOutcome {
  if (r.kind !== 'answer') return { kind: 'unanswered', at, reason: noAnswer(r) };
  const b = r.body;
  if (b.result === 'SUCCESS') return { kind: 'refunded', at };
  // Not paid yet is not "never paid": a customer still confirming could pay after this answer.
  if (b.reasonCode === 'REFUND_NOT_PAID' || b.reasonCode === 'ORDER_NOT_FOUND') return { kind: 'notPaid', at };
  if (b.result === 'UNKNOWN') return { kind: 'unknown', at };
  return { kind: 'failed', at, reasonCode: b.reasonCode ?? 'FAIL' };
}

/** Guard params: the output of the actor that just finished, typed (`{ type: 'guardName', params: answer }`). */
export function answer<T>({ event }: { event: { output: T } }): T {
  return event.output;
}

/** A reverse's answer as named guards, the same in the payment machine and the reversal machine. */
export const reverseGuards = {
  reverseConfirmed: (_: unknown, o: ReverseOutcome) => o.kind === 'reversed',
  // The acquirer never saw the order: final where it leaves a tombstone, or once the code can no longer land.
  unseenAndCannotLand: ({ context }: { context: { unseenReverseIsFinal: boolean; codeExpiresAt: number } }, o: ReverseOutcome) =>
    o.kind === 'notFound' && (context.unseenReverseIsFinal || o.at >= context.codeExpiresAt),
  unseenButCouldLand: (_: unknown, o: ReverseOutcome) => o.kind === 'notFound',
};
