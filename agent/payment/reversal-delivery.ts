/**
 * The outbox's delivery of a queued reversal: binds the reversal machine
 * (reversal.machine.ts) to the acquirer and the journal, runs it once, and hands its final
 * state to the outbox as the delivery's result.
 */
import { createActor, fromPromise, toPromise } from 'xstate';
import type { OutboxRow } from '../journal/journal.ts';
import type { DeliveryResult } from '../outbox/outbox-worker.ts';
import { logCall, requirePayment, type EngineCore } from './engine-core.ts';
import { queryOutcome, refundInsteadOutcome, type QueryOutcome, type RefundInsteadOutcome, type ReverseOutcome } from './outcomes.ts';
import type { PaymentActors } from './payment-actors.ts';
import type { PaymentRecorder } from './record.ts';
import { reversalMachine } from './reversal.machine.ts';

export class ReversalDelivery {
  readonly #c: EngineCore;
  readonly #machine;

  constructor(core: EngineCore, actors: PaymentActors, recorder: PaymentRecorder) {
    this.#c = core;
    const { journal, acquirer, clock, log } = core;
    this.#machine = reversalMachine.provide({
      actors: {
        reverse: fromPromise<ReverseOutcome, { orderNo: string }>(({ input }) => core.track(actors.reverseOnce(input.orderNo))),
        refundInstead: fromPromise<RefundInsteadOutcome, { orderNo: string }>(async ({ input }) => {
          const row = requirePayment(journal, input.orderNo);
          // One refund number per order: a refund retried after a lost answer is the same refund.
          const result = await core.track(acquirer.refund({ orderNo: row.order_no, refundNo: `${row.order_no}-R`.slice(-32), amount: row.amount, traceId: row.trace_id }));
          logCall(log, 'refund', row.order_no, result);
          return refundInsteadOutcome(result, clock.now());
        }),
        query: fromPromise<QueryOutcome, { orderNo: string }>(async ({ input }) => {
          const row = requirePayment(journal, input.orderNo);
          const result = await core.track(acquirer.query({ orderNo: row.order_no, traceId: row.trace_id }));
          logCall(log, 'query', row.order_no, result);
          return queryOutcome(result, clock.now());
        }),
      },
      actions: {
        record: ({ context }, params) => recorder.record(context.orderNo, params.state, { cause: context.cause, reasonCode: context.reasonCode, reasonMessage: context.reasonMessage }),
      },
    });
  }

  async deliver(item: OutboxRow): Promise<DeliveryResult> {
    const orderNo = item.order_no;
    const row = orderNo ? this.#c.journal.getPayment(orderNo) : undefined;
    if (!row) return { kind: 'dead', error: `no payment ${orderNo} in the journal` };
    if (row.outcome) return { kind: 'done' };
    const actor = createActor(this.#machine, {
      clock: this.#c.clock,
      input: { orderNo: row.order_no, codeExpiresAt: row.code_expires_at, unseenReverseIsFinal: this.#c.acquirerProfile.unseenReverseIsFinal },
    });
    actor.start();
    return toPromise(actor);
  }
}
