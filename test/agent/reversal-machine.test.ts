import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { ManualClock } from '../../agent/clock.ts';
import type { QueryOutcome, RefundInsteadOutcome, ReverseOutcome } from '../../agent/payment/outcomes.ts';
import { reversalMachine, type ReversalInput } from '../../agent/payment/reversal.machine.ts';

const START = 5_000_000;
const CODE_EXPIRES = START + 60_000;

/** One outbox delivery of a queued reversal, the acquirer's answers scripted. */
async function deliver(
  answers: { reverse: ReverseOutcome['kind'] | ReverseOutcome | Error | string; refund?: RefundInsteadOutcome | Error; query?: QueryOutcome | Error },
  input: Partial<ReversalInput> = {},
) {
  const clock = new ManualClock(START);
  const calls: string[] = [];
  const orderNos: string[] = [];
  const recorded: Array<{ state: string; cause: string; reasonCode?: string; reasonMessage?: string }> = [];
  // A string that names no outcome is thrown as it is (a non-Error failure of our own code).
  const reverse = typeof answers.reverse === 'string' && !answers.reverse.startsWith('!') ? ({ kind: answers.reverse, at: clock.now() } as ReverseOutcome) : answers.reverse;
  const reply = async <T>(op: string, orderNo: string, answer: T | Error | string): Promise<T> => {
    calls.push(op);
    orderNos.push(orderNo);
    if (answer instanceof Error || typeof answer === 'string') throw answer;
    return answer;
  };
  const machine = reversalMachine.provide({
    actors: {
      reverse: fromPromise<ReverseOutcome, { orderNo: string }>(({ input }) => reply('reverse', input.orderNo, reverse)),
      refundInstead: fromPromise<RefundInsteadOutcome, { orderNo: string }>(({ input }) => reply('refund', input.orderNo, answers.refund ?? { kind: 'unknown', at: clock.now() })),
      query: fromPromise<QueryOutcome, { orderNo: string }>(({ input }) =>
        reply('query', input.orderNo, answers.query ?? { kind: 'pending', at: clock.now(), customerPaying: false, reason: 'NOTPAY' }),
      ),
    },
    actions: {
      record: ({ context }, p) =>
        void recorded.push({
          state: p.state,
          cause: context.cause,
          ...(context.reasonCode !== undefined ? { reasonCode: context.reasonCode } : {}),
          ...(context.reasonMessage !== undefined ? { reasonMessage: context.reasonMessage } : {}),
        }),
    },
  });
  const actor = createActor(machine, { clock, input: { orderNo: 'T1-0001', codeExpiresAt: CODE_EXPIRES, unseenReverseIsFinal: true, ...input } });
  actor.start();
  const result = await toPromise(actor);
  return { result, calls, orderNos, recorded, state: actor.getSnapshot().value };
}

