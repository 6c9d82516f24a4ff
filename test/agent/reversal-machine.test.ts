import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { ManualClock } from '../../agent/clock.ts';
import type { QueryOutcome, RefundInsteadOutcome, ReverseOutcome } from '../../agent/payment/outcomes.ts';
import { reversalMachine, type ReversalInput } from '../../agent/payment/reversal.machine.ts';

const START = 5_000_000;
const CODE_EXPIRES = START + 60_000;

/** One outbox delivery of a queued reversal, the acquirer's answers scripted. */
async function deliver(
  answers: { reverse: ReverseOutcome['kind'] | ReverseOutcome; refund?: RefundInsteadOutcome; query?: QueryOutcome },
  input: Partial<ReversalInput> = {},
) {
  const clock = new ManualClock(START);
  const calls: string[] = [];
  const recorded: Array<{ state: string; cause: string }> = [];
  const reverse: ReverseOutcome = typeof answers.reverse === 'string' ? ({ kind: answers.reverse, at: clock.now() } as ReverseOutcome) : answers.reverse;
  const machine = reversalMachine.provide({
    actors: {
      reverse: fromPromise(async () => (calls.push('reverse'), reverse)),
      refundInstead: fromPromise(async () => (calls.push('refund'), answers.refund ?? { kind: 'unknown', at: clock.now() })),
      query: fromPromise(async () => (calls.push('query'), answers.query ?? { kind: 'pending', at: clock.now(), customerPaying: false, reason: 'NOTPAY' })),
    },
    actions: { record: ({ context }, p) => void recorded.push({ state: p.state, cause: context.cause }) },
  });
  const actor = createActor(machine, { clock, input: { orderNo: 'T1-0001', codeExpiresAt: CODE_EXPIRES, unseenReverseIsFinal: true, ...input } });
  actor.start();
  const result = await toPromise(actor);
  return { result, calls, recorded, state: actor.getSnapshot().value };
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
});
