import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { ManualClock } from '../../agent/clock.ts';
import type { PayOutcome, QueryOutcome, ReverseOutcome } from '../../agent/payment/outcomes.ts';
import type { PaymentState } from '../../agent/journal/journal.ts';
import { MAX_QUERY_ERRORS, paymentMachine, type JournalFacts, type PaymentInput } from '../../agent/payment/payment.machine.ts';
import { DEFAULT_PROFILES } from '../../agent/payment/profiles.ts';

type Step<T> = (at: number) => T;

const START = 1_000_000;

/** The journal row's facts as the engine reads them; by default a payment just accepted. */
function facts(state: PaymentState = 'submitting', more: Partial<JournalFacts> = {}): JournalFacts {
  return { state, payInFlight: false, maybeSent: state !== 'submitting' && state !== 'waiting_network', cancelRequested: false, nextActionAt: null, writtenAt: START, at: START, ...more };
}

/** A machine whose backend answers from scripts, on a clock the test moves. */
function harness(script: { pay?: Step<PayOutcome>[]; query?: Step<QueryOutcome>[]; reverse?: Step<ReverseOutcome>[] }, input: Partial<PaymentInput> = {}) {
  const clock = new ManualClock(START);
  const calls: Array<{ op: string; at: number }> = [];
  const recorded: string[] = [];
  const notes: string[] = [];
  const next = <T>(op: 'pay' | 'query' | 'reverse', steps: Step<T>[] | undefined, fallback: Step<T>) =>
    fromPromise<T, { orderNo: string }>(async () => {
      calls.push({ op, at: clock.now() });
      const step = steps && steps.length > 1 ? steps.shift()! : (steps?.[0] ?? fallback);
      return step(clock.now());
    });
  const machine = paymentMachine.provide({
    actors: {
      pay: next('pay', script.pay, (at) => ({ kind: 'unknown', at, reason: 'timeout' })),
      query: next('query', script.query, (at) => ({ kind: 'pending', at, customerPaying: true, reason: 'USERPAYING' })),
      reverse: next('reverse', script.reverse, (at) => ({ kind: 'reversed', at })),
    },
    actions: { record: (_, p) => void recorded.push(p.state), notePayMayHaveArrived: () => void notes.push('pay may have arrived') },
  });
  const profile = DEFAULT_PROFILES.wechat;
  const actor = createActor(machine, {
    clock,
    input: {
      orderNo: 'T1-0001',
      profile,
      codeExpiresAt: clock.now() + profile.codeTtlMs,
      queryDeadlineAt: clock.now() + profile.queryDeadlineMs,
      queriesDone: 0,
      reverseAttempts: 0,
      restore: facts(),
      ...input,
    },
  });
  const settle = () => new Promise((r) => setImmediate(r));
  /** Lets answers land, then moves time to the next timer, until the machine is done. */
  async function runToEnd(maxSteps = 200) {
    actor.start();
    for (let i = 0; i < maxSteps; i++) {
      await settle();
      if (actor.getSnapshot().status === 'done') return actor.getSnapshot();
      if (!clock.advanceToNext()) await settle();
    }
    throw new Error(`machine did not finish: ${JSON.stringify(actor.getSnapshot().value)}`);
  }
  return { clock, actor, calls, recorded, notes, runToEnd, settle, start: START };
}

