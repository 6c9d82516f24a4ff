/**
 * The engine's own API on a real SQLite journal and a manual clock, with a scripted acquirer
 * (test/support/scripted-acquirer.ts): what it refuses before anything is written, the order
 * number and the row it writes, the policy in force, cancel, listeners, waiting, the outbox
 * and the resumption of a payment after a restart or after its own code failed. Over the real
 * wire with the simulator: payment-engine.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import type { Logger } from '../../agent/log.ts';
import { PaymentEngine, type EngineOptions, type PaymentView } from '../../agent/payment/engine.ts';
import { fillDisk } from '../support/journal-faults.ts';
import { answer, ScriptedAcquirer, trade, unknown } from '../support/scripted-acquirer.ts';
import type { PayResponse, QueryResponse, ReverseResponse } from '../../agent/protocol/messages.ts';

const T0 = Date.UTC(2026, 5, 1, 10, 20, 30);
const WECHAT = '134567890123456789';
const ALIPAY = '281234567890123456';

let dir: string;
let journal: Journal;
let clock: ManualClock;
let acquirer: ScriptedAcquirer;
let engine: PaymentEngine;
let seen: PaymentView[];

function startEngine(o: Partial<EngineOptions> = {}): PaymentEngine {
  engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'TERM-0042-shop7', random: () => 0.5, ...o });
  engine.onChange((v) => seen.push(v));
  engine.start();
  return engine;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-engine-api-'));
  journal = Journal.open(join(dir, 'journal.db'));
  clock = new ManualClock(T0);
  acquirer = new ScriptedAcquirer();
  seen = [];
});
afterEach(async () => {
  await engine?.stop();
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const pays = (result: PayResponse['result'], extra: Partial<PayResponse> = {}) => (req: Record<string, unknown>) => answer<PayResponse>({ result, orderNo: req.orderNo as string, ...extra });
const queries = (state: string) => (req: Record<string, unknown>) => answer<QueryResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, trade: trade(req.orderNo as string, state) });
const reverses = (result: ReverseResponse['result']) => (req: Record<string, unknown>) => answer<ReverseResponse>({ result, orderNo: req.orderNo as string, recall: false });
/** Lets answers land: the scripted acquirer answers on the next turn. */
const settle = () => engine.idle();

/**
 * A payment left USER_PAYING, then a full disk until its actor fails on a journal write (the
 * engine logs it and schedules the resumption); `shown`: the views emitted before the failure.
 */
async function payThenFailAWrite(): Promise<{ orderNo: string; disk: ReturnType<typeof fillDisk>; shown: number }> {
  const errors: string[] = [];
  const logger = { error: (_o: unknown, msg: string) => errors.push(msg), warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined, child: () => logger } as unknown as Logger;
  startEngine({ logger });
  acquirer.script.pay.push(pays('USER_PAYING'));
  const p = engine.pay({ amount: 100, paymentCode: WECHAT });
  await settle();
  const disk = fillDisk(journal);
  const shown = seen.length;
  while (!errors.includes('payment actor failed; resuming from the journal') && clock.advanceToNext()) await settle();
  return { orderNo: p.orderNo, disk, shown };
}

