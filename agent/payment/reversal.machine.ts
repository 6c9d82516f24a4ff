/**
 * One delivery of a queued reversal, run by the outbox: reverse; a reverse the acquirer
 * refuses for good (past its window) becomes a refund of the whole amount; a refund that
 * finds nothing paid ends only once a query says the order can no longer be paid. Every
 * path ends in a final state whose output is the outbox's DeliveryResult: `confirmed`
 * (the payment is recorded reversed), `retrying` (with the time the acquirer's rules allow
 * the next attempt, when they name one) or `deadLetter` (needs a person).
 *
 * Pure, like the payment machine: the calls and the journal are provided by the engine
 * (agent/payment/reversal-delivery.ts). Safe to run again: same order and refund numbers.
 */
import { assign, setup } from 'xstate';
import type { DeliveryResult } from '../outbox/outbox-worker.ts';
import { answer, as, reverseGuards, type QueryOutcome, type RefundInsteadOutcome, type ReverseOutcome } from './outcomes.ts';
import { unprovided } from './unprovided.ts';

export interface ReversalInput {
  orderNo: string;
  codeExpiresAt: number;
  /** The acquirer profile's rule: "no such order" on a reverse is final (a tombstone). */
  unseenReverseIsFinal: boolean;
}

export interface ReversalContext extends ReversalInput {
  /** Why the reverse was refused, once it was (kept for the refund's and query's messages). */
  refusedWhy: string | undefined;
  /** The payment's cause when confirmed; the outbox's error otherwise. */
  cause: string;
  notBefore: number | undefined;
  /** A decline whose pay answer was lost, learnt by the settling query: the cashier's "why". */
  reasonCode: string | undefined;
  reasonMessage: string | undefined;
  result: DeliveryResult['kind'] | undefined;
}

