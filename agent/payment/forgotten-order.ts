/**
 * An acquirer that answers "no such order" for an order it had acknowledged has lost its
 * memory (a restarted backend without its ledger), not proved the customer unpaid. The
 * agent notes every answer that names the order (`acknowledged`); a later "not found" is
 * a contradiction: an alarm (journal, log, the payment's view), the payment stays unknown,
 * and it ends only by reverse-and-confirm: a reverse sent once the payment code can no
 * longer be used, answered "reversed" or "not found".
 */
import type { PaymentRow } from '../journal/journal.ts';
import { requirePayment, type EngineCore } from './engine-core.ts';
import type { ReverseOutcome } from './outcomes.ts';

/** An answer named the order: from now on "not found" is a contradiction, not a verdict. */
export function noteAcknowledged(c: EngineCore, orderNo: string, at: number): void {
  c.journal.acknowledgeOnce(orderNo, at);
}

/** Records the contradiction once, loudly; the payment's state does not change. */
export function noteForgotten(c: EngineCore, orderNo: string, at: number, op: 'query' | 'reverse'): void {
  const row = requirePayment(c.journal, orderNo);
  if (row.contradiction_at !== null) return;
  c.journal.transition(orderNo, row.state, at, `contradiction: the acquirer had acknowledged this order, now its ${op} says it does not know it`, { contradiction_at: at });
  c.log.error({ orderNo, traceId: row.trace_id, op, code: 'BACKEND_ORDER_FORGOTTEN' }, 'the acquirer forgot an order it had acknowledged: the payment stays unknown and is reversed; needs a person');
  c.changed(orderNo);
}

/**
 * "No such order" on a reverse is final for an order the acquirer never saw (its tombstone
 * rule, or once the code can no longer land). For an acknowledged one it is not, nor is a
 * "reversed" from an acquirer that already forgot the order: the reverse is sent again once
 * the code has expired, and only that answer confirms.
 */
export function reverseUnlessForgotten(c: EngineCore, row: PaymentRow, outcome: ReverseOutcome): ReverseOutcome {
  if (!row.acknowledged) return outcome;
  // A backend that forgot the order once may forget its tombstone too: while the code can
  // still be used, its "reversed" confirms no more than its "not found".
  const doubtful = outcome.kind === 'notFound' || (outcome.kind === 'reversed' && row.contradiction_at !== null);
  if (!doubtful) return outcome;
  noteForgotten(c, row.order_no, outcome.at, 'reverse');
  if (outcome.at >= row.code_expires_at) return { kind: 'reversed', at: outcome.at };
  return {
    kind: 'retry',
    at: outcome.at,
    retryAt: row.code_expires_at,
    reason: 'the acquirer forgot this order after acknowledging it; reversing again once the payment code has expired, and only that answer confirms',
  };
}