describe('accepting a payment', () => {
  it('refuses before it is started', () => {
    engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1' });
    expect(() => engine.pay({ amount: 100, paymentCode: WECHAT })).toThrow('payment engine not started');
  });

  it('writes the row with the order number made of the terminal and the time, then pays once', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS', { trade: trade('x', 'SUCCESS') }));
    const v = engine.pay({ amount: 1234, paymentCode: WECHAT, posOrderId: 'POS-9', lane: 'lane-2' });
    // Letters and digits only, the last ten of the terminal id, then yyMMddHHmmss (UTC) and random hex.
    expect(v.orderNo).toMatch(/^M0042shop7260601102030[0-9a-f]{8}$/);
    expect(v).toMatchObject({ amount: 1234, currency: 'CNY', description: '', wallet: 'wechat', posOrderId: 'POS-9', lane: 'lane-2', state: 'submitting', outcome: null, queryDeadlineAt: T0 + 45_000 });
    expect(journal.getPayment(v.orderNo)).toMatchObject({ code_expires_at: T0 + 60_000, query_deadline_at: T0 + 45_000, trace_id: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) });
    expect(v.code).not.toContain(WECHAT);
    await settle();
    expect(engine.get(v.orderNo)).toMatchObject({ outcome: 'paid' });
    expect(acquirer.calls).toEqual([{ op: 'pay', req: expect.objectContaining({ orderNo: v.orderNo, amount: 1234, currency: 'CNY', paymentCode: WECHAT }) }]);
  });
});

