/**
 * The life of one payment, from the moment its code is accepted to paid, declined or
 * reversed. Pure: the backend calls and the journal are actors and actions provided by
 * the engine (agent/payment/engine.ts), so tests can swap them with `.provide()`.
 *
 * The journal, not this machine, is the truth across restarts (xstate does not restore
 * `after` timers or re-entered invocations from a snapshot). Every payment, new or found
 * unfinished after a restart, starts in `restoring`: named guards read the journal row's
 * facts and choose where it goes on. Every actor is safe to run twice.
 */
import { and, assign, or, setup } from 'xstate';
import type { PaymentState } from '../journal/journal.ts';
import { backoff } from './backoff.ts';
import { answer, as, reverseGuards, type PayOutcome, type QueryOutcome, type ReverseOutcome } from './outcomes.ts';
import { queryWait, type WalletProfile } from './profiles.ts';
import { unprovided } from './unprovided.ts';

/** What the journal row says about a payment, read when its actor starts (new or after a restart). */
export interface JournalFacts {
  state: PaymentState;
  /** A pay was handed to the network and no answer was recorded: it may have arrived. */
  payInFlight: boolean;
  /** Some pay attempt may have reached the acquirer. */
  maybeSent: boolean;
  cancelRequested: boolean;
  /** When the wait the payment was in ends (querying, waiting for the network), if it was waiting. */
  nextActionAt: number | null;
  /** When the row was last written (the wait was chosen then). */
  writtenAt: number;
  /** When these facts were read. */
  at: number;
}

export interface PaymentInput {
  orderNo: string;
  profile: WalletProfile;
  codeExpiresAt: number;
  queryDeadlineAt: number;
  queriesDone: number;
  reverseAttempts: number;
  restore: JournalFacts;
  /** The acquirer profile's rule: "no such order" on a reverse is final (a tombstone). Default true (protocol v1). */
  unseenReverseIsFinal?: boolean;
  /** When the acquirer closes the order itself if still unpaid (its profile), for the cashier's "time left"; null: never. */
  acquirerClosesAt?: number | null;
  /** [0, 1) source for the reverse backoff's jitter. */
  random?: () => number;
}

/** Query failures in our own code in a row (e.g. the journal refused a write) before the payment is reversed instead. */
export const MAX_QUERY_ERRORS = 3;

/** A restarted payment that never reached the acquirer and can no longer be sent. */
const NEVER_SENT = { reasonMessage: 'the payment never reached the backend; the customer was not charged', cause: 'recovered: never sent' };

export type FinalOutcome = 'paid' | 'declined' | 'reversed' | 'reversal_queued';

