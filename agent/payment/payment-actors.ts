/**
 * The payment machine's actors: one pay, one query, one reverse. Each writes the journal
 * before its request leaves (money-safety rule 1) and turns the answer into an outcome the
 * machine reads. Safe to run twice: the same order number every time.
 */
import { reverseWindowEnd } from '../backend/acquirer-profile.ts';
import { crashPoint } from '../crash-points.ts';
import type { PaymentRow } from '../journal/journal.ts';
import { logCall, requirePayment, type EngineCore } from './engine-core.ts';
import { noteAcknowledged, noteForgotten, reverseUnlessForgotten } from './forgotten-order.ts';
import { payOutcome, queryOutcome, reverseOutcome, type PayOutcome, type QueryOutcome, type ReverseOutcome } from './outcomes.ts';

export class PaymentActors {
  readonly #c: EngineCore;

  constructor(core: EngineCore) {
    this.#c = core;
  }

  async payOnce(orderNo: string): Promise<PayOutcome> {
    const { journal, clock } = this.#c;
    const row = requirePayment(journal, orderNo);
    if (row.code === null) throw new Error('payment code already erased');
    journal.beforePayAttempt(orderNo, clock.now());
    await journal.synced();
    crashPoint('pay:after-journal');
    const result = await this.#c.acquirer.pay({
      orderNo,
      paymentCode: row.code,
      amount: row.amount,
      currency: row.currency,
      description: row.description,
      traceId: row.trace_id,
    });
    crashPoint('pay:after-answer');
    const at = clock.now();
    let outcome = payOutcome(result, at);
    // What the answer says, in the commit of the state it leads to (the machine records one
    // at once: paid, declined, querying...): lazy, the next request or "paid" syncs it first.
    journal.joinNextCommit(() => {
      journal.afterPayAttempt(orderNo, at, result.kind !== 'not_sent', `pay ${result.kind === 'answer' ? result.body.result : result.kind}`);
      if (result.kind === 'answer' && (result.body.result === 'USER_PAYING' || result.body.trade)) noteAcknowledged(this.#c, orderNo, at);
    });
    // This attempt provably did not leave, but an earlier one may have arrived.
    if (outcome.kind === 'notSent' && requirePayment(journal, orderNo).maybe_sent) {
      outcome = { kind: 'unknown', at, reason: `an earlier attempt may have arrived; ${outcome.reason}` };
    }
    logCall(this.#c.log, 'pay', orderNo, result);
    return outcome;
  }

  async queryOnce(orderNo: string): Promise<QueryOutcome> {
    const { journal, clock } = this.#c;
    const row = requirePayment(journal, orderNo);
    const sentAt = clock.now();
    journal.beforeQuery(orderNo, sentAt);
    await journal.synced();
    // Long-poll: the gateway may hold the answer until the trade changes, never past the deadline.
    const waitMs = Math.max(0, Math.min(this.#c.profileOf(row.wallet).queryWaitMs, row.query_deadline_at - sentAt));
    const result = await this.#c.acquirer.query({ orderNo, traceId: row.trace_id, ...(waitMs > 0 ? { waitMs } : {}) });
    logCall(this.#c.log, 'query', orderNo, result);
    const outcome = queryOutcome(result, clock.now());
    journal.note(orderNo, outcome.at, 'querying', `query: ${outcome.kind === 'pending' ? outcome.reason : outcome.kind}`);
    if (result.kind === 'answer' && result.body.trade) noteAcknowledged(this.#c, orderNo, outcome.at);
    // Stays unknown either way; for an acknowledged order it is also an alarm.
    if (outcome.kind === 'pending' && outcome.notFound && row.acknowledged) noteForgotten(this.#c, orderNo, outcome.at, 'query');
    return outcome.kind === 'pending' ? { ...outcome, sentAt } : outcome;
  }

  async reverseOnce(orderNo: string): Promise<ReverseOutcome> {
    const { journal, clock, acquirerProfile } = this.#c;
    const row = requirePayment(journal, orderNo);
    const early = this.#tooEarlyToReverse(row);
    if (early) return early;
    if (clock.now() >= reverseWindowEnd(acquirerProfile.reverseWindow, row.created_at)) {
      // Past the acquirer's reversal window: only a refund can undo it (the outbox does).
      return { kind: 'refused', at: clock.now(), reasonCode: 'REVERSE_EXPIRED' };
    }
    journal.beforeReverse(orderNo, clock.now());
    await journal.synced();
    crashPoint('reverse:after-journal');
    const result = await this.#c.acquirer.reverse({ orderNo, traceId: row.trace_id });
    crashPoint('reverse:after-answer');
    logCall(this.#c.log, 'reverse', orderNo, result);
    const outcome = reverseUnlessForgotten(this.#c, row, reverseOutcome(result, clock.now()));
    const said = outcome.kind === 'retry' || outcome.kind === 'unreachable' ? `${outcome.kind}: ${outcome.reason}` : outcome.kind === 'refused' ? `refused: ${outcome.reasonCode}` : outcome.kind;
    journal.note(orderNo, outcome.at, 'reversing', `reverse: ${said}`);
    return outcome;
  }

  /** When the acquirer closes this order itself if it is still unpaid (its profile), or null. */
  closesAt(row: PaymentRow): number | null {
    const after = this.#c.acquirerProfile.acquirerRevokesUnpaidAfterMs;
    return after === null ? null : (row.pay_sent_at ?? row.created_at) + after;
  }

  /** The acquirer refuses a reverse sooner than its earliest after the pay: wait for it, without asking. */
  #tooEarlyToReverse(row: PaymentRow): ReverseOutcome | undefined {
    const at = this.#c.clock.now();
    const earliest = this.#c.acquirerProfile.earliestReverseMs;
    const retryAt = (row.pay_sent_at ?? row.created_at) + earliest;
    if (!row.maybe_sent || at >= retryAt) return undefined;
    return { kind: 'retry', at, retryAt, reason: `the acquirer takes no reverse sooner than ${Math.round(earliest / 1000)} s after the payment` };
  }
}