export const reversalMachine = setup({
  types: {
    input: {} as ReversalInput,
    context: {} as ReversalContext,
    output: {} as DeliveryResult,
  },
  actors: {
    reverse: unprovided<ReverseOutcome>('reversal', 'reverse'),
    refundInstead: unprovided<RefundInsteadOutcome>('reversal', 'refundInstead'),
    query: unprovided<QueryOutcome>('reversal', 'query'),
  },
  actions: {
    /** Provided by the engine: the one writer of a payment's state (agent/payment/record.ts). */
    record: (_, _params: { state: 'reversed' }) => {},
  },
  guards: {
    ...reverseGuards,
    reverseRefused: (_, o: ReverseOutcome) => o.kind === 'refused',
    refunded: (_, o: RefundInsteadOutcome) => o.kind === 'refunded',
    nothingPaidToRefund: (_, o: RefundInsteadOutcome) => o.kind === 'notPaid',
    refundFailed: (_, o: RefundInsteadOutcome) => o.kind === 'failed',
    // An order left unpaid (NOTPAY) or never received, once its code expired, can no longer be paid either.
    orderClosedUnpaid: ({ context }, q: QueryOutcome) =>
      q.kind === 'declined' || q.kind === 'reversed' || (q.kind === 'pending' && (q.reason === 'NOTPAY' || q.notFound === true) && q.at >= context.codeExpiresAt),
  },
}).createMachine({
  id: 'reversal',
  context: ({ input }) => ({ ...input, refusedWhy: undefined, cause: '', notBefore: undefined, reasonCode: undefined, reasonMessage: undefined, result: undefined }),
  initial: 'reversing',
  output: ({ context }): DeliveryResult => {
    if (context.result === 'done') return { kind: 'done' };
    if (context.result === 'dead') return { kind: 'dead', error: context.cause };
    return { kind: 'retry', error: context.cause, ...(context.notBefore !== undefined ? { notBefore: context.notBefore } : {}) };
  },
  states: {
    reversing: {
      invoke: {
        src: 'reverse',
        input: ({ context }) => ({ orderNo: context.orderNo }),
        onDone: [
          { guard: { type: 'reverseConfirmed', params: answer }, target: 'confirmed', actions: assign({ cause: 'reversal delivered from the outbox' }) },
          {
            guard: { type: 'unseenAndCannotLand', params: answer },
            target: 'confirmed',
            actions: assign({ cause: 'the acquirer never received the payment and the code can no longer be used: not charged' }),
          },
          {
            guard: { type: 'unseenButCouldLand', params: answer },
            target: 'retrying',
            actions: assign(({ context }) => ({
              cause: 'the acquirer has not seen the payment; a delayed one could still arrive until the code expires',
              notBefore: context.codeExpiresAt,
            })),
          },
          {
            guard: { type: 'reverseRefused', params: answer },
            target: 'refundingInstead',
            actions: assign(({ event }) => ({ refusedWhy: as(event.output, 'refused').reasonCode })),
          },
          // Not now (with the acquirer's own time when it names one), or no verified answer.
          {
            target: 'retrying',
            actions: assign(({ event }) => {
              const o = event.output;
              return {
                cause: o.kind === 'retry' || o.kind === 'unreachable' ? o.reason : o.kind,
                notBefore: o.kind === 'retry' ? o.retryAt : undefined,
              };
            }),
          },
        ],
        onError: { target: 'retrying', actions: assign(({ event }) => ({ cause: errorText(event.error) })) },
      },
    },

    refundingInstead: {
      invoke: {
        src: 'refundInstead',
        input: ({ context }) => ({ orderNo: context.orderNo }),
        onDone: [
          { guard: { type: 'refunded', params: answer }, target: 'confirmed', actions: assign(({ context }) => ({ cause: `reverse refused (${context.refusedWhy}): refunded in full` })) },
          { guard: { type: 'nothingPaidToRefund', params: answer }, target: 'settlingUnpaid' },
          {
            guard: { type: 'refundFailed', params: answer },
            target: 'deadLetter',
            actions: assign(({ context, event }) => ({
              cause: `reverse refused (${context.refusedWhy}) and refund failed (${as(event.output, 'failed').reasonCode}): settle by hand`,
            })),
          },
          {
            target: 'retrying',
            actions: assign(({ context, event }) => {
              const o = event.output;
              return { cause: o.kind === 'unanswered' ? `reverse refused (${context.refusedWhy}); refund: ${o.reason}` : 'refund outcome unknown', notBefore: undefined };
            }),
          },
        ],
        onError: { target: 'retrying', actions: assign(({ event }) => ({ cause: errorText(event.error) })) },
      },
    },

    settlingUnpaid: {
      invoke: {
        src: 'query',
        input: ({ context }) => ({ orderNo: context.orderNo }),
        onDone: [
          {
            guard: { type: 'orderClosedUnpaid', params: answer },
            target: 'confirmed',
            actions: assign(({ context, event }) => {
              const q = event.output;
              return {
                cause: `reverse refused (${context.refusedWhy}); the order was never paid and is closed: not charged`,
                ...(q.kind === 'declined' ? { reasonCode: q.reasonCode, reasonMessage: q.reasonMessage } : {}),
              };
            }),
          },
          {
            target: 'retrying',
            actions: assign(({ context, event }) => {
              const q = event.output;
              return {
                cause: `reverse refused (${context.refusedWhy}); the refund found the order unpaid, the query ${q.kind === 'pending' ? q.reason : q.kind}: trying again`,
                // Still within the code's life: a customer could yet pay; ask again once it cannot.
                notBefore: q.kind === 'pending' && q.at < context.codeExpiresAt ? context.codeExpiresAt : undefined,
              };
            }),
          },
        ],
        onError: { target: 'retrying', actions: assign(({ event }) => ({ cause: errorText(event.error) })) },
      },
    },

    confirmed: { type: 'final', entry: [assign({ result: 'done' }), { type: 'record', params: { state: 'reversed' } }] },
    retrying: { type: 'final', entry: assign({ result: 'retry' }) },
    deadLetter: { type: 'final', entry: assign({ result: 'dead' }) },
  },
});

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