export interface PaymentContext extends Omit<PaymentInput, 'unseenReverseIsFinal' | 'acquirerClosesAt' | 'random'> {
  cancelRequested: boolean;
  /** Wait before the next step of a waiting state (querying, waiting for the network, reverse backoff). */
  waitMs: number;
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

export const paymentMachine = setup({
  types: {
    input: {} as PaymentInput,
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    output: {} as PaymentOutput,
  },
  actors: {
    pay: unprovided<PayOutcome>('payment', 'pay'),
    query: unprovided<QueryOutcome>('payment', 'query'),
    reverse: unprovided<ReverseOutcome>('payment', 'reverse'),
  },
  actions: {
    /** Provided by the engine: writes the state to the journal and tells listeners. */
    record: (_, _params: { state: PaymentState | 'reversal_queued' }) => {},
    /** Provided by the engine: a pay found in flight after a restart is recorded as possibly arrived. */
    notePayMayHaveArrived: () => {},
  },
  guards: {
    // The journal row's facts, read once in `restoring`.
    reversalWasQueued: ({ context }) => context.restore.state === 'reversal_queued',
    wasReversing: ({ context }) => context.restore.state === 'reversing',
    wasQuerying: ({ context }) => context.restore.state === 'querying',
    wasWaitingForNetwork: ({ context }) => context.restore.state === 'waiting_network',
    payWasInFlight: ({ context }) => context.restore.payInFlight,
    payMaybeSent: ({ context }) => context.restore.maybeSent,
    codeExpired: ({ context }) => context.restore.at >= context.codeExpiresAt,
    cancelRequested: ({ context }) => context.cancelRequested,
    reverseOvertakesPay: ({ context }) => context.unseenReverseIsFinal,
    // The pay's answer.
    payConfirmed: (_, o: PayOutcome) => o.kind === 'paid',
    payDeclined: (_, o: PayOutcome) => o.kind === 'declined',
    payFoundReversed: (_, o: PayOutcome) => o.kind === 'reversed',
    customerPaying: (_, o: PayOutcome) => o.kind === 'userPaying',
    notSent: (_, o: PayOutcome) => o.kind === 'notSent',
    notSentCodeStillValid: ({ context }, o: PayOutcome) => o.kind === 'notSent' && o.at < context.codeExpiresAt,
    cancelledBeforeSending: ({ context }, o: PayOutcome) => o.kind === 'notSent' && context.cancelRequested,
    // Whatever the customer did is undone: the pay may have arrived.
    cancelledAfterSending: ({ context }, o: PayOutcome) => context.cancelRequested && o.kind !== 'notSent',
    // The query's answer.
    queryPaid: (_, o: QueryOutcome) => o.kind === 'paid',
    queryDeclined: (_, o: QueryOutcome) => o.kind === 'declined',
    queryReversed: (_, o: QueryOutcome) => o.kind === 'reversed',
    queryPastDeadline: ({ context }, o: QueryOutcome) => o.at >= context.queryDeadlineAt,
    // The reverse's answer.
    ...reverseGuards,
    reverseRetryLater: (_, o: ReverseOutcome) => o.kind === 'retry',
    queryFailedTooOften: ({ context }) => context.queryErrors + 1 >= MAX_QUERY_ERRORS,
  },
  delays: {
    wait: ({ context }) => Math.max(0, context.waitMs),
  },
}).createMachine({
  id: 'payment',
  context: ({ input }) => ({
    ...input,
    cancelRequested: input.restore.cancelRequested,
    waitMs: 0,
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
  initial: 'restoring',
  output: ({ context }) => ({
    outcome: context.outcome!,
    reasonCode: context.reasonCode,
    reasonMessage: context.reasonMessage,
  }),
  states: {
    // Where the payment goes on, from the journal row alone: a new payment submits; a
    // restarted one never sends a second pay that could charge twice, never declines what
    // may have arrived, and keeps the wait it was in (`next_action_at`).
    restoring: {
      always: [
        { guard: 'reversalWasQueued', target: 'reversalQueued', actions: assign({ cause: 'recovered: the outbox holds the reversal' }) },
        { guard: 'wasReversing', target: 'reversing', actions: assign({ cause: 'recovered: reversing' }) },
        { guard: 'payWasInFlight', target: 'payMayHaveArrived' },
        {
          guard: and([or(['wasQuerying', 'payMaybeSent']), 'cancelRequested']),
          target: 'reversing',
          actions: assign({ cause: 'cancelled by the cashier' }),
        },
        { guard: 'wasQuerying', target: 'querying', actions: assign(({ context }) => ({ waitMs: waitLeft(context.restore), cause: 'recovered: checking the outcome' })) },
        { guard: 'payMaybeSent', target: 'querying', actions: assign({ waitMs: 0, cause: 'recovered: a pay may have arrived' }) },
        { guard: 'cancelRequested', target: 'declined', actions: assign({ ...NEVER_SENT, reasonCode: 'CANCELLED' }) },
        { guard: 'codeExpired', target: 'declined', actions: assign({ ...NEVER_SENT, reasonCode: 'NOT_SENT' }) },
        // A pay that provably never left, restarted while it waited for the network: wait out the rest.
        {
          guard: 'wasWaitingForNetwork',
          target: 'waitingNetwork',
          actions: assign(({ context }) => ({ waitMs: Math.min(waitLeft(context.restore), context.codeExpiresAt - context.restore.at), cause: 'recovered: waiting for the network' })),
        },
        { target: 'submitting' },
      ],
    },

    // Killed while a pay was on its way: it may have arrived, so it is checked (or undone), never resent.
    payMayHaveArrived: {
      entry: 'notePayMayHaveArrived',
      always: [
        { guard: 'cancelRequested', target: 'reversing', actions: assign({ cause: 'cancelled by the cashier' }) },
        { target: 'querying', actions: assign({ waitMs: 0, cause: 'recovered: pay may have arrived before the restart' }) },
      ],
    },

    submitting: {
      entry: { type: 'record', params: { state: 'submitting' } },
      on: {
        CANCEL: [
          // A reverse that overtakes the pay leaves a tombstone (protocol v1): the late pay is refused,
          // so the cashier's cancel is undone now, not after the pay's answer (or its timeout).
          {
            guard: 'reverseOvertakesPay',
            target: 'reversing',
            actions: assign({ cancelRequested: true, cause: 'cancelled by the cashier while the pay was on its way: reversing now' }),
          },
          { actions: assign({ cancelRequested: true, cause: "cancelled by the cashier: waiting for the pay's answer, then reversing if it may have charged" }) },
        ],
      },
      invoke: {
        src: 'pay',
        input: ({ context }) => ({ orderNo: context.orderNo }),
        onDone: [
          {
            guard: { type: 'payDeclined', params: answer },
            target: 'declined',
            actions: assign(({ event }) => {
              const o = as(event.output, 'declined');
              return { reasonCode: o.reasonCode, reasonMessage: o.reasonMessage, cause: `declined: ${o.reasonCode}` };
            }),
          },
          {
            guard: { type: 'payFoundReversed', params: answer },
            target: 'reversed',
            actions: assign({ cause: 'the backend had already reversed this order' }),
          },
          // Cancelled while the pay was on its way: whatever the customer did is undone.
          {
            guard: { type: 'cancelledAfterSending', params: answer },
            target: 'reversing',
            actions: assign({ cause: 'cancelled by the cashier' }),
          },
          {
            guard: { type: 'payConfirmed', params: answer },
            target: 'paid',
            actions: assign(({ event }) => ({ tradeNo: as(event.output, 'paid').tradeNo, cause: 'paid' })),
          },
          {
            guard: { type: 'cancelledBeforeSending', params: answer },
            target: 'declined',
            actions: assign({ reasonCode: 'CANCELLED', reasonMessage: 'cancelled before the payment reached the backend', cause: 'cancelled' }),
          },
          {
            guard: { type: 'notSentCodeStillValid', params: answer },
            target: 'waitingNetwork',
            actions: assign(({ context, event }) => ({
              waitMs: Math.min(context.profile.networkRetryMs, context.codeExpiresAt - event.output.at),
              cause: `network down: ${as(event.output, 'notSent').reason}`,
            })),
          },
          {
            guard: { type: 'notSent', params: answer },
            target: 'declined',
            actions: assign({
              reasonCode: 'NOT_SENT',
              reasonMessage: 'the backend could not be reached before the payment code expired; the customer was not charged',
              cause: 'network down until the code expired',
            }),
          },
          {
            guard: { type: 'customerPaying', params: answer },
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
                guard: { type: 'queryPaid', params: answer },
                target: '#payment.paid',
                actions: assign(({ event }) => ({ tradeNo: as(event.output, 'paid').tradeNo, cause: 'paid (confirmed by query)' })),
              },
              {
                guard: { type: 'queryDeclined', params: answer },
                target: '#payment.declined',
                actions: assign(({ event }) => {
                  const o = as(event.output, 'declined');
                  return { reasonCode: o.reasonCode, reasonMessage: o.reasonMessage, cause: `declined: ${o.reasonCode}` };
                }),
              },
              { guard: { type: 'queryReversed', params: answer }, target: '#payment.reversed', actions: assign({ cause: 'reversed (confirmed by query)' }) },
              {
                guard: { type: 'queryPastDeadline', params: answer },
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
              { guard: { type: 'reverseConfirmed', params: answer }, target: '#payment.reversed', actions: assign({ cause: 'reversed' }) },
              // The acquirer never saw the order: final where it leaves a tombstone, or once the code can no longer land.
              {
                guard: { type: 'unseenAndCannotLand', params: answer },
                target: '#payment.reversed',
                actions: assign({ cause: 'the acquirer never received the payment and the code can no longer be used: not charged' }),
              },
              {
                guard: { type: 'unseenButCouldLand', params: answer },
                target: 'backoff',
                actions: assign(({ context, event }) => ({
                  reverseAttempts: context.reverseAttempts + 1,
                  waitMs: context.codeExpiresAt - event.output.at,
                  cause: `reversing: the acquirer has not seen the payment, but a delayed one could still arrive; asking again when the code expires, about ${seconds(context.codeExpiresAt - event.output.at)} left`,
                })),
              },
              {
                guard: { type: 'reverseRetryLater', params: answer },
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

function waitLeft(f: JournalFacts): number {
  const end = f.nextActionAt ?? f.at;
  // Never longer than the wait chosen when it was written: a clock set back since would stretch it.
  return Math.max(0, Math.min(end - f.at, end - f.writtenAt));
}

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