describe('reversal machine (one outbox delivery)', () => {
  it('a confirmed reverse records the payment reversed and the item done', async () => {
    const d = await deliver({ reverse: 'reversed' });
    expect(d.result).toEqual({ kind: 'done' });
    expect(d.recorded).toEqual([{ state: 'reversed', cause: 'reversal delivered from the outbox' }]);
    expect(d.state).toBe('confirmed');
  });

  it('"not now" retries at the time the acquirer names, and records nothing', async () => {
    const d = await deliver({ reverse: { kind: 'retry', at: START, retryAt: START + 14_000, reason: 'too early' } });
    expect(d.result).toEqual({ kind: 'retry', error: 'too early', notBefore: START + 14_000 });
    expect(d.recorded).toEqual([]);
  });

  it('no verified answer retries on the outbox backoff', async () => {
    const d = await deliver({ reverse: { kind: 'unreachable', at: START, reason: 'ECONNREFUSED' } });
    expect(d.result).toEqual({ kind: 'retry', error: 'ECONNREFUSED' });
  });

  it('"no such order" is final where the acquirer leaves a tombstone, else waits until the code expires', async () => {
    expect((await deliver({ reverse: 'notFound' })).result).toEqual({ kind: 'done' });
    const d = await deliver({ reverse: 'notFound' }, { unseenReverseIsFinal: false });
    expect(d.result).toMatchObject({ kind: 'retry', notBefore: CODE_EXPIRES });
    expect(d.recorded).toEqual([]);
  });

  it('a refused reverse becomes a full refund; a refund confirmed ends it reversed', async () => {
    const d = await deliver({ reverse: { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' }, refund: { kind: 'refunded', at: START } });
    expect(d.calls).toEqual(['reverse', 'refund']);
    expect(d.result).toEqual({ kind: 'done' });
    expect(d.recorded).toEqual([{ state: 'reversed', cause: 'reverse refused (REVERSE_EXPIRED): refunded in full' }]);
  });

  it('a refund that finds nothing paid asks whether the order can still be paid: not before the code expires', async () => {
    const refused: ReverseOutcome = { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' };
    const open = await deliver({ reverse: refused, refund: { kind: 'notPaid', at: START }, query: { kind: 'pending', at: START, customerPaying: false, reason: 'NOTPAY' } });
    expect(open.calls).toEqual(['reverse', 'refund', 'query']);
    expect(open.result).toMatchObject({ kind: 'retry', notBefore: CODE_EXPIRES });
    expect(open.recorded).toEqual([]);
    const closed = await deliver({ reverse: refused, refund: { kind: 'notPaid', at: START }, query: { kind: 'pending', at: CODE_EXPIRES, customerPaying: false, reason: 'NOTPAY' } });
    expect(closed.result).toEqual({ kind: 'done' });
    expect(closed.recorded[0]!.cause).toMatch(/never paid and is closed/);
  });

  it('a refund refused for good is a dead letter for a person; an unknown one is retried', async () => {
    const refused: ReverseOutcome = { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' };
    const dead = await deliver({ reverse: refused, refund: { kind: 'failed', at: START, reasonCode: 'REFUND_REJECTED' } });
    expect(dead.result).toEqual({ kind: 'dead', error: 'reverse refused (REVERSE_EXPIRED) and refund failed (REFUND_REJECTED): settle by hand' });
    expect(dead.recorded).toEqual([]);
    expect((await deliver({ reverse: refused, refund: { kind: 'unknown', at: START } })).result).toEqual({ kind: 'retry', error: 'refund outcome unknown' });
    expect((await deliver({ reverse: refused, refund: { kind: 'unanswered', at: START, reason: 'NET_TIMEOUT: x' } })).result).toEqual({
      kind: 'retry',
      error: 'reverse refused (REVERSE_EXPIRED); refund: NET_TIMEOUT: x',
    });
  });

  it('every call names the order being reversed', async () => {
    const refused: ReverseOutcome = { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' };
    const d = await deliver({ reverse: refused, refund: { kind: 'notPaid', at: START } }, { orderNo: 'T9-0042' });
    expect(d.calls).toEqual(['reverse', 'refund', 'query']);
    expect(d.orderNos).toEqual(['T9-0042', 'T9-0042', 'T9-0042']);
  });

  it('without a tombstone, "no such order" once the code has expired is final: the payment can no longer land', async () => {
    const d = await deliver({ reverse: { kind: 'notFound', at: CODE_EXPIRES } }, { unseenReverseIsFinal: false });
    expect(d.result).toEqual({ kind: 'done' });
    expect(d.recorded).toEqual([{ state: 'reversed', cause: 'the acquirer never received the payment and the code can no longer be used: not charged' }]);
  });

  it('a failure in our own code at any step is retried with its message, nothing recorded', async () => {
    const refused: ReverseOutcome = { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' };
    const cases = [
      await deliver({ reverse: new Error('JOURNAL_WRITE_FAILED: disk full') }),
      await deliver({ reverse: refused, refund: new Error('JOURNAL_WRITE_FAILED: disk full') }),
      await deliver({ reverse: refused, refund: { kind: 'notPaid', at: START }, query: new Error('JOURNAL_WRITE_FAILED: disk full') }),
    ];
    for (const d of cases) {
      expect(d.result).toEqual({ kind: 'retry', error: 'JOURNAL_WRITE_FAILED: disk full' });
      expect(d.recorded).toEqual([]);
    }
    expect((await deliver({ reverse: '!not an Error' })).result).toEqual({ kind: 'retry', error: '!not an Error' });
  });

  describe('a refund that found nothing paid: the query decides', () => {
    const refused: ReverseOutcome = { kind: 'refused', at: START, reasonCode: 'REVERSE_EXPIRED' };
    const settle = (query: QueryOutcome) => deliver({ reverse: refused, refund: { kind: 'notPaid', at: START }, query });

    it('a decline closes it, and its reason reaches the payment', async () => {
      const d = await settle({ kind: 'declined', at: START, reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' });
      expect(d.result).toEqual({ kind: 'done' });
      expect(d.recorded).toEqual([
        { state: 'reversed', cause: 'reverse refused (REVERSE_EXPIRED); the order was never paid and is closed: not charged', reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' },
      ]);
    });

    it('a reversed order closes it, with no decline reason', async () => {
      const d = await settle({ kind: 'reversed', at: START });
      expect(d.result).toEqual({ kind: 'done' });
      expect(d.recorded).toEqual([{ state: 'reversed', cause: 'reverse refused (REVERSE_EXPIRED); the order was never paid and is closed: not charged' }]);
    });

    it('"not found" closes it only once the code has expired', async () => {
      expect((await settle({ kind: 'pending', at: CODE_EXPIRES, customerPaying: false, reason: 'query FAIL ORDER_NOT_FOUND', notFound: true })).result).toEqual({ kind: 'done' });
      expect((await settle({ kind: 'pending', at: CODE_EXPIRES - 1, customerPaying: false, reason: 'query FAIL ORDER_NOT_FOUND', notFound: true })).result).toEqual({
        kind: 'retry',
        error: 'reverse refused (REVERSE_EXPIRED); the refund found the order unpaid, the query query FAIL ORDER_NOT_FOUND: trying again',
        notBefore: CODE_EXPIRES,
      });
    });

    it('a customer still paying is never closed, even past the code expiry; retried on the outbox backoff', async () => {
      const d = await settle({ kind: 'pending', at: CODE_EXPIRES + 1, customerPaying: true, reason: 'USERPAYING' });
      expect(d.result).toEqual({ kind: 'retry', error: 'reverse refused (REVERSE_EXPIRED); the refund found the order unpaid, the query USERPAYING: trying again' });
      expect(d.recorded).toEqual([]);
    });

    it('a query that says paid contradicts the refund: never confirmed, retried', async () => {
      const d = await settle({ kind: 'paid', at: START });
      expect(d.result).toEqual({ kind: 'retry', error: 'reverse refused (REVERSE_EXPIRED); the refund found the order unpaid, the query paid: trying again' });
      expect(d.recorded).toEqual([]);
    });
  });
});