describe('what is refused before anything is written', () => {
  it.each([
    ['a lowercase currency', { currency: 'cny' }],
    ['a two-letter currency', { currency: 'CN' }],
    ['a currency with a suffix', { currency: 'CNYX' }],
    ['a currency with a prefix', { currency: 'XCNY' }],
  ])('%s: PAY_CURRENCY_INVALID', (_name, extra) => {
    startEngine();
    expect(() => engine.pay({ amount: 100, paymentCode: WECHAT, ...extra })).toThrow(expect.objectContaining({ code: 'PAY_CURRENCY_INVALID' }));
    expect(journal.listPayments()).toEqual([]);
  });

  it('another currency in three capitals is taken as given', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    expect(engine.pay({ amount: 100, paymentCode: WECHAT, currency: 'HKD', description: 'tea' })).toMatchObject({ currency: 'HKD', description: 'tea' });
    await settle();
  });

  it('the policy in force: wallets not enabled, the largest amount; timings for new payments only', async () => {
    startEngine({ maxAmount: 1_000, profiles: { alipay: { queryDeadlineMs: 30_000, codeTtlMs: 20_000 } } });
    expect(engine.maxAmount).toBe(1_000);
    expect(() => engine.pay({ amount: 1_001, paymentCode: WECHAT })).toThrow(expect.objectContaining({ code: 'PAY_AMOUNT_INVALID' }));
    acquirer.script.pay.push(pays('SUCCESS'), pays('SUCCESS'));
    const before = engine.pay({ amount: 1_000, paymentCode: ALIPAY });
    expect(before.queryDeadlineAt).toBe(T0 + 30_000);
    engine.applyPolicy({ maxAmount: 5_000, enabledWallets: ['alipay'], profiles: { alipay: { queryDeadlineMs: 50_000 } } });
    expect(engine.maxAmount).toBe(5_000);
    expect(() => engine.pay({ amount: 100, paymentCode: WECHAT })).toThrow(expect.objectContaining({ code: 'PAY_WALLET_DISABLED', detail: { wallet: 'wechat' } }));
    const after = engine.pay({ amount: 5_000, paymentCode: '281234567890123457' });
    // The backend's field wins; config.json's other field stays.
    expect(after.queryDeadlineAt).toBe(T0 + 50_000);
    expect(journal.getPayment(after.orderNo)!.code_expires_at).toBe(T0 + 20_000);
    expect(() => engine.applyPolicy({ maxAmount: 1, enabledWallets: [], profiles: { alipay: { queryDeadlineMs: -1 } } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(engine.maxAmount).toBe(5_000);
    await settle();
  });

  it('the same POS order id twice: the same payment, paid once', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const a = engine.pay({ amount: 300, paymentCode: WECHAT, posOrderId: 'P1' });
    const b = engine.pay({ amount: 300, paymentCode: WECHAT, posOrderId: 'P1' });
    expect(b.orderNo).toBe(a.orderNo);
    await settle();
    expect(acquirer.calls).toHaveLength(1);
  });
});

describe('driving payments', () => {
  it('listeners see every change; one that throws does not stop the others; onChange returns an unsubscribe', async () => {
    startEngine();
    const other: string[] = [];
    engine.onChange(() => {
      throw new Error('a broken listener');
    });
    const off = engine.onChange((v) => other.push(v.state));
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.query.push(queries('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    expect(engine.get(p.orderNo)).toMatchObject({ state: 'querying', customerPaying: true });
    off();
    clock.advanceToNext();
    await settle();
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(other).toContain('querying');
    expect(other).not.toContain('paid');
    expect(seen.at(-1)).toMatchObject({ orderNo: p.orderNo, outcome: 'paid' });
  });

  it('waitFor and waitFinal resolve on the change that makes them true (at once when it already is)', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.query.push(queries('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    const querying = engine.waitFor(p.orderNo, (v) => v.state === 'querying');
    const final = engine.waitFinal(p.orderNo);
    let finalSeen = false;
    void final.then(() => (finalSeen = true));
    expect((await querying).state).toBe('querying');
    expect(finalSeen).toBe(false);
    clock.advanceToNext();
    expect((await final).outcome).toBe('paid');
    expect((await engine.waitFinal(p.orderNo)).outcome).toBe('paid');
    expect(engine.list().map((v) => v.orderNo)).toEqual([p.orderNo]);
    expect(engine.unfinished()).toEqual([]);
  });

  it('cancel: kept in the journal, the payment reversed; a final one cannot be cancelled', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.reverse.push(reverses('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    expect(engine.unfinished().map((v) => v.orderNo)).toEqual([p.orderNo]);
    expect(engine.cancel(p.orderNo)).toMatchObject({ orderNo: p.orderNo });
    expect(journal.getPayment(p.orderNo)!.cancel_requested).toBe(1);
    await settle();
    expect(engine.get(p.orderNo).outcome).toBe('reversed');
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay', 'reverse']);
    expect(() => engine.cancel(p.orderNo)).toThrow(expect.objectContaining({ code: 'PAY_ALREADY_FINAL', detail: { orderNo: p.orderNo, outcome: 'reversed' } }));
    expect(() => engine.get('NOSUCH')).toThrow(expect.objectContaining({ code: 'PAY_NOT_FOUND' }));
  });

  it('a restart resumes each unfinished payment from its row once, at the time the row says', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    const row = journal.getPayment(p.orderNo)!;
    expect(row.next_action_at).toBe(T0 + 5_000);
    await engine.stop();
    clock.advanceTo(T0 + 1_000);
    acquirer.script.query.push(queries('SUCCESS'));
    startEngine();
    engine.start();
    await settle();
    // Waits for the query time the row kept, not a fresh first-query delay from now.
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay']);
    expect(clock.advanceToNext()).toBe(true);
    expect(clock.now()).toBe(T0 + 5_000);
    await settle();
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay', 'query']);
  });

  it('a pay in flight at the power cut is taken as maybe arrived: queried, never sent again', async () => {
    startEngine();
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    // The pay left; the device died before the answer.
    await engine.stop();
    journal.beforePayAttempt(p.orderNo, T0);
    acquirer.calls.length = 0;
    acquirer.script.pay.length = 0;
    acquirer.script.query.push(queries('SUCCESS'));
    startEngine();
    await settle();
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(acquirer.calls.map((c) => c.op)).toEqual(['query']);
    expect(journal.getPayment(p.orderNo)!.maybe_sent).toBe(1);
  });

  it('when its own code fails (a full disk refuses the journal write), the POS is told and the payment is driven again from the journal after a pause', async () => {
    const { orderNo, disk, shown } = await payThenFailAWrite();
    const p = { orderNo };
    // The POS is shown the payment again (with whatever alarm the journal reports).
    expect(seen.length).toBe(shown + 1);
    const failedAt = clock.now();
    disk.restore();
    acquirer.script.query.push(queries('SUCCESS'));
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(clock.now() - failedAt).toBe(2_000);
  });

  it('stop: nothing more is sent, and a stopped engine resumes nothing', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    await engine.stop();
    while (clock.advanceToNext()) await Promise.resolve();
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay']);
    expect(() => engine.pay({ amount: 100, paymentCode: '134567890123456780' })).toThrow('payment engine not started');
    expect(engine.get(p.orderNo).outcome).toBeNull();
  });
});

describe('the outbox through the engine', () => {
  it('an item of another kind goes to its handler; a technician’s retry makes a waiting item due at once', async () => {
    const delivered: string[] = [];
    let fail = true;
    startEngine({
      outbox: { retryBaseMs: 60_000, retryMaxMs: 60_000 },
      outboxHandlers: {
        upload: async (item) => {
          delivered.push(item.payload);
          return fail ? { kind: 'retry', error: 'server busy' } : { kind: 'done' };
        },
      },
    });
    const item = engine.enqueue({ kind: 'upload', dedupeKey: 'upload:1', payload: { batch: 1 }, at: clock.now() });
    await settle();
    expect(delivered).toEqual(['{"batch":1}']);
    fail = false;
    expect(engine.retryOutbox(item.id)).toBe(true);
    await settle();
    expect(delivered).toHaveLength(2);
    expect(journal.getOutboxItem(item.id)!.status).toBe('done');
    expect(engine.retryOutbox(9_999)).toBe(false);
  });

  it('a refund through the engine, and its list', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const p = engine.pay({ amount: 500, paymentCode: WECHAT });
    await settle();
    acquirer.script.refund.push(unknown);
    const r = await engine.refund(p.orderNo, { refundId: 'R1', amount: 200 });
    expect(engine.refunds(p.orderNo)).toEqual([r]);
    expect(r.state).toBe('pending');
  });
});

describe('restart facts and shutdown', () => {
  /** A payment driven to USER_PAYING and left querying, then the engine stopped as a power cut would. */
  async function leftQuerying(o: Partial<EngineOptions> = {}): Promise<string> {
    startEngine(o);
    acquirer.script.pay.push(pays('USER_PAYING'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    await engine.stop();
    return p.orderNo;
  }
  const opsAt = () => acquirer.calls.map((c) => c.op);

  it('a cancel asked before the power cut is honoured after it: reversed, not queried', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    await engine.stop();
    // Asked while the engine was down (another process, or just before the cut).
    journal.transition(p.orderNo, 'querying', clock.now(), 'cancel requested', { cancel_requested: 1 });
    acquirer.script.reverse.push(reverses('SUCCESS'));
    startEngine();
    await settle();
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(p.orderNo).outcome).toBe('reversed');
    expect(opsAt()).toEqual(['pay', 'reverse']);
  });

  it('the queries already made count after a restart: the schedule goes on where it was', async () => {
    const profiles = { wechat: { firstQueryDelayMs: 1_000, queryScheduleMs: [1_000, 7_000] } };
    const orderNo = await leftQuerying({ profiles });
    journal.beforeQuery(orderNo, clock.now());
    journal.transition(orderNo, 'querying', clock.now(), 'query: USERPAYING', { next_action_at: clock.now() + 1_000 });
    acquirer.script.query.push(queries('USERPAYING'), queries('SUCCESS'));
    startEngine({ profiles });
    await settle();
    expect(clock.advanceToNext()).toBe(true);
    await settle();
    const second = clock.now();
    expect(opsAt()).toEqual(['pay', 'query']);
    expect(clock.advanceToNext()).toBe(true);
    // Third query: the schedule's second entry, 7 s (1 s had the count restarted at zero).
    expect(clock.now() - second).toBe(7_000);
    await settle();
    expect(engine.get(orderNo).outcome).toBe('paid');
  });

  it('the reverse attempts already made count after a restart: the backoff goes on where it was', async () => {
    const orderNo = await leftQuerying();
    for (let i = 0; i < 3; i++) journal.beforeReverse(orderNo, clock.now());
    journal.transition(orderNo, 'reversing', clock.now(), 'reverse: retry', { next_action_at: clock.now() });
    acquirer.script.reverse.push((req) => answer<ReverseResponse>({ result: 'RETRY', orderNo: req.orderNo as string, recall: true }), reverses('SUCCESS'));
    startEngine();
    await settle();
    while (opsAt().length < 2 && clock.advanceToNext()) await settle();
    const retriedAt = clock.now();
    while (engine.get(orderNo).outcome === null && clock.advanceToNext()) await settle();
    // Fourth attempt: half (the engine's jitter) of 1 s doubled three times.
    expect(clock.now() - retriedAt).toBe(4_000);
    expect(engine.get(orderNo).outcome).toBe('reversed');
  });

  it('stop waits for the call under way to settle', async () => {
    startEngine();
    let answerPay!: () => void;
    acquirer.script.pay.push((req) => new Promise((resolve) => (answerPay = () => resolve(pays('SUCCESS')(req)))));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    // The pay leaves once the journal's group sync has returned (a thread-pool fsync).
    while (answerPay === undefined) await new Promise((r) => setImmediate(r));
    let stopped = false;
    const stopping = engine.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    answerPay();
    await stopping;
    expect(stopped).toBe(true);
    expect(journal.getPayment(p.orderNo)!.pay_in_flight).toBe(0);
  });

  it('a payment whose write failed is not resumed by a stopped engine', async () => {
    const { orderNo, disk } = await payThenFailAWrite();
    await engine.stop();
    disk.restore();
    const calls = acquirer.calls.length;
    const written = journal.events(orderNo).length;
    acquirer.script.query.push(queries('SUCCESS'));
    // Each turn long enough for a resumed actor to write and call (the resume is 2 s away).
    while (clock.advanceToNext()) await new Promise((r) => setTimeout(r, 5));
    expect(acquirer.calls).toHaveLength(calls);
    expect(journal.events(orderNo)).toHaveLength(written);
  });

  it('waitFor ignores other payments’ changes', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'), pays('SUCCESS'));
    const a = engine.pay({ amount: 100, paymentCode: WECHAT });
    let aFinal = false;
    void engine.waitFinal(a.orderNo).then(() => (aFinal = true));
    const b = engine.pay({ amount: 100, paymentCode: ALIPAY });
    await settle();
    expect(engine.get(b.orderNo).outcome).toBe('paid');
    await new Promise((r) => setImmediate(r));
    expect(aFinal).toBe(false);
  });

  it('a reversal the backend did not answer is queued and delivered by the outbox, the POS told', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.reverse.push(unknown, reverses('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    engine.cancel(p.orderNo);
    await settle();
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(p.orderNo).outcome).toBe('reversed');
    expect(seen.filter((v) => v.orderNo === p.orderNo).map((v) => v.state)).toContain('reversal_queued');
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay', 'reverse', 'reverse']);
    expect(journal.outbox('done')).toEqual([expect.objectContaining({ kind: 'reverse', order_no: p.orderNo })]);
    expect(seen.at(-1)).toMatchObject({ orderNo: p.orderNo, outcome: 'reversed' });
  });

  it('a refund left unknown is due a second later by default and delivered by the outbox; the POS told each time', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const p = engine.pay({ amount: 500, paymentCode: WECHAT });
    await settle();
    acquirer.script.refund.push(unknown, (req) => answer({ result: 'SUCCESS' as const, orderNo: req.orderNo as string, refundNo: req.refundNo as string }));
    const shown = seen.length;
    const r = await engine.refund(p.orderNo, { refundId: 'R1' });
    expect(seen.length).toBe(shown + 1);
    expect(r.state).toBe('pending');
    expect(journal.outbox('pending')).toEqual([expect.objectContaining({ kind: 'refund', created_at: T0, next_attempt_at: T0 + 1_000 })]);
    // Not raced by the outbox at once: its first try is a second later.
    await settle();
    expect(acquirer.calls.filter((c) => c.op === 'refund')).toHaveLength(1);
    while (engine.refunds(p.orderNo)[0]!.state === 'pending' && clock.advanceToNext()) await settle();
    expect(engine.refunds(p.orderNo)).toEqual([{ ...r, state: 'refunded' }]);
    expect(clock.now()).toBe(T0 + 1_000);
    await settle();
    expect(journal.outbox('done')).toHaveLength(1);
    expect(acquirer.calls.filter((c) => c.op === 'refund').map((c) => c.req.refundNo)).toEqual([r.refundNo, r.refundNo]);
  });

  it('a refund confirmed at once marks its outbox copy done', async () => {
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const p = engine.pay({ amount: 500, paymentCode: WECHAT });
    await settle();
    acquirer.script.refund.push((req) => answer({ result: 'SUCCESS' as const, orderNo: req.orderNo as string, refundNo: req.refundNo as string }));
    await engine.refund(p.orderNo, { refundId: 'R1' });
    expect(journal.outbox('pending')).toEqual([]);
    expect(journal.outbox('done')).toEqual([expect.objectContaining({ kind: 'refund', done_at: clock.now() })]);
  });

  it('kickOutbox picks up an item queued by another process', async () => {
    const delivered: string[] = [];
    startEngine({ outboxHandlers: { upload: async (item) => (delivered.push(item.dedupe_key), { kind: 'done' }) } });
    journal.enqueue({ kind: 'upload', dedupeKey: 'upload:7', payload: {}, at: clock.now() });
    await settle();
    expect(delivered).toEqual([]);
    engine.kickOutbox();
    await settle();
    expect(delivered).toEqual(['upload:7']);
  });
});

