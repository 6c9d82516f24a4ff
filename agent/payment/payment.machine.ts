/**
 * The life of one payment, from the moment its code is accepted to paid, declined or
 * reversed. Pure: the backend calls and the journal are actors and actions provided by
 * the engine (agent/payment/engine.ts), so tests can swap them with `.provide()`.
 *
 * The journal, not this machine, is the truth across restarts (xstate does not restore
 * `after` timers or re-entered invocations from a snapshot). A restarted payment is a new
 * actor whose input says where to resume; every actor is safe to run twice.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { PaymentState } from '../journal/journal.ts';
import { backoff } from './backoff.ts';
import { as, type PayOutcome, type QueryOutcome, type ReverseOutcome } from './outcomes.ts';
import { queryWait, type WalletProfile } from './profiles.ts';

export type ResumeAt = 'submit' | 'waitNetwork' | 'query' | 'reverse';

export interface PaymentInput {
  orderNo: string;
  profile: WalletProfile;
  codeExpiresAt: number;
  queryDeadlineAt: number;
  queriesDone: number;
  reverseAttempts: number;
  cancelRequested: boolean;
  resume: ResumeAt;
  /** Wait before the first step when resuming into a waiting state. */
  waitMs: number;
  /** The acquirer profile's rule: "no such order" on a reverse is final (a tombstone). Default true (protocol v1). */
  unseenReverseIsFinal?: boolean;
  /** When the acquirer closes the order itself if still unpaid (its profile), for the cashier's "time left"; null: never. */
  acquirerClosesAt?: number | null;
  /** [0, 1) source for the reverse backoff's jitter. */
  random?: () => number;
}

/** Query failures in our own code in a row (e.g. the journal refused a write) before the payment is reversed instead. */
export const MAX_QUERY_ERRORS = 3;

export type FinalOutcome = 'paid' | 'declined' | 'reversed' | 'reversal_queued';

export interface PaymentContext extends Omit<PaymentInput, 'unseenReverseIsFinal' | 'acquirerClosesAt' | 'random'> {
  unseenReverseIsFinal: boolean;
  acquirerClosesAt: number | null;
  random: () => number;
  queryErrors: number;
  customerPaying: boolean;
  reasonCode: string | undefined;
  reasonMessage: string | undefined;
  tradeNo: string | undefined;
  /** Why the payment is where it is, in the words of the last answer. */
  cause: string;
  outcome: FinalOutcome | undefined;
}

export type PaymentEvent = { type: 'CANCEL' };

export interface PaymentOutput {
  outcome: FinalOutcome;
  reasonCode: string | undefined;
  reasonMessage: string | undefined;
}

/** Stand-ins that fail loudly: the engine provides the real ones. */
const unprovided = <T>(name: string) =>
  fromPromise<T, { orderNo: string }>(async () => {
    throw new Error(`payment machine: actor "${name}" was not provided`);
  });

