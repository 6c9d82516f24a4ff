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
  /** What each `record` hands the journal (agent/payment/record.ts): the state and why, the wait, the answer's reason. */
  const rows: Array<Record<string, unknown>> = [];
  const orderNos = new Set<string>();
  const notes: string[] = [];
  const next = <T>(op: 'pay' | 'query' | 'reverse', steps: Step<T>[] | undefined, fallback: Step<T>) =>
    fromPromise<T, { orderNo: string }>(async ({ input }) => {
      calls.push({ op, at: clock.now() });
      orderNos.add(input.orderNo);
      const step = steps && steps.length > 1 ? steps.shift()! : (steps?.[0] ?? fallback);
      return step(clock.now());
    });
  const machine = paymentMachine.provide({
    actors: {
      pay: next('pay', script.pay, (at) => ({ kind: 'unknown', at, reason: 'timeout' })),
      query: next('query', script.query, (at) => ({ kind: 'pending', at, customerPaying: true, reason: 'USERPAYING' })),
      reverse: next('reverse', script.reverse, (at) => ({ kind: 'reversed', at })),
    },
    actions: {
      record: ({ context: c }, p) => {
        recorded.push(p.state);
        const row: Record<string, unknown> = { state: p.state, cause: c.cause };
        if (p.state === 'querying' || p.state === 'waiting_network') row.waitMs = c.waitMs;
        if (c.reasonCode !== undefined) row.reasonCode = c.reasonCode;
        if (c.reasonMessage !== undefined) row.reasonMessage = c.reasonMessage;
        if (c.tradeNo !== undefined) row.tradeNo = c.tradeNo;
        rows.push(row);
      },
      notePayMayHaveArrived: () => void notes.push('pay may have arrived'),
    },
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
  return { clock, actor, calls, recorded, rows, orderNos, notes, runToEnd, settle, start: START };
}

describe('payment machine', () => {
  it('ends paid at once on a verified success', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'paid', at })] });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('paid');
    expect(h.calls.map((c) => c.op)).toEqual(['pay']);
    expect(h.recorded).toEqual(['submitting', 'paid']);
    // What the POS shows while the pay is on its way.
    expect(h.rows[0]).toEqual({ state: 'submitting', cause: 'accepted' });
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

  it('the last query waits no longer than the deadline when the schedule would overshoot it (issue 13)', async () => {
    const h = harness({ query: [(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' })] }, { queryDeadlineAt: START + 40_000 });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    // The schedule says 45 s; the deadline, 40 s: the last query is at the deadline, then the reverse.
    expect(h.calls.filter((c) => c.op === 'query').map((c) => c.at - h.start)).toEqual([5_000, 15_000, 25_000, 35_000, 40_000]);
    expect(h.calls.at(-1)).toEqual({ op: 'reverse', at: h.start + 40_000 });
  });

  it('a cancel while querying: the journal says the cashier cancelled, then it reverses', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'userPaying', at })], reverse: [(at) => ({ kind: 'reversed', at })] });
    h.actor.start();
    await h.settle();
    expect(h.actor.getSnapshot().value).toEqual({ querying: 'waiting' });
    h.actor.send({ type: 'CANCEL' });
    const s = await h.runToEnd();
    expect(s.output?.outcome).toBe('reversed');
    expect(h.rows.find((r) => r.state === 'reversing')).toEqual({ state: 'reversing', cause: 'cancelled by the cashier' });
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