describe('restarts after a lost answer, and what the POS is told (issue 13)', () => {
  const opsAt = () => acquirer.calls.map((c) => c.op);
  const causes = (orderNo: string) => journal.events(orderNo).map((e) => e.cause);
  const notPaid = (req: Record<string, unknown>) => answer<QueryResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, trade: trade(req.orderNo as string, 'NOTPAY') });

  /**
   * A pay whose answer was lost (maybe sent, no longer in flight) and whose next write, the
   * move to querying, never reached the disk: the row still says `submitting`. The power cut
   * comes before the pay leaves; the journal is then written as the lost answer leaves it.
   */
  async function lostPayAnswer(): Promise<string> {
    startEngine();
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await engine.stop();
    journal.afterPayAttempt(p.orderNo, T0 + 1_000, true, 'pay unknown');
    expect(journal.getPayment(p.orderNo)).toMatchObject({ state: 'submitting', pay_in_flight: 0, maybe_sent: 1 });
    acquirer.calls.length = 0;
    acquirer.script.pay.length = 0;
    return p.orderNo;
  }

  it('a restart after a lost pay answer queries the order, never pays again', async () => {
    const orderNo = await lostPayAnswer();
    acquirer.script.query.push(queries('SUCCESS'));
    startEngine();
    await settle();
    while (engine.get(orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(orderNo).outcome).toBe('paid');
    expect(opsAt()).toEqual(['query']);
    expect(causes(orderNo)).toContain('recovered: a pay may have arrived');
  });

  it('restarted long after the code expired, a lost pay answer is queried and reversed, never "declined, not charged"', async () => {
    const orderNo = await lostPayAnswer();
    clock.advanceTo(T0 + 3_600_000);
    acquirer.script.query.push(notPaid);
    acquirer.script.reverse.push(reverses('SUCCESS'));
    startEngine();
    await settle();
    while (engine.get(orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(orderNo)).toMatchObject({ outcome: 'reversed' });
    expect(opsAt()).toEqual(['query', 'reverse']);
  });

  it('the pay in flight at a power cut is written down as maybe arrived, in words a technician reads', async () => {
    startEngine();
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await engine.stop();
    acquirer.calls.length = 0;
    acquirer.script.query.push(queries('SUCCESS'));
    startEngine();
    await settle();
    expect(journal.events(p.orderNo)).toContainEqual(expect.objectContaining({ state: 'submitting', cause: 'recovered: pay may have arrived before the restart' }));
    expect(journal.getPayment(p.orderNo)).toMatchObject({ maybe_sent: 1, pay_in_flight: 0 });
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(opsAt()).toEqual(['query']);
  });

  it('the same POS order id again writes nothing and starts nothing: the payment is driven once', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.query.push(queries('SUCCESS'));
    const a = engine.pay({ amount: 300, paymentCode: WECHAT, posOrderId: 'P7' });
    const story = journal.events(a.orderNo);
    expect(engine.pay({ amount: 300, paymentCode: WECHAT, posOrderId: 'P7' }).orderNo).toBe(a.orderNo);
    expect(journal.events(a.orderNo)).toEqual(story);
    await settle();
    while (engine.get(a.orderNo).outcome === null && clock.advanceToNext()) await settle();
    await settle();
    expect(engine.get(a.orderNo).outcome).toBe('paid');
    expect(opsAt()).toEqual(['pay', 'query']);
  });

  it('a cancel while the payment waits to be resumed (its actor failed on a full disk) is kept and honoured when it resumes', async () => {
    const { orderNo, disk } = await payThenFailAWrite();
    disk.restore();
    expect(engine.cancel(orderNo)).toMatchObject({ orderNo, outcome: null });
    expect(journal.getPayment(orderNo)!.cancel_requested).toBe(1);
    acquirer.script.reverse.push(reverses('SUCCESS'));
    while (engine.get(orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(orderNo).outcome).toBe('reversed');
    expect(opsAt().at(-1)).toBe('reverse');
    expect(opsAt()).not.toContain('query');
  });

  it('a journal that cannot be read when the payment is due to resume: it tries again later, and the payment ends', async () => {
    const { orderNo, disk } = await payThenFailAWrite();
    disk.restore();
    const read = journal.getPayment.bind(journal);
    let failing = false;
    let refused = 0;
    journal.getPayment = (n: string) => {
      if (failing) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR', refused: ++refused });
      return read(n);
    };
    // The resume timer is the only one due: its read fails.
    failing = true;
    expect(clock.advanceToNext()).toBe(true);
    failing = false;
    expect(refused).toBe(1);
    acquirer.script.query.push(queries('SUCCESS'));
    while (engine.get(orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(orderNo).outcome).toBe('paid');
  });

  it('a restart of the engine while a failed payment waits to be resumed: the old timer starts no second actor, nor pays a finished one again', async () => {
    const { orderNo, disk } = await payThenFailAWrite();
    disk.restore();
    await engine.stop();
    acquirer.script.query.push(queries('SUCCESS'));
    engine.start();
    await settle();
    while (clock.advanceToNext()) await settle();
    expect(engine.get(orderNo).outcome).toBe('paid');
    expect(opsAt()).toEqual(['pay', 'query']);
  });

  it('a reversal undeliverable past its maximum age stays queued, never a dead letter, and the POS sees the alarm at once', async () => {
    startEngine({ outbox: { maxAgeMs: { reverse: 10_000 }, retryBaseMs: 1_000, retryMaxMs: 4_000 } });
    acquirer.script.pay.push(pays('USER_PAYING'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    for (let i = 0; i < 40; i++) acquirer.script.reverse.push(unknown);
    engine.cancel(p.orderNo);
    await settle();
    const overdue = () => journal.outbox('pending').some((i) => i.overdue_at !== null);
    while (!overdue() && clock.advanceToNext()) await settle();
    expect(journal.outbox('dead')).toEqual([]);
    expect(engine.get(p.orderNo)).toMatchObject({ outcome: null, state: 'reversal_queued', alarms: [expect.objectContaining({ code: 'PAY_FOLLOW_UP_OVERDUE' })] });
    expect(seen.filter((v) => v.orderNo === p.orderNo).at(-1)!.alarms.map((a) => a.code)).toEqual(['PAY_FOLLOW_UP_OVERDUE']);
    acquirer.script.reverse.length = 0;
    acquirer.script.reverse.push(reverses('SUCCESS'));
    while (engine.get(p.orderNo).outcome === null && clock.advanceToNext()) await settle();
    expect(engine.get(p.orderNo)).toMatchObject({ outcome: 'reversed', alarms: [] });
  });

  it('an acquirer that forgets an acknowledged order: the POS sees the alarm when the query says so', async () => {
    startEngine();
    acquirer.script.pay.push(pays('USER_PAYING'));
    acquirer.script.query.push((req) => answer<QueryResponse>({ result: 'FAIL', orderNo: req.orderNo as string, reasonCode: 'ORDER_NOT_FOUND' }));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await settle();
    const shown = seen.length;
    clock.advanceToNext();
    await settle();
    expect(opsAt()).toEqual(['pay', 'query']);
    expect(seen.length).toBeGreaterThan(shown);
    expect(seen.at(-1)).toMatchObject({ orderNo: p.orderNo, outcome: null, alarms: [expect.objectContaining({ code: 'BACKEND_ORDER_FORGOTTEN' })] });
  });

  /**
   * The journal again with a stand-in WAL fsync: every sync before the pay leaves completes;
   * the one after it (the "paid" write's) is `after`'s to settle.
   */
  function syncsAfterThePay(after: (settle: (e?: Error) => void) => void): void {
    journal.close();
    journal = Journal.open(join(dir, 'journal.db'), {
      fsyncWal: () => new Promise<void>((resolve, reject) => (acquirer.calls.length === 0 ? resolve() : after((e) => (e ? reject(e) : resolve())))),
    });
  }
  const turns = async (done: () => boolean) => {
    for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setImmediate(r));
  };

  it('"paid" reaches the POS only once its write is synced: until then every read shows the payment as it stood', async () => {
    const held: (() => void)[] = [];
    syncsAfterThePay((settleSync) => held.push(() => settleSync()));
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await turns(() => held.length > 0);
    expect(held).toHaveLength(1);
    // Written, not yet on disk: a power cut now could take it back.
    expect(journal.getPayment(p.orderNo)?.outcome).toBe('paid');
    expect(engine.get(p.orderNo)).toMatchObject({ outcome: null, state: 'submitting' });
    expect(engine.list().find((v) => v.orderNo === p.orderNo)?.outcome).toBeNull();
    expect(seen.filter((v) => v.outcome === 'paid')).toEqual([]);
    held[0]!();
    await settle();
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(seen.at(-1)).toMatchObject({ orderNo: p.orderNo, outcome: 'paid' });
  });

  it('"paid" whose sync the disk refuses is still shown (the backend said paid); the journal\'s fault stands', async () => {
    syncsAfterThePay((settleSync) => settleSync(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })));
    startEngine();
    acquirer.script.pay.push(pays('SUCCESS'));
    const p = engine.pay({ amount: 100, paymentCode: WECHAT });
    await turns(() => journal.writeFault !== undefined);
    await settle();
    expect(journal.writeFault?.code).toBe('JOURNAL_WRITE_FAILED');
    expect(engine.get(p.orderNo).outcome).toBe('paid');
    expect(seen.at(-1)).toMatchObject({ orderNo: p.orderNo, outcome: 'paid' });
    expect(acquirer.calls.map((c) => c.op)).toEqual(['pay']);
  });

  it('a refused currency says which one', () => {
    startEngine();
    expect(() => engine.pay({ amount: 100, paymentCode: WECHAT, currency: 'cny' })).toThrow(expect.objectContaining({ code: 'PAY_CURRENCY_INVALID', detail: { currency: 'cny' } }));
  });
});