export const paymentMachine = setup({
  types: {
    input: {} as PaymentInput,
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    output: {} as PaymentOutput,
  },
  actors: {
    pay: unprovided<PayOutcome>('pay'),
    query: unprovided<QueryOutcome>('query'),
    reverse: unprovided<ReverseOutcome>('reverse'),
  },
  actions: {
    /** Provided by the engine: writes the state to the journal and tells listeners. */
    record: (_, _params: { state: PaymentState | 'reversal_queued' }) => {},
  },
  guards: {
    resumeAt: ({ context }, at: ResumeAt) => context.resume === at,
    cancelRequested: ({ context }) => context.cancelRequested,
    queryFailedTooOften: ({ context }) => context.queryErrors + 1 >= MAX_QUERY_ERRORS,
  },
  delays: {
    wait: ({ context }) => Math.max(0, context.waitMs),
  },
}).createMachine({
  id: 'payment',
  context: ({ input }) => ({
    ...input,
    unseenReverseIsFinal: input.unseenReverseIsFinal ?? true,
    acquirerClosesAt: input.acquirerClosesAt ?? null,
    random: input.random ?? Math.random,
    queryErrors: 0,
    customerPaying: false,
    reasonCode: undefined,
    reasonMessage: undefined,
    tradeNo: undefined,
    cause: 'accepted',
    outcome: undefined,
  }),
  initial: 'resume',
  output: ({ context }) => ({
    outcome: context.outcome!,
    reasonCode: context.reasonCode,
    reasonMessage: context.reasonMessage,
  }),
  states: {
    resume: {
      always: [
        { guard: { type: 'resumeAt', params: 'reverse' }, target: 'reversing' },
        { guard: 'cancelRequested', target: 'reversing' },
        { guard: { type: 'resumeAt', params: 'query' }, target: 'querying' },
        // A pay that provably never left, restarted while it waited for the network: wait out the rest.
        { guard: { type: 'resumeAt', params: 'waitNetwork' }, target: 'waitingNetwork' },
        { target: 'submitting' },
      ],
    },

    submitting: {
      entry: { type: 'record', params: { state: 'submitting' } },
      on: { CANCEL: { actions: assign({ cancelRequested: true }) } },
      invoke: {
        src: 'pay',
        input: ({ context }) => ({ orderNo: context.orderNo }),
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'declined',
            target: 'declined',
            actions: assign(({ event }) => {
              const o = as(event.output, 'declined');
              return { reasonCode: o.reasonCode, reasonMessage: o.reasonMessage, cause: `declined: ${o.reasonCode}` };
            }),
          },
          {
            guard: ({ event }) => event.output.kind === 'reversed',
            target: 'reversed',
            actions: assign({ cause: 'the backend had already reversed this order' }),
          },
          // Cancelled while the pay was on its way: whatever the customer did is undone.
          {
            guard: ({ context, event }) => context.cancelRequested && event.output.kind !== 'notSent',
            target: 'reversing',
            actions: assign({ cause: 'cancelled by the cashier' }),
          },
          {
            guard: ({ event }) => event.output.kind === 'paid',
            target: 'paid',
            actions: assign(({ event }) => ({ tradeNo: as(event.output, 'paid').tradeNo, cause: 'paid' })),
          },
          {
            guard: ({ context, event }) => event.output.kind === 'notSent' && context.cancelRequested,
            target: 'declined',
            actions: assign({ reasonCode: 'CANCELLED', reasonMessage: 'cancelled before the payment reached the backend', cause: 'cancelled' }),
          },
          {
            guard: ({ context, event }) => event.output.kind === 'notSent' && event.output.at < context.codeExpiresAt,
            target: 'waitingNetwork',
            actions: assign(({ context, event }) => ({
              waitMs: Math.min(context.profile.networkRetryMs, context.codeExpiresAt - event.output.at),
              cause: `network down: ${as(event.output, 'notSent').reason}`,
            })),
          },
          {
            guard: ({ event }) => event.output.kind === 'notSent',
            target: 'declined',
            actions: assign({
              reasonCode: 'NOT_SENT',
              reasonMessage: 'the backend could not be reached before the payment code expired; the customer was not charged',
              cause: 'network down until the code expired',
            }),
          },
          {
            guard: ({ event }) => event.output.kind === 'userPaying',
            target: 'querying',
            actions: assign(({ context }) => ({ customerPaying: true, waitMs: queryWait(context.profile, 0), cause: 'customer entering password' })),
          },
          {
            target: 'querying',
            actions: assign(({ context, event }) => ({
              waitMs: queryWait(context.profile, 0),
              cause: `outcome unknown: ${as(event.output, 'unknown').reason}`,
            })),
          },
        ],
        // The actor failed in our own code (e.g. the journal): the pay may have left, so it is unknown.
        onError: {
          target: 'querying',
          actions: assign(({ context, event }) => ({ waitMs: queryWait(context.profile, 0), cause: `outcome unknown: ${String(event.error)}` })),
        },
      },
    },

    waitingNetwork: {
      entry: { type: 'record', params: { state: 'waiting_network' } },
      on: {
        CANCEL: {
          target: 'declined',
          actions: assign({ reasonCode: 'CANCELLED', reasonMessage: 'cancelled before the payment reached the backend', cause: 'cancelled' }),
        },
      },
      after: { wait: 'submitting' },
    },

    querying: {
      entry: { type: 'record', params: { state: 'querying' } },
      on: { CANCEL: { target: 'reversing', actions: assign({ cancelRequested: true, cause: 'cancelled by the cashier' }) } },
      initial: 'waiting',
      states: {
        waiting: { after: { wait: 'asking' } },
        asking: {
          invoke: {
            src: 'query',
            input: ({ context }) => ({ orderNo: context.orderNo }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'paid',
                target: '#payment.paid',
                actions: assign(({ event }) => ({ tradeNo: as(event.output, 'paid').tradeNo, cause: 'paid (confirmed by query)' })),
              },
              {
                guard: ({ event }) => event.output.kind === 'declined',
                target: '#payment.declined',
                actions: assign(({ event }) => {
                  const o = as(event.output, 'declined');
                  return { reasonCode: o.reasonCode, reasonMessage: o.reasonMessage, cause: `declined: ${o.reasonCode}` };
                }),
              },
              { guard: ({ event }) => event.output.kind === 'reversed', target: '#payment.reversed', actions: assign({ cause: 'reversed (confirmed by query)' }) },
              {
                guard: ({ context, event }) => event.output.at >= context.queryDeadlineAt,
                target: '#payment.reversing',
                actions: assign({ cause: 'no final answer by the deadline' }),
              },
              {
                target: 'waiting',
                actions: assign(({ context, event }) => {
                  const o = as(event.output, 'pending');
                  const queriesDone = context.queriesDone + 1;
                  return {
                    queriesDone,
                    queryErrors: 0,
                    customerPaying: o.customerPaying,
                    // The schedule counts from the send: after a query the gateway held, the next may be due already.
                    waitMs: Math.min(queryWait(context.profile, queriesDone) - (o.at - (o.sentAt ?? o.at)), context.queryDeadlineAt - o.at),
                    cause: o.reason,
                  };
                }),
              },
            ],
            // Our own code failed (e.g. the journal refused a write): never loop past the deadline on it.
            onError: [
              {
                guard: 'queryFailedTooOften',
                target: '#payment.reversing',
                actions: assign(({ event }) => ({ cause: `checking failed ${MAX_QUERY_ERRORS} times in a row (${String(event.error)}): reversing` })),
              },
              {
                target: 'waiting',
                actions: assign(({ context, event }) => ({
                  queriesDone: context.queriesDone + 1,
                  queryErrors: context.queryErrors + 1,
                  waitMs: queryWait(context.profile, context.queriesDone + 1),
                  cause: `query failed: ${String(event.error)}`,
                })),
              },
            ],
          },
        },
      },
    },

    reversing: {
      entry: { type: 'record', params: { state: 'reversing' } },
      initial: 'asking',
      states: {
        asking: {
          invoke: {
            src: 'reverse',
            input: ({ context }) => ({ orderNo: context.orderNo }),
            onDone: [
              { guard: ({ event }) => event.output.kind === 'reversed', target: '#payment.reversed', actions: assign({ cause: 'reversed' }) },
              // The acquirer never saw the order: final where it leaves a tombstone, or once the code can no longer land.
              {
                guard: ({ context, event }) => event.output.kind === 'notFound' && (context.unseenReverseIsFinal || event.output.at >= context.codeExpiresAt),
                target: '#payment.reversed',
                actions: assign({ cause: 'the acquirer never received the payment and the code can no longer be used: not charged' }),
              },
              {
                guard: ({ event }) => event.output.kind === 'notFound',
                target: 'backoff',
                actions: assign(({ context, event }) => ({
                  reverseAttempts: context.reverseAttempts + 1,
                  waitMs: context.codeExpiresAt - event.output.at,
                  cause: `reversing: the acquirer has not seen the payment, but a delayed one could still arrive; asking again when the code expires, about ${seconds(context.codeExpiresAt - event.output.at)} left`,
                })),
              },
              {
                guard: ({ event }) => event.output.kind === 'retry',
                target: 'backoff',
                actions: assign(({ context, event }) => {
                  const o = as(event.output, 'retry');
                  const reverseAttempts = context.reverseAttempts + 1;
                  const p = context.profile;
                  const waitMs = o.retryAt !== undefined ? o.retryAt - o.at : backoff(reverseAttempts - 1, p.reverseRetryBaseMs, p.reverseRetryMaxMs, context.random);
                  return { reverseAttempts, waitMs, cause: retryCause(o, waitMs, context.acquirerClosesAt) };
                }),
              },
              // Unreachable or refused: the outbox owns it from here and never gives up.
              {
                target: '#payment.reversalQueued',
                actions: assign(({ event }) => ({
                  cause: event.output.kind === 'refused' ? `reverse refused (${event.output.reasonCode}): refund queued` : `backend unreachable: reversal queued`,
                })),
              },
            ],
            onError: { target: '#payment.reversalQueued', actions: assign(({ event }) => ({ cause: `reverse failed: ${String(event.error)}` })) },
          },
        },
        backoff: { after: { wait: 'asking' } },
      },
    },

    paid: { type: 'final', entry: [assign({ outcome: 'paid' }), { type: 'record', params: { state: 'paid' } }] },
    declined: { type: 'final', entry: [assign({ outcome: 'declined' }), { type: 'record', params: { state: 'declined' } }] },
    reversed: { type: 'final', entry: [assign({ outcome: 'reversed' }), { type: 'record', params: { state: 'reversed' } }] },
    reversalQueued: { type: 'final', entry: [assign({ outcome: 'reversal_queued' }), { type: 'record', params: { state: 'reversal_queued' } }] },
  },
});

export type PaymentMachine = typeof paymentMachine;

function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))} s`;
}

/** What the cashier reads while a reverse waits: why, and for how long. */
function retryCause(o: Extract<ReverseOutcome, { kind: 'retry' }>, waitMs: number, closesAt: number | null): string {
  if (o.retryAt !== undefined) return `reversing: ${o.reason}; sending in about ${seconds(waitMs)}`;
  if (o.reasonCode === 'USER_PAYING') {
    const left = closesAt !== null && closesAt > o.at ? `, about ${seconds(closesAt - o.at)} left before the acquirer closes the order` : '';
    return `reversing: the wallet refuses while the customer is paying; retrying in ${seconds(waitMs)}${left}`;
  }
  return `reversing: refused for now (${o.reason}); retrying in ${seconds(waitMs)}`;
}