describe('payment machine: what the journal is told at each step', () => {
  const ttl = DEFAULT_PROFILES.wechat.codeTtlMs;
  const ops = (h: { calls: Array<{ op: string }> }) => h.calls.map((c) => c.op);

  it('every call names the payment', async () => {
    const h = harness({ pay: [(at) => ({ kind: 'unknown', at, reason: 'timeout' })], query: [(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' })] }, { orderNo: 'T7-0099' });
    await h.runToEnd();
    expect(ops(h)).toContain('reverse');
    expect([...h.orderNos]).toEqual(['T7-0099']);
  });

  describe("the pay's answer", () => {
    it('a decline ends declined with the reason the acquirer gave', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'declined', at, reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' })] });
      const s = await h.runToEnd();
      expect(s.output).toEqual({ outcome: 'declined', reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' });
      expect(h.rows.at(-1)).toEqual({ state: 'declined', cause: 'declined: NOT_ENOUGH', reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' });
      expect(ops(h)).toEqual(['pay']);
    });

    it('an order the backend had already reversed ends reversed, without a reverse of its own', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'reversed', at, reasonCode: 'ORDER_REVERSED' })] });
      const s = await h.runToEnd();
      expect(s.output?.outcome).toBe('reversed');
      expect(h.rows.at(-1)).toEqual({ state: 'reversed', cause: 'the backend had already reversed this order' });
      expect(ops(h)).toEqual(['pay']);
    });

    it("a success keeps the acquirer's trade number", async () => {
      const h = harness({ pay: [(at) => ({ kind: 'paid', at, tradeNo: 'WX4200001' })] });
      await h.runToEnd();
      expect(h.rows.at(-1)).toEqual({ state: 'paid', cause: 'paid', tradeNo: 'WX4200001' });
    });

    it.each([
      ['the customer entering a password', (at: number): PayOutcome => ({ kind: 'userPaying', at }), 'customer entering password', true],
      ['an unknown answer', (at: number): PayOutcome => ({ kind: 'unknown', at, reason: 'NET_TIMEOUT' }), 'outcome unknown: NET_TIMEOUT', false],
      ['a failure in our own code', (): PayOutcome => { throw new Error('JOURNAL_WRITE_FAILED'); }, 'outcome unknown: Error: JOURNAL_WRITE_FAILED', false],
    ] as const)('%s is checked by query after the first wait', async (_name, pay, cause, customerPaying) => {
      const h = harness({ pay: [pay] });
      h.actor.start();
      await h.settle();
      expect(h.rows.at(-1)).toEqual({ state: 'querying', cause, waitMs: DEFAULT_PROFILES.wechat.firstQueryDelayMs });
      expect(h.actor.getSnapshot().context.customerPaying).toBe(customerPaying);
    });

    it('a pay that never left waits for the network, never past the code expiry, and says why it gave up', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'notSent', at, reason: 'ECONNREFUSED' })] }, { codeExpiresAt: START + 3_500 });
      const s = await h.runToEnd();
      expect(h.calls.map((c) => c.at - START)).toEqual([0, 2_000, 3_500]);
      expect(h.rows.filter((r) => r.state === 'waiting_network')).toEqual([
        { state: 'waiting_network', cause: 'network down: ECONNREFUSED', waitMs: 2_000 },
        { state: 'waiting_network', cause: 'network down: ECONNREFUSED', waitMs: 1_500 },
      ]);
      expect(s.output).toEqual({
        outcome: 'declined',
        reasonCode: 'NOT_SENT',
        reasonMessage: 'the backend could not be reached before the payment code expired; the customer was not charged',
      });
      expect(h.rows.at(-1)).toMatchObject({ state: 'declined', cause: 'network down until the code expired' });
    });

    it('a cancel while waiting for the network declines at once: nothing was sent', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'notSent', at, reason: 'ECONNREFUSED' })] });
      h.actor.start();
      await h.settle();
      expect(h.actor.getSnapshot().matches('waitingNetwork')).toBe(true);
      h.actor.send({ type: 'CANCEL' });
      const s = await h.runToEnd();
      expect(s.output).toEqual({ outcome: 'declined', reasonCode: 'CANCELLED', reasonMessage: 'cancelled before the payment reached the backend' });
      expect(h.rows.at(-1)).toMatchObject({ state: 'declined', cause: 'cancelled' });
      expect(ops(h)).toEqual(['pay']);
    });
  });

  describe('a cancel while the pay is on its way, where a late pay could overtake a reverse', () => {
    const cancelledDuring = async (pay: Step<PayOutcome>) => {
      const h = harness({ pay: [pay] }, { unseenReverseIsFinal: false });
      h.actor.start();
      h.actor.send({ type: 'CANCEL' });
      const s = await h.runToEnd();
      return { h, s };
    };

    it('a pay that never left is declined as cancelled, nothing reversed', async () => {
      const { h, s } = await cancelledDuring((at) => ({ kind: 'notSent', at, reason: 'ECONNREFUSED' }));
      expect(s.output).toEqual({ outcome: 'declined', reasonCode: 'CANCELLED', reasonMessage: 'cancelled before the payment reached the backend' });
      expect(h.rows.at(-1)).toMatchObject({ state: 'declined', cause: 'cancelled' });
      expect(ops(h)).toEqual(['pay']);
    });

    it('a pay that may have charged is reversed at once, without queries', async () => {
      const { h, s } = await cancelledDuring((at) => ({ kind: 'unknown', at, reason: 'NET_TIMEOUT' }));
      expect(s.output?.outcome).toBe('reversed');
      expect(ops(h)).toEqual(['pay', 'reverse']);
      expect(h.rows.find((r) => r.state === 'reversing')).toEqual({ state: 'reversing', cause: 'cancelled by the cashier' });
    });

    it('a declined pay stays declined: nothing to undo', async () => {
      const { h, s } = await cancelledDuring((at) => ({ kind: 'declined', at, reasonCode: 'NOT_ENOUGH' }));
      expect(s.output).toMatchObject({ outcome: 'declined', reasonCode: 'NOT_ENOUGH' });
      expect(ops(h)).toEqual(['pay']);
    });

    it('before the cancel, the journal is told the pay is being waited for', async () => {
      const h = harness({}, { unseenReverseIsFinal: false });
      h.actor.start();
      h.actor.send({ type: 'CANCEL' });
      expect(h.actor.getSnapshot().context).toMatchObject({ cancelRequested: true, cause: "cancelled by the cashier: waiting for the pay's answer, then reversing if it may have charged" });
    });
  });

  it('where a reverse leaves a tombstone, a cancel during the pay is recorded as reversing now', async () => {
    const h = harness({ pay: [() => new Promise<PayOutcome>(() => {}) as unknown as PayOutcome] });
    h.actor.start();
    h.actor.send({ type: 'CANCEL' });
    await h.settle();
    expect(h.rows.find((r) => r.state === 'reversing')).toEqual({ state: 'reversing', cause: 'cancelled by the cashier while the pay was on its way: reversing now' });
    expect(h.actor.getSnapshot().output?.outcome).toBe('reversed');
  });

  describe("the query's answer", () => {
    const checked = (query: Step<QueryOutcome>[], input: Partial<PaymentInput> = {}) => harness({ query }, { restore: facts('querying'), ...input });

    it("a paid answer keeps the trade number; a declined one the acquirer's reason; a reversed one ends without a reverse", async () => {
      const paid = checked([(at) => ({ kind: 'paid', at, tradeNo: 'AP2026' })]);
      await paid.runToEnd();
      expect(paid.rows.at(-1)).toEqual({ state: 'paid', cause: 'paid (confirmed by query)', tradeNo: 'AP2026' });
      const declined = checked([(at) => ({ kind: 'declined', at, reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' })]);
      expect((await declined.runToEnd()).output).toEqual({ outcome: 'declined', reasonCode: 'NOT_ENOUGH', reasonMessage: 'insufficient balance' });
      expect(declined.rows.at(-1)).toMatchObject({ state: 'declined', cause: 'declined: NOT_ENOUGH' });
      const reversed = checked([(at) => ({ kind: 'reversed', at })]);
      expect((await reversed.runToEnd()).output?.outcome).toBe('reversed');
      expect(reversed.rows.at(-1)).toEqual({ state: 'reversed', cause: 'reversed (confirmed by query)' });
      expect(ops(reversed)).toEqual(['query']);
    });

    it('at the deadline it reverses, and says why', async () => {
      const h = checked([(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' })], { queryDeadlineAt: START });
      await h.runToEnd();
      expect(h.rows.find((r) => r.state === 'reversing')).toEqual({ state: 'reversing', cause: 'no final answer by the deadline' });
    });

    it('follows the profile schedule query by query, counted from where the restart left it', async () => {
      const profile = { ...DEFAULT_PROFILES.wechat, queryScheduleMs: [2_000, 4_000, 8_000] };
      const pending: Step<QueryOutcome> = (at) => ({ kind: 'pending', at, customerPaying: true, reason: 'USERPAYING' });
      const h = checked([pending, pending, pending, pending, (at) => ({ kind: 'paid', at })], { profile, queriesDone: 1 });
      await h.runToEnd();
      expect(h.calls.map((c) => c.at - START)).toEqual([0, 4_000, 12_000, 20_000, 28_000]);
    });

    it('tells whether the customer is still confirming, from the latest answer', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'userPaying', at })], query: [(at) => ({ kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' })] });
      h.actor.start();
      await h.settle();
      expect(h.actor.getSnapshot().context.customerPaying).toBe(true);
      h.clock.advanceToNext();
      await h.settle();
      expect(h.actor.getSnapshot().context).toMatchObject({ customerPaying: false, cause: 'NOTPAY' });
    });

    it('a query the gateway held counts its wait from when it was sent', async () => {
      const h = checked([(at) => ({ kind: 'pending', at: at + 3_000, sentAt: at, customerPaying: false, reason: 'NOTPAY' }), (at) => ({ kind: 'paid', at })]);
      await h.runToEnd();
      // Sent at 0, answered (by the answer's own clock) at 3 s: the next is due 10 s after the send.
      expect(h.calls.map((c) => c.at - START)).toEqual([0, 7_000]);
    });

    it('own-code query failures count only in a row: an answer in between starts the count again', async () => {
      const fail: Step<QueryOutcome> = () => {
        throw new Error('JOURNAL_WRITE_FAILED');
      };
      const pending: Step<QueryOutcome> = (at) => ({ kind: 'pending', at, customerPaying: false, reason: 'NOTPAY' });
      const h = checked([fail, fail, pending, fail, fail, (at) => ({ kind: 'paid', at })], { queryDeadlineAt: START + 10 * 60_000 });
      const s = await h.runToEnd();
      expect(s.output?.outcome).toBe('paid');
      // Failed queries wait the schedule too: 10 s apart on WeChat.
      expect(h.calls.map((c) => c.at - START)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
      expect(h.actor.getSnapshot().context.cause).toBe('paid (confirmed by query)');
    });

    it('the cap on own-code failures says why it reverses', async () => {
      const h = checked([() => { throw new Error('JOURNAL_WRITE_FAILED'); }]);
      await h.runToEnd();
      expect(h.rows.find((r) => r.state === 'reversing')).toEqual({ state: 'reversing', cause: `checking failed ${MAX_QUERY_ERRORS} times in a row (Error: JOURNAL_WRITE_FAILED): reversing` });
    });

    it('after one own-code failure the payment waits and says so', async () => {
      const h = checked([() => { throw new Error('JOURNAL_WRITE_FAILED'); }]);
      h.actor.start();
      h.clock.advanceToNext();
      await h.settle();
      expect(h.actor.getSnapshot().context).toMatchObject({ cause: 'query failed: Error: JOURNAL_WRITE_FAILED', queryErrors: 1, queriesDone: 1 });
    });
  });

  describe("the reverse's answer", () => {
    const reversing = (reverse: Step<ReverseOutcome>[], input: Partial<PaymentInput> = {}) => harness({ reverse }, { restore: facts('reversing'), random: () => 0.999_999_9, ...input });

    it('records why it ends reversed', async () => {
      const h = reversing([(at) => ({ kind: 'reversed', at })]);
      await h.runToEnd();
      expect(h.rows).toEqual([
        { state: 'reversing', cause: 'recovered: reversing' },
        { state: 'reversed', cause: 'reversed' },
      ]);
      const unseen = reversing([(at) => ({ kind: 'notFound', at })]);
      await unseen.runToEnd();
      expect(unseen.rows.at(-1)).toEqual({ state: 'reversed', cause: 'the acquirer never received the payment and the code can no longer be used: not charged' });
    });

    it.each([
      ['refused for good: a refund is queued', (at: number): ReverseOutcome => ({ kind: 'refused', at, reasonCode: 'REVERSE_EXPIRED' }), 'reverse refused (REVERSE_EXPIRED): refund queued'],
      ['unreachable', (at: number): ReverseOutcome => ({ kind: 'unreachable', at, reason: 'ECONNREFUSED' }), 'backend unreachable: reversal queued'],
      ['failed in our own code', (): ReverseOutcome => { throw new Error('JOURNAL_WRITE_FAILED'); }, 'reverse failed: Error: JOURNAL_WRITE_FAILED'],
    ] as const)('%s: the outbox takes it over', async (_name, reverse, cause) => {
      const h = reversing([reverse]);
      const s = await h.runToEnd();
      expect(s.output?.outcome).toBe('reversal_queued');
      expect(h.rows.at(-1)).toEqual({ state: 'reversal_queued', cause });
    });

    it('a wait for the code to expire counts as an attempt: the next "retry" backs off further', async () => {
      const h = reversing([(at) => ({ kind: 'notFound', at }), (at) => ({ kind: 'retry', at, reason: 'SYSTEMERROR' }), (at) => ({ kind: 'reversed', at })], { unseenReverseIsFinal: false });
      await h.runToEnd();
      expect(h.calls.map((c) => c.at - START)).toEqual([0, ttl, ttl + 2_000]);
    });

    it.each([
      ['no time named', { reason: 'SYSTEMERROR' }, 'reversing: refused for now (SYSTEMERROR); retrying in 1 s'],
      ['the wallet busy, the close time unknown', { reason: 'RETRY USER_PAYING', reasonCode: 'USER_PAYING' }, 'reversing: the wallet refuses while the customer is paying; retrying in 1 s'],
      ['a time named in part-seconds', { reason: 'too early', retryAt: START + 14_200 }, 'reversing: too early; sending in about 15 s'],
      ['a time named under a second away', { reason: 'too early', retryAt: START + 200 }, 'reversing: too early; sending in about 1 s'],
    ] as const)('a "retry" with %s tells the cashier how long', async (_name, retry, cause) => {
      const h = reversing([(at) => ({ kind: 'retry', at, ...retry }), (at) => ({ kind: 'reversed', at })]);
      h.actor.start();
      await h.settle();
      expect(h.actor.getSnapshot().context.cause).toBe(cause);
    });

    it('the time left before the acquirer closes the order is told only while there is some', async () => {
      const h = reversing([(at) => ({ kind: 'retry', at, reason: 'RETRY USER_PAYING', reasonCode: 'USER_PAYING' }), (at) => ({ kind: 'reversed', at })], { acquirerClosesAt: START });
      h.actor.start();
      await h.settle();
      expect(h.actor.getSnapshot().context.cause).toBe('reversing: the wallet refuses while the customer is paying; retrying in 1 s');
    });
  });

  describe('after a restart', () => {
    it.each([
      ['a queued reversal', facts('reversal_queued'), { state: 'reversal_queued', cause: 'recovered: the outbox holds the reversal' }],
      ['a pay in flight', facts('submitting', { payInFlight: true }), { state: 'querying', cause: 'recovered: pay may have arrived before the restart', waitMs: 0 }],
      ['a pay in flight, cancelled', facts('submitting', { payInFlight: true, cancelRequested: true }), { state: 'reversing', cause: 'cancelled by the cashier' }],
      ['a query, cancelled', facts('querying', { cancelRequested: true }), { state: 'reversing', cause: 'cancelled by the cashier' }],
      ['a query', facts('querying', { nextActionAt: START + 4_000 }), { state: 'querying', cause: 'recovered: checking the outcome', waitMs: 4_000 }],
      ['a pay that may have arrived', facts('submitting', { maybeSent: true }), { state: 'querying', cause: 'recovered: a pay may have arrived', waitMs: 0 }],
      ['a network wait', facts('waiting_network', { nextActionAt: START + 1_500 }), { state: 'waiting_network', cause: 'recovered: waiting for the network', waitMs: 1_500 }],
      ['a cancelled, never sent pay', facts('submitting', { cancelRequested: true }), { state: 'declined', cause: 'recovered: never sent', reasonCode: 'CANCELLED', reasonMessage: 'the payment never reached the backend; the customer was not charged' }],
      ['an expired, never sent pay', facts('waiting_network', { at: START + ttl }), { state: 'declined', cause: 'recovered: never sent', reasonCode: 'NOT_SENT', reasonMessage: 'the payment never reached the backend; the customer was not charged' }],
    ] as const)('%s: the journal is told where it goes on and why', async (_name, restore, first) => {
      const h = harness({ pay: [(at) => ({ kind: 'paid', at })], query: [(at) => ({ kind: 'paid', at })] }, { restore });
      h.actor.start();
      await h.settle();
      expect(h.rows[0]).toEqual(first);
    });

    it('a payment cancelled while it was being checked is reversed, whatever else the row says', async () => {
      const h = harness({}, { restore: facts('querying', { maybeSent: false, cancelRequested: true }) });
      const s = await h.runToEnd();
      expect(ops(h)).toEqual(['reverse']);
      expect(s.output?.outcome).toBe('reversed');
    });

    it('a pay that may have arrived, then cancelled, is reversed, not checked', async () => {
      const h = harness({}, { restore: facts('submitting', { maybeSent: true, cancelRequested: true }) });
      await h.runToEnd();
      expect(ops(h)).toEqual(['reverse']);
    });

    it.each([
      ['counts from the restart, not from the write', { writtenAt: START - 2_000, nextActionAt: START + 5_000 }, 5_000],
      ['is never longer than the wait chosen when written, even with the clock set back', { writtenAt: START + 100_000, nextActionAt: START + 107_000 }, 7_000],
      ['is none when it is already over', { writtenAt: START - 20_000, nextActionAt: START - 5_000 }, 0],
    ] as const)('the remaining query wait %s', async (_name, more, due) => {
      const h = harness({ query: [(at) => ({ kind: 'paid', at })] }, { restore: facts('querying', more) });
      await h.runToEnd();
      expect(h.calls).toEqual([{ op: 'query', at: START + due }]);
    });

    it('a network wait never runs past the code expiry', async () => {
      const h = harness({ pay: [(at) => ({ kind: 'paid', at })] }, { restore: facts('waiting_network', { nextActionAt: START + ttl + 30_000 }) });
      await h.runToEnd();
      expect(h.calls).toEqual([{ op: 'pay', at: START + ttl }]);
    });
  });
});
