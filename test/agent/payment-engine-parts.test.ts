/**
 * The engine's parts one by one, on a real SQLite journal and a manual clock: what the
 * cashier's view shows, the alarms, the wallet timings, the journal facts `record` writes
 * (they decide what a restart does), refunds and the pay/query/reverse actors. The acquirer
 * is a scripted stand-in behind the same interface the HTTP client implements: each test
 * says what the backend answered and checks what reached the wire and the journal.
 * End to end over real HTTP: payment-engine.test.ts and unknown-outcomes.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCANPAY_V1_PROFILE, type AcquirerProfile } from '../../agent/backend/acquirer-profile.ts';
import { ManualClock } from '../../agent/clock.ts';
import { Journal, type OutboxRow, type PaymentRow } from '../../agent/journal/journal.ts';
import { silentLogger, type Logger } from '../../agent/log.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { backoff, backoffCap } from '../../agent/payment/backoff.ts';
import { enqueueReversal, logCall, requirePayment, type EngineCore } from '../../agent/payment/engine-core.ts';
import { alarmCounts, deviceAlarmWords, paymentAlarms, storageWords, type AlarmSource } from '../../agent/payment/payment-alarms.ts';
import { PaymentActors } from '../../agent/payment/payment-actors.ts';
import { DEFAULT_PROFILES, resolveProfiles, type WalletProfile } from '../../agent/payment/profiles.ts';
import { PaymentRecorder } from '../../agent/payment/record.ts';
import { Refunds } from '../../agent/payment/refunds.ts';
import { unprovided } from '../../agent/payment/unprovided.ts';
import { paymentView, refundedAmount, refundView } from '../../agent/payment/views.ts';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse } from '../../agent/protocol/messages.ts';
import { createActor, toPromise } from 'xstate';
import { answer, notSent, ScriptedAcquirer, trade, unknown, type Answer } from '../support/scripted-acquirer.ts';

const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const DAY = 24 * 3_600_000;


let dir: string;
let journal: Journal;
let clock: ManualClock;
let acquirer: ScriptedAcquirer;
let changed: string[];
let core: EngineCore;
let profiles: Record<Wallet, WalletProfile>;

function makeCore(acquirerProfile: AcquirerProfile = SCANPAY_V1_PROFILE): EngineCore {
  return {
    journal,
    acquirer,
    clock,
    log: silentLogger,
    acquirerProfile,
    profileOf: (w) => profiles[w],
    track: (p) => p,
    changed: (orderNo) => changed.push(orderNo),
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-parts-'));
  journal = Journal.open(join(dir, 'journal.db'));
  clock = new ManualClock(T0);
  acquirer = new ScriptedAcquirer();
  changed = [];
  profiles = DEFAULT_PROFILES;
  core = makeCore();
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function newPayment(o: { amount?: number; wallet?: Wallet; code?: string } = {}): PaymentRow {
  seq += 1;
  const orderNo = `T1${String(seq).padStart(8, '0')}`;
  const code = o.code ?? `1345678901234${String(seq).padStart(5, '0')}`;
  return journal.createPayment({
    orderNo,
    amount: o.amount ?? 1000,
    currency: 'CNY',
    description: 'tea',
    wallet: o.wallet ?? 'wechat',
    code,
    codeMasked: '1345********6789',
    traceId: `trace${seq}`,
    createdAt: clock.now(),
    codeExpiresAt: clock.now() + 60_000,
    queryDeadlineAt: clock.now() + 45_000,
  }).row;
}
const row = (orderNo: string) => journal.getPayment(orderNo)!;
const causes = (orderNo: string) => journal.events(orderNo).map((e) => e.cause);
function paidPayment(amount = 1000): PaymentRow {
  const p = newPayment({ amount });
  journal.finish(p.order_no, 'paid', clock.now(), 'pay SUCCESS');
  return row(p.order_no);
}

describe('views: what the POS and the cashier see', () => {
  it('refundedAmount counts confirmed refunds, and pending ones only when asked; failed ones never', () => {
    const p = paidPayment(1000);
    journal.createRefund({ refundNo: 'RFA', posRefundId: 'a', orderNo: p.order_no, amount: 100, at: T0 });
    journal.createRefund({ refundNo: 'RFB', posRefundId: 'b', orderNo: p.order_no, amount: 200, at: T0 });
    journal.createRefund({ refundNo: 'RFC', posRefundId: 'c', orderNo: p.order_no, amount: 400, at: T0 });
    journal.settleRefund('RFA', 'refunded', T0);
    journal.settleRefund('RFC', 'failed', T0, 'NOT_ENOUGH');
    expect(refundedAmount(journal, p.order_no, false)).toBe(100);
    expect(refundedAmount(journal, p.order_no, true)).toBe(300);
    expect(paymentView(journal, row(p.order_no), undefined).refundedAmount).toBe(100);
    expect(journal.refundsOf(p.order_no).map(refundView)).toEqual([
      { refundId: 'a', refundNo: 'RFA', orderNo: p.order_no, amount: 100, state: 'refunded', reasonCode: null },
      { refundId: 'b', refundNo: 'RFB', orderNo: p.order_no, amount: 200, state: 'pending', reasonCode: null },
      { refundId: 'c', refundNo: 'RFC', orderNo: p.order_no, amount: 400, state: 'failed', reasonCode: 'NOT_ENOUGH' },
    ]);
  });

  it('shows every field of the row, the masked code only, and the last cause from the journal', () => {
    const p = newPayment({ amount: 1234, wallet: 'alipay' });
    journal.transition(p.order_no, 'submitting', T0 + 1, 'pay-sent');
    journal.transition(p.order_no, 'querying', T0 + 5, 'pay USER_PAYING', { next_action_at: T0 + 5_000 });
    const v = paymentView(journal, row(p.order_no), undefined);
    expect(v).toEqual({
      orderNo: p.order_no,
      posOrderId: null,
      amount: 1234,
      currency: 'CNY',
      description: 'tea',
      wallet: 'alipay',
      code: '1345********6789',
      traceId: p.trace_id,
      state: 'querying',
      outcome: null,
      reasonCode: null,
      reasonMessage: null,
      customerPaying: false,
      cause: 'pay USER_PAYING',
      createdAt: T0,
      updatedAt: T0 + 5,
      finalAt: null,
      queryDeadlineAt: T0 + 45_000,
      refundedAmount: 0,
      lane: null,
      alarms: [],
    });
    expect(JSON.stringify(v)).not.toContain(p.code!);
  });

  it('a final payment shows its outcome, reason and end time', () => {
    const p = newPayment();
    journal.finish(p.order_no, 'declined', T0 + 9, 'pay FAIL', { reason_code: 'NOT_ENOUGH', reason_message: 'balance' });
    expect(paymentView(journal, row(p.order_no), undefined)).toMatchObject({ state: 'declined', outcome: 'declined', reasonCode: 'NOT_ENOUGH', reasonMessage: 'balance', finalAt: T0 + 9, cause: 'pay FAIL', refundedAmount: 0 });
  });

  it('the running machine’s cause and "customer paying" win over the journal', () => {
    const p = newPayment();
    const live = { cause: 'query USERPAYING', customerPaying: true } as Parameters<typeof paymentView>[2];
    expect(paymentView(journal, row(p.order_no), live)).toMatchObject({ cause: 'query USERPAYING', customerPaying: true });
  });

  it('the alarms of the payment come with it', () => {
    const p = newPayment();
    journal.transition(p.order_no, 'querying', T0, 'contradiction', { contradiction_at: T0 });
    expect(paymentView(journal, row(p.order_no), undefined).alarms.map((a) => a.code)).toEqual(['BACKEND_ORDER_FORGOTTEN']);
  });
});

describe('payment alarms', () => {
  const overdue = (kind: string, ageMs: number, overdueAt: number | null = T0) => ({ kind, age_ms: ageMs, overdue_at: overdueAt }) as OutboxRow;

  it('a journal that cannot be written is an alarm on unfinished payments only, in the words of its SQLite code', () => {
    const p = newPayment();
    const full = { detail: { sqliteCode: 'SQLITE_FULL' } };
    expect(paymentAlarms(row(p.order_no), [], full)).toEqual([{ code: 'JOURNAL_WRITE_FAILED', message: storageWords(full) }]);
    expect(paymentAlarms(row(p.order_no), [], undefined)).toEqual([]);
    journal.finish(p.order_no, 'paid', T0, 'paid');
    expect(paymentAlarms(row(p.order_no), [], full)).toEqual([]);
  });

  it('storage words: full, I/O error, anything else', () => {
    expect(storageWords({ detail: { sqliteCode: 'SQLITE_FULL' } })).toMatch(/^The terminal's storage is full/);
    expect(storageWords({ detail: { sqliteCode: 'SQLITE_IOERR_WRITE' } })).toMatch(/^The terminal's storage failed to write/);
    for (const f of [{ detail: { sqliteCode: 'SQLITE_READONLY' } }, { detail: {} }, {}]) expect(storageWords(f)).toMatch(/^The terminal cannot save payments right now/);
    // The code must start the name: a message merely mentioning it is not that fault.
    expect(storageWords({ detail: { sqliteCode: 'NOT_SQLITE_FULL' } })).toMatch(/cannot save payments right now/);
    expect(storageWords({ detail: { sqliteCode: 'NOT_SQLITE_IOERR' } })).toMatch(/cannot save payments right now/);
  });

  it('an acquirer that forgot the order: an alarm until the payment ends', () => {
    const p = newPayment();
    expect(paymentAlarms(row(p.order_no), [], undefined)).toEqual([]);
    journal.transition(p.order_no, 'querying', T0, 'contradiction', { contradiction_at: T0 });
    expect(paymentAlarms(row(p.order_no), [], undefined)).toEqual([{ code: 'BACKEND_ORDER_FORGOTTEN', message: expect.stringMatching(/no longer knows this payment.*Do not hand over the goods/) }]);
    journal.finish(p.order_no, 'reversed', T0, 'reversed');
    expect(paymentAlarms(row(p.order_no), [], undefined)).toEqual([]);
  });

  it('a reversal or refund past its maximum age: one alarm each, saying which and for how many days (at least one)', () => {
    const p = row(paidPayment().order_no);
    const alarms = paymentAlarms(p, [overdue('reverse', DAY / 2), overdue('refund', 3.5 * DAY), overdue('reverse', 9 * DAY, null)], undefined);
    expect(alarms).toEqual([
      { code: 'PAY_FOLLOW_UP_OVERDUE', message: 'The reversal has not reached the acquirer for over 1 day(s): the customer may still be charged. It is still being tried; call the technician.' },
      { code: 'PAY_FOLLOW_UP_OVERDUE', message: 'The refund has not reached the acquirer for over 3 day(s): the customer may still be charged. It is still being tried; call the technician.' },
    ]);
  });

  it('the metric counts overdue items still pending only: one delivered since is no alarm', () => {
    const p = newPayment();
    const item = journal.enqueue({ kind: 'reverse', orderNo: p.order_no, dedupeKey: `reverse:${p.order_no}`, payload: {}, at: T0 });
    journal.outboxOverdue(item.id, T0 + DAY, DAY);
    expect(alarmCounts(journal).follow_up_overdue).toBe(1);
    journal.outboxDone(item.id, T0 + DAY + 1);
    expect(alarmCounts(journal).follow_up_overdue).toBe(0);
  });

  it('counts for the metric and the device words', () => {
    const source = (o: { fault?: boolean; overdue?: number; forgotten?: number }): AlarmSource => ({
      writeFault: o.fault ? { detail: { sqliteCode: 'SQLITE_FULL' } } : undefined,
      outbox: () => [overdue('reverse', DAY, null), ...Array.from({ length: o.overdue ?? 0 }, () => overdue('refund', DAY))],
      unfinished: () => [{ contradiction_at: null } as PaymentRow, ...Array.from({ length: o.forgotten ?? 0 }, () => ({ contradiction_at: T0 }) as PaymentRow)],
    });
    expect(alarmCounts(source({}))).toEqual({ journal_write_failed: 0, follow_up_overdue: 0, order_forgotten: 0 });
    expect(deviceAlarmWords(source({}))).toEqual([]);
    expect(alarmCounts(source({ fault: true, overdue: 2, forgotten: 3 }))).toEqual({ journal_write_failed: 1, follow_up_overdue: 2, order_forgotten: 3 });
    expect(deviceAlarmWords(source({ fault: true, overdue: 2, forgotten: 3 }))).toEqual([
      storageWords({ detail: { sqliteCode: 'SQLITE_FULL' } }),
      '2 reversal(s) or refund(s) have not reached the acquirer for days: customers may still be charged. They are still being tried; call the technician.',
      'The acquirer lost track of 3 payment(s) it had received: they are being reversed to be sure. Call the technician.',
    ]);
  });
});

describe('record: the journal facts a restart decides from', () => {
  let kicks: number;
  let recorder: PaymentRecorder;
  beforeEach(() => {
    kicks = 0;
    recorder = new PaymentRecorder(core, () => (kicks += 1));
  });

  it('a wait is kept as next_action_at: now plus the wait; a reversal is due at once', () => {
    const p = newPayment();
    clock.advanceTo(T0 + 100);
    recorder.record(p.order_no, 'waiting_network', { cause: 'pay: network down', waitMs: 2_000 });
    expect(row(p.order_no)).toMatchObject({ state: 'waiting_network', next_action_at: T0 + 2_100, updated_at: T0 + 100 });
    recorder.record(p.order_no, 'querying', { cause: 'pay USER_PAYING', waitMs: 5_000 });
    expect(row(p.order_no)).toMatchObject({ state: 'querying', next_action_at: T0 + 5_100 });
    recorder.record(p.order_no, 'querying', { cause: 'no wait given' });
    expect(row(p.order_no).next_action_at).toBe(T0 + 100);
    recorder.record(p.order_no, 'reversing', { cause: 'deadline', waitMs: 9_999 });
    expect(row(p.order_no)).toMatchObject({ state: 'reversing', next_action_at: T0 + 100 });
    expect(causes(p.order_no).slice(-4)).toEqual(['pay: network down', 'pay USER_PAYING', 'no wait given', 'deadline']);
    expect(row(p.order_no).outcome).toBeNull();
  });

  it('submitting writes nothing: the pay actor writes it itself, right before the request', () => {
    const p = newPayment();
    const before = journal.events(p.order_no).length;
    recorder.record(p.order_no, 'submitting', { cause: 'start' });
    expect(journal.events(p.order_no)).toHaveLength(before);
    expect(row(p.order_no).state).toBe(p.state);
  });

  it('a queued reversal: the state and one outbox item together, and the outbox kicked on the next turn', async () => {
    const p = newPayment();
    recorder.record(p.order_no, 'reversal_queued', { cause: 'reverse unreachable' });
    expect(row(p.order_no).state).toBe('reversal_queued');
    expect(journal.outbox('pending')).toEqual([expect.objectContaining({ kind: 'reverse', order_no: p.order_no, dedupe_key: `reverse:${p.order_no}`, payload: JSON.stringify({ orderNo: p.order_no }), next_attempt_at: T0 })]);
    expect(kicks).toBe(0);
    await Promise.resolve();
    expect(kicks).toBe(1);
    // Restored in this state after a restart: no second item, no second state change.
    const events = journal.events(p.order_no).length;
    recorder.record(p.order_no, 'reversal_queued', { cause: 'restored' });
    expect(journal.outbox('pending')).toHaveLength(1);
    expect(journal.events(p.order_no)).toHaveLength(events);
    await Promise.resolve();
    expect(kicks).toBe(2);
  });

  it('a queued reversal whose item is already done is not queued again', () => {
    const p = newPayment();
    recorder.record(p.order_no, 'reversal_queued', { cause: 'reverse unreachable' });
    const item = journal.outbox('pending')[0]!;
    journal.outboxDone(item.id, T0);
    enqueueReversal(journal, p.order_no, T0 + 1);
    expect(journal.outbox('pending')).toEqual([]);
  });

  it.each(['paid', 'declined', 'reversed'] as const)('%s: final, with its reason and the acquirer’s trade number', (state) => {
    const p = newPayment();
    clock.advanceTo(T0 + 50);
    recorder.record(p.order_no, state, { cause: `pay ${state}`, reasonCode: 'R1', reasonMessage: 'words', tradeNo: 'TN-9' });
    expect(row(p.order_no)).toMatchObject({ state, outcome: state, reason_code: 'R1', reason_message: 'words', acquirer_trade_no: 'TN-9', final_at: T0 + 50, code: null });
    expect(causes(p.order_no).at(-1)).toBe(`pay ${state}`);
  });

  it('final without reasons: nulls, and a trade number learnt earlier is kept', () => {
    const p = newPayment();
    journal.transition(p.order_no, 'querying', T0, 'x', { acquirer_trade_no: 'TN-EARLY', reason_code: 'OLD', reason_message: 'old' });
    recorder.record(p.order_no, 'paid', { cause: 'query SUCCESS', tradeNo: '' });
    expect(row(p.order_no)).toMatchObject({ outcome: 'paid', reason_code: null, reason_message: null, acquirer_trade_no: 'TN-EARLY' });
  });

  it('the cashier’s cancel is kept once for a restart; the state is unchanged', () => {
    const p = newPayment();
    journal.transition(p.order_no, 'querying', T0, 'pay USER_PAYING');
    clock.advanceTo(T0 + 7);
    recorder.requestCancel(p.order_no);
    expect(row(p.order_no)).toMatchObject({ cancel_requested: 1, state: 'querying', updated_at: T0 + 7 });
    expect(causes(p.order_no).at(-1)).toBe('cancel requested');
    const n = journal.events(p.order_no).length;
    recorder.requestCancel(p.order_no);
    expect(journal.events(p.order_no)).toHaveLength(n);
    expect(() => recorder.requestCancel('T1NOSUCH0000')).toThrow(expect.objectContaining({ code: 'PAY_NOT_FOUND' }));
  });
});

describe('refunds', () => {
  let done: number[];
  let kicks: number;
  let refunds: Refunds;
  beforeEach(() => {
    done = [];
    kicks = 0;
    refunds = new Refunds(core, { retryBaseMs: 1_500, outboxDone: (id) => done.push(id), kickOutbox: () => (kicks += 1), changed: (o) => changed.push(o) });
  });
  const refundAnswer = (result: RefundResponse['result'], extra: Partial<RefundResponse> = {}) => (req: Record<string, unknown>) =>
    answer<RefundResponse>({ result, orderNo: req.orderNo as string, refundNo: req.refundNo as string, ...extra });

  it('sends at once what it wrote first: the order, a new refund number, the amount and the trace id; confirmed, the outbox copy is done', async () => {
    const p = paidPayment(1000);
    acquirer.script.refund.push((req) => {
      // Written (refund row and outbox item) before the request left.
      expect(journal.getRefundByNo(req.refundNo as string)?.state).toBe('pending');
      expect(journal.outbox('pending')).toEqual([expect.objectContaining({ kind: 'refund', dedupe_key: `refund:${req.refundNo}`, next_attempt_at: T0 + 1_500 })]);
      return refundAnswer('SUCCESS')(req);
    });
    const v = await refunds.refund(p.order_no, { refundId: 'R1', amount: 300 });
    expect(v).toMatchObject({ refundId: 'R1', orderNo: p.order_no, amount: 300, state: 'refunded', reasonCode: null });
    expect(v.refundNo).toMatch(/^RF[0-9a-f]{20}$/);
    expect(acquirer.calls).toEqual([{ op: 'refund', req: { orderNo: p.order_no, refundNo: v.refundNo, amount: 300, traceId: p.trace_id } }]);
    expect(done).toEqual([journal.outbox('pending')[0]!.id]);
    expect(kicks).toBe(0);
    expect(changed).toEqual([p.order_no]);
    expect(JSON.parse(journal.outbox('pending')[0]!.payload)).toEqual({ refundNo: v.refundNo });
  });

  it.each([
    ['answered UNKNOWN', () => refundAnswer('UNKNOWN', { reasonCode: 'SYSTEM_ERROR' }), 'refund outcome unknown'],
    ['with no verified answer', () => unknown, 'BACKEND_UNKNOWN: response lost'],
    ['not sent', () => notSent, 'BACKEND_NOT_SENT: connection refused'],
  ])('a refund %s is never failed: pending, left to the outbox, and it counts against the amount', async (_name, make, error) => {
    const p = paidPayment(1000);
    acquirer.script.refund.push(make() as Answer<RefundResponse>);
    const v = await refunds.refund(p.order_no, { refundId: 'R1' });
    expect(v).toMatchObject({ state: 'pending', amount: 1000, reasonCode: null });
    expect(done).toEqual([]);
    expect(kicks).toBe(1);
    expect(changed).toEqual([p.order_no]);
    await expect(refunds.refund(p.order_no, { refundId: 'R2' })).rejects.toMatchObject({ code: 'PAY_REFUND_EXCEEDS' });
    // The outbox's next attempt: still unknown, then confirmed.
    acquirer.script.refund.push(make() as Answer<RefundResponse>);
    expect(await refunds.deliver(v.refundNo)).toEqual({ kind: 'retry', error });
    acquirer.script.refund.push(refundAnswer('SUCCESS'));
    expect(await refunds.deliver(v.refundNo)).toEqual({ kind: 'done' });
    expect(refunds.list(p.order_no)).toEqual([expect.objectContaining({ refundId: 'R1', state: 'refunded' })]);
    expect(acquirer.calls.map((c) => c.req.refundNo)).toEqual([v.refundNo, v.refundNo, v.refundNo]);
  });

  it('a definite FAIL ends failed with its reason (FAIL when none given); a failed refund frees the amount', async () => {
    const p = paidPayment(1000);
    acquirer.script.refund.push(refundAnswer('FAIL', { reasonCode: 'NOT_ENOUGH' }));
    expect(await refunds.refund(p.order_no, { refundId: 'R1', amount: 600 })).toMatchObject({ state: 'failed', reasonCode: 'NOT_ENOUGH' });
    acquirer.script.refund.push(refundAnswer('FAIL'));
    expect(await refunds.refund(p.order_no, { refundId: 'R2', amount: 600 })).toMatchObject({ state: 'failed', reasonCode: 'FAIL' });
    expect(done).toHaveLength(2);
    acquirer.script.refund.push(refundAnswer('SUCCESS'));
    expect(await refunds.refund(p.order_no, { refundId: 'R3' })).toMatchObject({ state: 'refunded', amount: 1000 });
  });

  it('without an amount: what is left, pending refunds counted; with nothing left it says so', async () => {
    const p = paidPayment(1000);
    acquirer.script.refund.push(unknown);
    await refunds.refund(p.order_no, { refundId: 'R1', amount: 250 });
    acquirer.script.refund.push(refundAnswer('SUCCESS'));
    expect(await refunds.refund(p.order_no, { refundId: 'R2' })).toMatchObject({ amount: 750, state: 'refunded' });
    await expect(refunds.refund(p.order_no, { refundId: 'R3' })).rejects.toMatchObject({ code: 'PAY_REFUND_EXCEEDS', detail: { orderNo: p.order_no } });
    expect(acquirer.calls).toHaveLength(2);
  });

  it.each([0, -5, 2.5, Number.NaN, 2 ** 53])('refuses an amount of %s with PAY_AMOUNT_INVALID, nothing written or sent', async (amount) => {
    const p = paidPayment(1000);
    await expect(refunds.refund(p.order_no, { refundId: 'R1', amount })).rejects.toMatchObject({ code: 'PAY_AMOUNT_INVALID' });
    expect(journal.refundsOf(p.order_no)).toEqual([]);
    expect(acquirer.calls).toEqual([]);
  });

  it('the same refund id: the same refund, not sent again; another order or amount is a conflict', async () => {
    const p = paidPayment(1000);
    const other = paidPayment(1000);
    acquirer.script.refund.push(unknown);
    const first = await refunds.refund(p.order_no, { refundId: 'R1', amount: 400 });
    expect(await refunds.refund(p.order_no, { refundId: 'R1', amount: 400 })).toEqual(first);
    expect(await refunds.refund(p.order_no, { refundId: 'R1' })).toEqual(first);
    await expect(refunds.refund(p.order_no, { refundId: 'R1', amount: 401 })).rejects.toMatchObject({ code: 'PAY_REFUND_CONFLICT', detail: { refundId: 'R1' } });
    await expect(refunds.refund(other.order_no, { refundId: 'R1' })).rejects.toMatchObject({ code: 'PAY_REFUND_CONFLICT' });
    expect(acquirer.calls).toHaveLength(1);
    expect(kicks).toBe(1);
  });

  it('an unknown payment: PAY_NOT_FOUND', async () => {
    await expect(refunds.refund('T1NOSUCH0000', { refundId: 'R1' })).rejects.toMatchObject({ code: 'PAY_NOT_FOUND' });
  });

  it('delivery of a refund the journal does not know is a dead letter; of a settled one, done without a call', async () => {
    expect(await refunds.deliver('RFNONE')).toEqual({ kind: 'dead', error: 'no refund RFNONE in the journal' });
    const p = paidPayment(1000);
    acquirer.script.refund.push(refundAnswer('SUCCESS'));
    const v = await refunds.refund(p.order_no, { refundId: 'R1' });
    expect(await refunds.deliver(v.refundNo)).toEqual({ kind: 'done' });
    expect(acquirer.calls).toHaveLength(1);
  });
});

describe('engine core', () => {
  it('requirePayment: the row, or PAY_NOT_FOUND naming the order', () => {
    const p = newPayment();
    expect(requirePayment(journal, p.order_no).order_no).toBe(p.order_no);
    expect(() => requirePayment(journal, 'T1NOSUCH0000')).toThrow(expect.objectContaining({ code: 'PAY_NOT_FOUND', detail: { orderNo: 'T1NOSUCH0000' } }));
  });

  it('logCall: an answer at debug level; no verified answer is a warning with its error code, never the body', () => {
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
    const log = { debug: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'debug', fields, msg }), warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', fields, msg }) } as unknown as Logger;
    logCall(log, 'query', 'O1', { ...answer({ result: 'SUCCESS' }), latencyMs: 12 });
    logCall(log, 'pay', 'O2', unknown());
    expect(lines).toEqual([
      { level: 'debug', fields: { orderNo: 'O1', op: 'query', result: 'answer', latencyMs: 12 }, msg: 'query answered' },
      { level: 'warn', fields: { orderNo: 'O2', op: 'pay', result: 'unknown', latencyMs: 3, error: 'BACKEND_UNKNOWN', message: 'response lost' }, msg: 'pay: no verified answer' },
    ]);
  });

  it('an actor a machine was not given fails loudly, naming it', async () => {
    const actor = createActor(unprovided<number>('payment', 'pay'), { input: { orderNo: 'X' } });
    actor.subscribe({ error: () => undefined });
    actor.start();
    await expect(toPromise(actor)).rejects.toThrow('payment machine: actor "pay" was not provided');
  });

  it('backoff: base doubling up to the max, full jitter below the cap', () => {
    expect([0, 1, 2, 5, 6, 40, -3].map((n) => backoffCap(n, 1_000, 30_000))).toEqual([1_000, 2_000, 4_000, 30_000, 30_000, 30_000, 1_000]);
    expect(backoffCap(40, 1, Number.MAX_SAFE_INTEGER)).toBe(2 ** 30);
    expect(backoff(2, 1_000, 30_000, () => 0.5)).toBe(2_000);
    expect(backoff(2, 1_000, 30_000, () => 0)).toBe(0);
    expect(backoff(0, 1_000, 30_000, () => 0.9996)).toBe(1_000);
  });
});

describe('actors: the journal first, then the request', () => {
  let actors: PaymentActors;
  beforeEach(() => {
    actors = new PaymentActors(core);
  });
  const payAnswer = (result: PayResponse['result'], extra: Partial<PayResponse> = {}) => (req: Record<string, unknown>) => answer<PayResponse>({ result, orderNo: req.orderNo as string, ...extra });

  it('pay: submitting and in flight on disk before the request, which carries the order and the code', async () => {
    const p = newPayment({ amount: 777 });
    clock.advanceTo(T0 + 10);
    acquirer.script.pay.push((req) => {
      expect(row(p.order_no)).toMatchObject({ state: 'submitting', pay_in_flight: 1, pay_attempts: 1, pay_sent_at: T0 + 10 });
      clock.advanceTo(T0 + 30);
      return payAnswer('SUCCESS', { trade: trade(p.order_no, 'SUCCESS') })(req);
    });
    expect(await actors.payOnce(p.order_no)).toEqual({ kind: 'paid', at: T0 + 30, tradeNo: 'TN-1' });
    expect(acquirer.calls).toEqual([{ op: 'pay', req: { orderNo: p.order_no, paymentCode: p.code, amount: 777, currency: 'CNY', description: 'tea', traceId: p.trace_id } }]);
    expect(row(p.order_no)).toMatchObject({ pay_in_flight: 0, maybe_sent: 1, acknowledged: 1 });
    expect(causes(p.order_no)).toContain('pay SUCCESS');
  });

  it('pay not sent: maybe_sent stays 0 (a restart may resend); USER_PAYING acknowledges the order', async () => {
    const p = newPayment();
    acquirer.script.pay.push(notSent);
    expect(await actors.payOnce(p.order_no)).toMatchObject({ kind: 'notSent' });
    expect(row(p.order_no)).toMatchObject({ maybe_sent: 0, pay_in_flight: 0, acknowledged: 0 });
    expect(causes(p.order_no)).toContain('pay not_sent');
    acquirer.script.pay.push(payAnswer('USER_PAYING'));
    expect(await actors.payOnce(p.order_no)).toMatchObject({ kind: 'userPaying' });
    expect(row(p.order_no)).toMatchObject({ maybe_sent: 1, acknowledged: 1, pay_attempts: 2 });
  });

  it('pay: an answer that names no order acknowledges nothing; a later "not sent" after a lost answer is unknown, never not sent', async () => {
    const p = newPayment();
    acquirer.script.pay.push(payAnswer('UNKNOWN', { reasonCode: 'SYSTEM_ERROR' }));
    expect(await actors.payOnce(p.order_no)).toMatchObject({ kind: 'unknown' });
    expect(row(p.order_no)).toMatchObject({ maybe_sent: 1, acknowledged: 0 });
    acquirer.script.pay.push(notSent);
    expect(await actors.payOnce(p.order_no)).toEqual({ kind: 'unknown', at: T0, reason: 'an earlier attempt may have arrived; BACKEND_NOT_SENT: connection refused' });
    expect(row(p.order_no).maybe_sent).toBe(1);
  });

  it('pay with the code already erased is refused before anything is written or sent', async () => {
    const p = newPayment();
    journal.finish(p.order_no, 'declined', T0, 'declined');
    await expect(actors.payOnce(p.order_no)).rejects.toThrow('payment code already erased');
    expect(acquirer.calls).toEqual([]);
    expect(row(p.order_no).pay_attempts).toBe(0);
  });

  it('query: counted on disk first; held no longer than the profile says nor past the deadline; sentAt kept for the schedule', async () => {
    const p = newPayment();
    const queryAnswer = (state: string) => (req: Record<string, unknown>) => {
      expect(row(p.order_no).state).toBe('querying');
      clock.advanceTo(clock.now() + 1_000);
      return answer<QueryResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, trade: trade(p.order_no, state) });
    };
    acquirer.script.query.push(queryAnswer('USERPAYING'), queryAnswer('USERPAYING'), queryAnswer('SUCCESS'));
    expect(await actors.queryOnce(p.order_no)).toEqual({ kind: 'pending', at: T0 + 1_000, customerPaying: true, reason: 'USERPAYING', sentAt: T0 });
    clock.advanceTo(T0 + 40_000);
    await actors.queryOnce(p.order_no);
    clock.advanceTo(T0 + 45_000);
    expect(await actors.queryOnce(p.order_no)).toEqual({ kind: 'paid', at: T0 + 46_000, tradeNo: 'TN-1' });
    expect(acquirer.calls.map((c) => c.req)).toEqual([
      { orderNo: p.order_no, traceId: p.trace_id, waitMs: 20_000 },
      { orderNo: p.order_no, traceId: p.trace_id, waitMs: 5_000 },
      { orderNo: p.order_no, traceId: p.trace_id },
    ]);
    expect(row(p.order_no)).toMatchObject({ query_count: 3, acknowledged: 1 });
    expect(causes(p.order_no)).toEqual(expect.arrayContaining(['query: USERPAYING', 'query: paid']));
  });

  it('query: a profile that never holds sends no waitMs; past the deadline neither', async () => {
    profiles = resolveProfiles({ wechat: { queryWaitMs: 0 } });
    const p = newPayment();
    acquirer.script.query.push(unknown, unknown);
    expect(await actors.queryOnce(p.order_no)).toMatchObject({ kind: 'pending', sentAt: T0 });
    profiles = resolveProfiles();
    clock.advanceTo(T0 + 50_000);
    await actors.queryOnce(p.order_no);
    expect(acquirer.calls.map((c) => c.req)).toEqual([
      { orderNo: p.order_no, traceId: p.trace_id },
      { orderNo: p.order_no, traceId: p.trace_id },
    ]);
    expect(row(p.order_no).acknowledged).toBe(0);
  });

  it('query ORDER_NOT_FOUND for an acknowledged order: a contradiction alarm, still pending; for an unacknowledged one, nothing', async () => {
    const notFound = (req: Record<string, unknown>) => answer<QueryResponse>({ result: 'FAIL', orderNo: req.orderNo as string, reasonCode: 'ORDER_NOT_FOUND' });
    const fresh = newPayment();
    acquirer.script.query.push(notFound);
    expect(await actors.queryOnce(fresh.order_no)).toMatchObject({ kind: 'pending', notFound: true });
    expect(row(fresh.order_no).contradiction_at).toBeNull();
    const known = newPayment();
    journal.transition(known.order_no, 'querying', T0, 'ack', { acknowledged: 1 });
    acquirer.script.query.push(notFound, (req) => answer<QueryResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, trade: trade(known.order_no, 'NOTPAY') }));
    clock.advanceTo(T0 + 3);
    expect(await actors.queryOnce(known.order_no)).toMatchObject({ kind: 'pending', notFound: true });
    expect(row(known.order_no)).toMatchObject({ contradiction_at: T0 + 3, outcome: null });
    expect(changed).toEqual([known.order_no]);
    expect(await actors.queryOnce(known.order_no)).toMatchObject({ kind: 'pending', reason: 'NOTPAY' });
    expect(row(known.order_no).contradiction_at).toBe(T0 + 3);
  });

  it('reverse: counted on disk first, the same order number, and what it said noted', async () => {
    const p = newPayment();
    acquirer.script.reverse.push(
      (req) => {
        expect(row(p.order_no)).toMatchObject({ state: 'reversing', reverse_attempts: 1 });
        return answer<ReverseResponse>({ result: 'RETRY', orderNo: req.orderNo as string, recall: true, reasonCode: 'USERPAYING' });
      },
      unknown,
      (req) => answer<ReverseResponse>({ result: 'FAIL', orderNo: req.orderNo as string, recall: false, reasonCode: 'TRADE_ERROR' }),
      (req) => answer<ReverseResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, recall: false }),
    );
    expect(await actors.reverseOnce(p.order_no)).toMatchObject({ kind: 'retry', reasonCode: 'USERPAYING' });
    expect(await actors.reverseOnce(p.order_no)).toMatchObject({ kind: 'unreachable' });
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'refused', at: T0, reasonCode: 'TRADE_ERROR' });
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'reversed', at: T0 });
    expect(acquirer.calls.map((c) => c.req)).toEqual(Array(4).fill({ orderNo: p.order_no, traceId: p.trace_id }));
    expect(causes(p.order_no).filter((c) => c.startsWith('reverse: '))).toEqual([
      'reverse: retry: RETRY USERPAYING',
      'reverse: unreachable: BACKEND_UNKNOWN: response lost',
      'reverse: refused: TRADE_ERROR',
      'reverse: reversed',
    ]);
    expect(row(p.order_no).reverse_attempts).toBe(4);
  });

  it('reverse past the acquirer’s window: refused as REVERSE_EXPIRED without a call (a refund undoes it)', async () => {
    const p = newPayment();
    clock.advanceTo(T0 + 7 * DAY - 1);
    acquirer.script.reverse.push((req) => answer<ReverseResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, recall: false }));
    expect(await actors.reverseOnce(p.order_no)).toMatchObject({ kind: 'reversed' });
    clock.advanceTo(T0 + 7 * DAY);
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'refused', at: T0 + 7 * DAY, reasonCode: 'REVERSE_EXPIRED' });
    expect(acquirer.calls).toHaveLength(1);
    expect(row(p.order_no).reverse_attempts).toBe(1);
  });

  it('reverse sooner than the acquirer takes one after a pay that may have arrived: wait for it, without asking', async () => {
    core = makeCore({ ...SCANPAY_V1_PROFILE, earliestReverseMs: 15_000 });
    actors = new PaymentActors(core);
    const p = newPayment();
    // Never sent: nothing to wait for.
    acquirer.script.reverse.push((req) => answer<ReverseResponse>({ result: 'FAIL', orderNo: req.orderNo as string, recall: false, reasonCode: 'ORDER_NOT_FOUND' }));
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'notFound', at: T0 });
    clock.advanceTo(T0 + 1_000);
    acquirer.script.pay.push(unknown);
    await actors.payOnce(p.order_no);
    clock.advanceTo(T0 + 2_000);
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'retry', at: T0 + 2_000, retryAt: T0 + 16_000, reason: 'the acquirer takes no reverse sooner than 15 s after the payment' });
    expect(acquirer.calls.map((c) => c.op)).toEqual(['reverse', 'pay']);
    clock.advanceTo(T0 + 16_000);
    acquirer.script.reverse.push((req) => answer<ReverseResponse>({ result: 'SUCCESS', orderNo: req.orderNo as string, recall: false }));
    expect(await actors.reverseOnce(p.order_no)).toEqual({ kind: 'reversed', at: T0 + 16_000 });
  });

  it('closesAt: when an acquirer that revokes unpaid orders closes this one, from the pay or else the creation', async () => {
    const p = newPayment();
    expect(actors.closesAt(row(p.order_no))).toBeNull();
    actors = new PaymentActors(makeCore({ ...SCANPAY_V1_PROFILE, acquirerRevokesUnpaidAfterMs: 120_000 }));
    expect(actors.closesAt(row(p.order_no))).toBe(T0 + 120_000);
    clock.advanceTo(T0 + 5_000);
    acquirer.script.pay.push(unknown);
    await actors.payOnce(p.order_no);
    expect(actors.closesAt(row(p.order_no))).toBe(T0 + 125_000);
  });
});