describe('payment machine', () => {
  it('ends paid at once on a verified success', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'paid', at })] });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('paid');
    expect(h.calls.map((c) => c.op)).toEqual(['pay']);
    expect(h.recorded).toEqual(['submitting', 'paid']);
  });

  it('queries an unknown pay on the wallet schedule, then reverses at the deadline', async () => {
    const h = harness({ query: [(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'ORDER_NOT_FOUND' })] });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    const queries = h.calls.filter((c) => c.op === 'query').map((c) => c.at - h.start);
    // WeChat: first query 5 s after the unknown answer, then every 10 s, the last one at the 45 s deadline.
    expect(queries).toEqual([5_000, 15_000, 25_000, 35_000, 45_000]);
    expect(h.calls.at(-1)).toEqual({ op: 'reverse', at: h.start + 45_000 });
  });

  it('ends paid when a query confirms the customer paid', async () => {
    const h = harness({
      pay: [(at) => ({ kind: 'userPaying', at })],
      query: [(at) => ({ kind: 'pending', at, customerPaying: true, reason: 'USERPAYING' }), (at) => ({ kind: 'paid', at })],
    });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('paid');
    expect(h.calls.map((c) => c.op)).toEqual(['pay', 'query', 'query']);
  });

  it('never turns an unknown into a decline: only a definite answer declines', async () => {
    const h = harness({
      pay: [(at) => ({ kind: 'unknown', at, reason: 'SYSTEMERROR' })],
      query: [(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'BACKEND_UNKNOWN' })],
      reverse: [(at) => ({ kind: 'retry', at, reason: 'RETRY' }), (at) => ({ kind: 'reversed', at })],
    });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    expect(h.recorded).not.toContain('declined');
  });

  it('keeps retrying a reverse answered "retry", with growing waits, until it is accepted', async () => {
    const retry: Step<ReverseOutcome> = (at) => ({ kind: 'retry', at, reason: 'USERPAYING' });
    // Jitter drawn at the top of the window: the waits are the doubling caps.
    const h = harness({ reverse: [...Array<Step<ReverseOutcome>>(12).fill(retry), (at) => ({ kind: 'reversed', at })] }, { restore: facts('reversing'), random: () => 0.999_999_9 });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    const times = h.calls.map((c) => c.at - h.start);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(Math.max(...gaps)).toBe(DEFAULT_PROFILES.wechat.reverseRetryMaxMs);
    expect(h.calls).toHaveLength(13);
  });

  it('hands a reversal to the outbox when the backend cannot be reached', async () => {
    const h = harness({ reverse: [(at) => ({ kind: 'unreachable', at, reason: 'ECONNREFUSED' })] }, { restore: facts('reversing') });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversal_queued');
  });

  it('reverses at once when the cashier cancels while the result is being checked', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'userPaying', at })] });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().matches('querying')).toBe(true);
    h.actor.send({ type: 'CANCEL' });
    expect(h.actor.getSnapshot().matches('reversing')).toBe(true);
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
  });

  it('where a reverse could be overtaken by a late pay, waits for the pay in flight, then reverses what it charged', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({}, { unseenReverseIsFinal: false });
    const ops: string[] = [];
    const machine = paymentMachine.provide({
      actors: {
        pay: fromPromise<PayOutcome, { orderNo: string }>(async () => (await gate, ops.push('pay'), { kind: 'paid', at: h.clock.now() })),
        reverse: fromPromise<ReverseOutcome, { orderNo: string }>(async () => (ops.push('reverse'), { kind: 'reversed', at: h.clock.now() })),
      },
    });
    const actor = createActor(machine, { clock: h.clock, input: h.actor.options.input as PaymentInput });
    actor.start();
    actor.send({ type: 'CANCEL' });
    expect(actor.getSnapshot().matches('submitting')).toBe(true);
    release();
    await h.settle();
    expect(ops).toEqual(['pay', 'reverse']);
    expect(actor.getSnapshot().output?.outcome).toBe('reversed');
  });

  it('where a reverse leaves a tombstone (protocol v1), a cancel during the pay reverses at once, without waiting for its answer', async () => {
    const h = harness({});
    const ops: string[] = [];
    const machine = paymentMachine.provide({
      actors: {
        // The pay hangs (a black hole on the wire): its answer never comes.
        pay: fromPromise<PayOutcome, { orderNo: string }>(() => (ops.push('pay'), new Promise<PayOutcome>(() => {}))),
        reverse: fromPromise<ReverseOutcome, { orderNo: string }>(async () => (ops.push('reverse'), { kind: 'reversed', at: h.clock.now() })),
      },
    });
    const actor = createActor(machine, { clock: h.clock, input: h.actor.options.input as PaymentInput });
    actor.start();
    actor.send({ type: 'CANCEL' });
    await h.settle();
    expect(ops).toEqual(['pay', 'reverse']);
    expect(actor.getSnapshot().output?.outcome).toBe('reversed');
  });

  it('resends a pay that never left while the code is valid, then gives up as not charged', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'notSent', at, reason: 'ECONNREFUSED' })] });
    const s = await h.runToEnd();
    expect(s.output).toMatchObject({ outcome: 'declined', reasonCode: 'NOT_SENT' });
    const pays = h.calls.filter((c) => c.op === 'pay');
    expect(pays.at(-1)!.at - h.start).toBe(DEFAULT_PROFILES.wechat.codeTtlMs);
    expect(pays.length).toBe(DEFAULT_PROFILES.wechat.codeTtlMs / DEFAULT_PROFILES.wechat.networkRetryMs + 1);
    expect(h.calls.some((c) => c.op !== 'pay')).toBe(false);
  });

  it('resumed after a restart, queries first, even past the deadline, then reverses', async () => {
    const h = harness({}, { restore: facts('querying'), queryDeadlineAt: 0 });
    const s = await h.runToEnd();
    expect(h.calls.map((c) => c.op)).toEqual(['query', 'reverse']);
    expect(s.output?.outcome).toBe('reversed');
  });

  it('cannot be cancelled into anything else once final', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'paid', at })] });
    const s = await h.runToEnd();
    expect(s.can({ type: 'CANCEL' })).toBe(false);
    expect(s.status).toBe('done');
    // A cashier's cancel arriving now changes nothing: still paid, no reverse sent, nothing recorded.
    const recordedBefore = h.recorded.length;
    h.actor.send({ type: 'CANCEL' });
    h.clock.advance(60_000);
    await h.settle();
    expect(h.actor.getSnapshot().output).toMatchObject({ outcome: 'paid' });
    expect(h.calls.map((c) => c.op)).toEqual(['pay']);
    expect(h.recorded.length).toBe(recordedBefore);
  });

  it('ignores a cancel while reversing: a reversal is never abandoned', async () => {
    const h = harness({ reverse: [(at) => ({ kind: 'retry', at, reason: 'x' }), (at) => ({ kind: 'reversed', at })] }, { restore: facts('reversing') });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().can({ type: 'CANCEL' })).toBe(false);
  });

  it('a query that keeps failing in our own code stops at a cap and reverses, instead of looping past the deadline', async () => {
    const h = harness({ query: [() => { throw new Error('JOURNAL_WRITE_FAILED'); }] }, { restore: facts('querying') });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    expect(h.calls.filter((c) => c.op === 'query')).toHaveLength(MAX_QUERY_ERRORS);
    expect(h.calls.at(-1)!.at - h.start).toBeLessThanOrEqual(DEFAULT_PROFILES.wechat.queryDeadlineMs);
  });

  it('where the acquirer keeps no tombstone, "no such order" stays unknown until the code has expired', async () => {
    const notFound: Step<ReverseOutcome> = (at) => ({ kind: 'notFound', at });
    const h = harness({ reverse: [notFound, notFound] }, { restore: facts('reversing'), unseenReverseIsFinal: false });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().context.cause).toMatch(/delayed one could still arrive.*about 60 s left/);
    const s = await h.runToEnd();
    const reverses = h.calls.filter((c) => c.op === 'reverse').map((c) => c.at - h.start);
    // Asked again once the code can no longer land, and only then final.
    expect(reverses).toEqual([0, DEFAULT_PROFILES.wechat.codeTtlMs]);
    expect(s.output?.outcome).toBe('reversed');
  });

  it('where the acquirer leaves a tombstone (protocol v1), "no such order" on a reverse is final at once', async () => {
    const h = harness({ reverse: [(at) => ({ kind: 'notFound', at })] }, { restore: facts('reversing') });
    const s = await h.runToEnd();
    expect(h.calls.filter((c) => c.op === 'reverse')).toHaveLength(1);
    expect(s.output?.outcome).toBe('reversed');
  });

  it('waits until the time the acquirer allows a reverse, and tells the cashier why', async () => {
    const h = harness({ reverse: [(at) => ({ kind: 'retry', at, retryAt: at + 14_000, reason: 'the acquirer takes no reverse sooner than 15 s after the payment' }), (at) => ({ kind: 'reversed', at })] }, { restore: facts('reversing') });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().context.cause).toMatch(/sooner than 15 s.*about 14 s/);
    await h.runToEnd();
    expect(h.calls.map((c) => c.at - h.start)).toEqual([0, 14_000]);
  });

  it('a reverse refused while the customer pays says so, with the wait and the time until the acquirer closes the order', async () => {
    const h = harness({ reverse: [(at) => ({ kind: 'retry', at, reason: 'RETRY USER_PAYING', reasonCode: 'USER_PAYING' }), (at) => ({ kind: 'reversed', at })] }, {
      restore: facts('reversing'),
      random: () => 0.999_999_9,
      acquirerClosesAt: 1_000_000 + 20_000,
    });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().context.cause).toBe('reversing: the wallet refuses while the customer is paying; retrying in 1 s, about 20 s left before the acquirer closes the order');
  });
});

