/**
 * The outbox's delivery of a queued reversal. A reverse the acquirer refuses (too late,
 * past its window) becomes a refund of the whole amount; a refund that finds nothing paid
 * ends only once a query says the order can no longer be paid.
 */
import type { OutboxRow, PaymentRow } from '../journal/journal.ts';
import type { DeliveryResult } from '../outbox/outbox-worker.ts';
import { logCall, type EngineCore } from './engine-core.ts';
import { queryOutcome } from './outcomes.ts';
import type { PaymentActors } from './payment-actors.ts';

export class ReversalDelivery {
  readonly #c: EngineCore;
  readonly #actors: PaymentActors;

  constructor(core: EngineCore, actors: PaymentActors) {
    this.#c = core;
    this.#actors = actors;
  }

  async deliver(item: OutboxRow): Promise<DeliveryResult> {
    const { journal } = this.#c;
    const orderNo = item.order_no;
    const row = orderNo ? journal.getPayment(orderNo) : undefined;
    if (!row) return { kind: 'dead', error: `no payment ${orderNo} in the journal` };
    if (row.outcome) return { kind: 'done' };
    const outcome = await this.#c.track(this.#actors.reverseOnce(row.order_no));
    switch (outcome.kind) {
      case 'reversed':
        journal.finish(row.order_no, 'reversed', outcome.at, 'reversal delivered from the outbox');
        return { kind: 'done' };
      case 'notFound':
        if (this.#c.acquirerProfile.unseenReverseIsFinal || outcome.at >= row.code_expires_at) {
          journal.finish(row.order_no, 'reversed', outcome.at, 'the acquirer never received the payment and the code can no longer be used: not charged');
          return { kind: 'done' };
        }
        return { kind: 'retry', error: 'the acquirer has not seen the payment; a delayed one could still arrive until the code expires', notBefore: row.code_expires_at };
      case 'retry':
        return { kind: 'retry', error: outcome.reason, ...(outcome.retryAt !== undefined ? { notBefore: outcome.retryAt } : {}) };
      case 'unreachable':
        return { kind: 'retry', error: outcome.reason };
      case 'refused':
        return this.#refundInstead(row, outcome.reasonCode);
    }
  }

  async #refundInstead(row: PaymentRow, why: string): Promise<DeliveryResult> {
    const { journal, clock } = this.#c;
    const result = await this.#c.track(this.#c.acquirer.refund({ orderNo: row.order_no, refundNo: `${row.order_no}-R`.slice(-32), amount: row.amount, traceId: row.trace_id }));
    logCall(this.#c.log, 'refund', row.order_no, result);
    if (result.kind !== 'answer') return { kind: 'retry', error: `reverse refused (${why}); refund: ${result.error.code}: ${result.error.message}` };
    const b = result.body;
    if (b.result === 'SUCCESS') {
      journal.finish(row.order_no, 'reversed', clock.now(), `reverse refused (${why}): refunded in full`);
      return { kind: 'done' };
    }
    // Not paid yet is not "never paid": a customer still confirming could pay after this answer.
    if (b.reasonCode === 'REFUND_NOT_PAID' || b.reasonCode === 'ORDER_NOT_FOUND') return this.#settleUnpaid(row, why);
    if (b.result === 'UNKNOWN') return { kind: 'retry', error: 'refund outcome unknown' };
    return { kind: 'dead', error: `reverse refused (${why}) and refund failed (${b.reasonCode ?? 'FAIL'}): settle by hand` };
  }

  /** A refund-instead found nothing paid (or no order): done only once a query says the order can no longer be paid. */
  async #settleUnpaid(row: PaymentRow, why: string): Promise<DeliveryResult> {
    const result = await this.#c.track(this.#c.acquirer.query({ orderNo: row.order_no, traceId: row.trace_id }));
    logCall(this.#c.log, 'query', row.order_no, result);
    const q = queryOutcome(result, this.#c.clock.now());
    // An order left unpaid (NOTPAY) or never received, once its code expired, can no longer be paid either.
    const closed = q.kind === 'declined' || q.kind === 'reversed' || (q.kind === 'pending' && (q.reason === 'NOTPAY' || q.notFound === true) && q.at >= row.code_expires_at);
    if (closed) {
      this.#c.journal.finish(row.order_no, 'reversed', q.at, `reverse refused (${why}); the order was never paid and is closed: not charged`);
      return { kind: 'done' };
    }
    const waitForCode = q.kind === 'pending' && q.at < row.code_expires_at;
    return {
      kind: 'retry',
      error: `reverse refused (${why}); the refund found the order unpaid, the query ${q.kind === 'pending' ? q.reason : q.kind}: trying again`,
      ...(waitForCode ? { notBefore: row.code_expires_at } : {}),
    };
  }
}