describe('payment machine: where a payment restarted from the journal goes on', () => {
  const ttl = DEFAULT_PROFILES.wechat.codeTtlMs;
  it.each([
    ['a new payment sends its pay', facts(), ['pay'], 'paid', []],
    ['a pay in flight at the kill is checked, never resent', facts('submitting', { payInFlight: true }), ['query'], 'paid', ['pay may have arrived']],
    ['a pay in flight, then cancelled, is reversed', facts('submitting', { payInFlight: true, cancelRequested: true }), ['reverse'], 'reversed', ['pay may have arrived']],
    ['a pay that may have arrived is checked', facts('submitting', { maybeSent: true }), ['query'], 'paid', []],
    ['a checked payment the cashier cancelled is reversed', facts('querying', { cancelRequested: true }), ['reverse'], 'reversed', []],
    ['a cancelled payment that never left is declined, nothing sent', facts('submitting', { cancelRequested: true }), [], 'declined', []],
    ['a payment whose code expired unsent is declined, nothing sent', facts('waiting_network', { at: START + ttl }), [], 'declined', []],
    ['a reversing payment reverses', facts('reversing'), ['reverse'], 'reversed', []],
    ['a reversal held by the outbox stays there', facts('reversal_queued'), [], 'reversal_queued', []],
  ] as const)('%s', async (_name, restore, firstCalls, outcome, notes) => {
    const h = harness({ pay: [(at) => ({ kind: 'paid', at })], query: [(at) => ({ kind: 'paid', at })] }, { restore });
    const s = await h.runToEnd();
    expect(h.calls.map((c) => c.op).slice(0, firstCalls.length)).toEqual(firstCalls);
    if (firstCalls.length === 0) expect(h.calls).toEqual([]);
    expect(s.output?.outcome).toBe(outcome);
    expect(h.notes).toEqual(notes);
  });

  it('says why a never-sent payment was declined', async () => {
    const cancelled = await harness({}, { restore: facts('submitting', { cancelRequested: true }) }).runToEnd();
    expect(cancelled.output).toMatchObject({ outcome: 'declined', reasonCode: 'CANCELLED' });
    const expired = await harness({}, { restore: facts('submitting', { at: START + DEFAULT_PROFILES.wechat.codeTtlMs }) }).runToEnd();
    expect(expired.output).toMatchObject({ outcome: 'declined', reasonCode: 'NOT_SENT' });
  });

  it('keeps the wait it was in: a query due later is asked then, a network wait is waited out', async () => {
    const q = harness({ query: [(at) => ({ kind: 'paid', at })] }, { restore: facts('querying', { nextActionAt: START + 7_000 }) });
    await q.runToEnd();
    expect(q.calls).toEqual([{ op: 'query', at: START + 7_000 }]);
    const n = harness({ pay: [(at) => ({ kind: 'paid', at })] }, { restore: facts('waiting_network', { nextActionAt: START + 3_000 }) });
    await n.runToEnd();
    expect(n.calls).toEqual([{ op: 'pay', at: START + 3_000 }]);
  });
});
