/**
 * The journal's stores, one rule at a time, on a real SQLite file: what each write leaves in
 * the rows and the history, and each refusal's error code (docs/errors.md). The engine's
 * tests reach these through payments; here each rule fails on its own when it breaks.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isScanpayError, type ScanpayError } from '../../agent/errors.ts';
import { Journal, type NewPayment } from '../../agent/journal/journal.ts';
import { MIGRATIONS } from '../../agent/journal/migrations.ts';
import { newPayment } from '../support/new-payment.ts';

let dir: string;
let path: string;
let j: Journal;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-stores-'));
  path = join(dir, 'j.db');
  j = Journal.open(path);
});
afterEach(() => {
  j.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const pay = (over: Partial<NewPayment> = {}): NewPayment => {
  seq++;
  return newPayment({
    orderNo: `T1260101000000${String(seq).padStart(4, '0')}`,
    amount: 1_000,
    description: 'coffee',
    code: `1345678901234${String(50_000 + seq)}`,
    traceId: `trace-${seq}`,
    createdAt: 1_000 + seq,
    codeExpiresAt: 61_000,
    queryDeadlineAt: 46_000,
    ...over,
  });
};

function refusal(fn: () => unknown): ScanpayError {
  try {
    fn();
  } catch (e) {
    if (isScanpayError(e)) return e;
    throw e;
  }
  throw new Error('not refused');
}

const events = (orderNo: string) => j.events(orderNo).map((e) => [e.at, e.state, e.cause, e.detail === null ? null : JSON.parse(e.detail)]);

/** A payment that ended paid, ready for refunds. */
function paid(amount = 1_000): string {
  const p = pay({ amount });
  j.createPayment(p);
  j.finish(p.orderNo, 'paid', 2_000, 'paid');
  return p.orderNo;
}

describe('payment store', () => {
  it('a new payment: every field as given, submitting, one "created" event', () => {
    const p = pay({ posOrderId: 'POS-1', lane: 'lane-2' });
    const { row, created } = j.createPayment(p);
    expect(created).toBe(true);
    expect(row).toMatchObject({
      order_no: p.orderNo, pos_order_id: 'POS-1', amount: 1_000, currency: 'CNY', description: 'coffee', wallet: 'wechat',
      code: p.code, code_masked: p.codeMasked, code_hash: j.codeHash(p.code), trace_id: p.traceId, state: 'submitting', outcome: null,
      created_at: p.createdAt, updated_at: p.createdAt, code_expires_at: 61_000, query_deadline_at: 46_000, lane: 'lane-2',
      pay_attempts: 0, pay_in_flight: 0, maybe_sent: 0, query_count: 0, reverse_attempts: 0,
    });
    expect(j.createPayment(pay()).row).toMatchObject({ pos_order_id: null, lane: null });
    expect(events(p.orderNo)).toEqual([[p.createdAt, 'submitting', 'created', { amount: 1_000, currency: 'CNY', wallet: 'wechat' }]]);
  });

  it('the same POS order id with the same details is the same payment; with other details it is refused', () => {
    const p = pay({ posOrderId: 'POS-1' });
    j.createPayment(p);
    const again = j.createPayment({ ...p, orderNo: 'T1260101000000zzzz' });
    expect(again).toEqual({ row: j.getPayment(p.orderNo), created: false });
    expect(j.getByPosOrderId('POS-1')!.order_no).toBe(p.orderNo);
    for (const other of [{ amount: 999 }, { currency: 'HKD' }, { code: '134567890123400000' }]) {
      const e = refusal(() => j.createPayment({ ...p, orderNo: 'T1260101000000yyyy', ...other }));
      expect([e.code, e.detail]).toEqual(['PAY_ORDER_ID_CONFLICT', { posOrderId: 'POS-1', orderNo: p.orderNo }]);
    }
    expect(j.getPayment('T1260101000000yyyy')).toBeUndefined();
    expect(j.getByPosOrderId('POS-2')).toBeUndefined();
  });

  it('one payment code, one order: a second order with it is refused, and nothing of it is written', () => {
    const p = pay();
    j.createPayment(p);
    const e = refusal(() => j.createPayment(pay({ code: p.code, posOrderId: 'POS-9' })));
    expect([e.code, e.detail]).toEqual(['PAY_CODE_DUPLICATE', { orderNo: p.orderNo, code: p.codeMasked }]);
    expect(j.getByPosOrderId('POS-9')).toBeUndefined();
    // A refusal is not a write failure.
    expect(j.writeFault).toBeUndefined();
  });

  it('the code hash is keyed per journal and kept across restarts: a reused code is caught after a restart, never stored in clear', () => {
    const p = pay();
    j.createPayment(p);
    const hash = j.codeHash(p.code);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(p.code);
    j.close();
    j = Journal.open(path);
    expect(j.codeHash(p.code)).toBe(hash);
    expect(refusal(() => j.createPayment(pay({ code: p.code }))).code).toBe('PAY_CODE_DUPLICATE');
    const other = Journal.open(join(dir, 'other.db'));
    expect(other.codeHash(p.code)).not.toBe(hash);
    other.close();
  });

  it('a pay attempt: counted, in flight and durable before it is sent; after it, maybe-sent only ever goes up', () => {
    const p = pay();
    j.createPayment(p);
    j.transition(p.orderNo, 'querying', 3_000, 'test');
    expect(j.beforePayAttempt(p.orderNo, 4_000)).toBe(1);
    expect(j.getPayment(p.orderNo)).toMatchObject({ pay_attempts: 1, pay_in_flight: 1, state: 'submitting', pay_sent_at: 4_000, updated_at: 4_000 });
    j.afterPayAttempt(p.orderNo, 4_500, true, 'pay timed out');
    expect(j.getPayment(p.orderNo)).toMatchObject({ pay_in_flight: 0, maybe_sent: 1, updated_at: 4_500 });
    expect(j.beforePayAttempt(p.orderNo, 5_000)).toBe(2);
    j.afterPayAttempt(p.orderNo, 5_500, false, 'connection refused');
    expect(j.getPayment(p.orderNo)).toMatchObject({ pay_attempts: 2, pay_in_flight: 0, maybe_sent: 1, pay_sent_at: 5_000 });
    const fresh = pay();
    j.createPayment(fresh);
    j.beforePayAttempt(fresh.orderNo, 6_000);
    j.afterPayAttempt(fresh.orderNo, 6_500, false, 'connection refused');
    expect(j.getPayment(fresh.orderNo)!.maybe_sent).toBe(0);
    expect(events(p.orderNo).slice(2)).toEqual([
      [4_000, 'submitting', 'pay-sent', { attempt: 1 }],
      [4_500, 'submitting', 'pay timed out', null],
      [5_000, 'submitting', 'pay-sent', { attempt: 2 }],
      [5_500, 'submitting', 'connection refused', null],
    ]);
  });

  it('queries and reversals are counted before they are sent; a queued reversal stays queued', () => {
    const p = pay();
    j.createPayment(p);
    j.beforeQuery(p.orderNo, 3_000);
    j.beforeQuery(p.orderNo, 3_100);
    expect(j.getPayment(p.orderNo)).toMatchObject({ query_count: 2, state: 'querying', updated_at: 3_100 });
    j.beforeReverse(p.orderNo, 4_000);
    expect(j.getPayment(p.orderNo)).toMatchObject({ reverse_attempts: 1, state: 'reversing', updated_at: 4_000 });
    j.transition(p.orderNo, 'reversal_queued', 4_100, 'backend down');
    j.beforeReverse(p.orderNo, 5_000);
    expect(j.getPayment(p.orderNo)).toMatchObject({ reverse_attempts: 2, state: 'reversal_queued', updated_at: 5_000 });
    expect(events(p.orderNo).slice(1).map(([at, state, cause]) => [at, state, cause])).toEqual([
      [3_000, 'querying', 'query-sent'],
      [3_100, 'querying', 'query-sent'],
      [4_000, 'reversing', 'reverse-sent'],
      [4_100, 'reversal_queued', 'backend down'],
      [5_000, 'reversing', 'reverse-sent'],
    ]);
  });

  it('a transition writes the state, the patch and the reason together; for an unknown order nothing at all', () => {
    const p = pay();
    j.createPayment(p);
    j.transition(p.orderNo, 'waiting_network', 3_000, 'network down', { next_action_at: 9_000, reason_code: 'NET' }, { tries: 2 });
    expect(j.getPayment(p.orderNo)).toMatchObject({ state: 'waiting_network', updated_at: 3_000, next_action_at: 9_000, reason_code: 'NET' });
    expect(events(p.orderNo)[1]).toEqual([3_000, 'waiting_network', 'network down', { tries: 2 }]);
    const e = refusal(() => j.transition('T1260101000000none', 'querying', 3_000, 'x'));
    expect([e.code, e.detail]).toEqual(['PAY_NOT_FOUND', { orderNo: 'T1260101000000none' }]);
    expect(j.events('T1260101000000none')).toEqual([]);
    expect(j.writeFault).toBeUndefined();
  });

  it('a note adds to the history and changes nothing else', () => {
    const p = pay();
    j.createPayment(p);
    const before = j.getPayment(p.orderNo);
    j.note(p.orderNo, 3_000, 'submitting', 'answer unsigned', { field: 'sign' });
    expect(j.getPayment(p.orderNo)).toEqual(before);
    expect(events(p.orderNo)[1]).toEqual([3_000, 'submitting', 'answer unsigned', { field: 'sign' }]);
  });

  it('finishing ends the payment: outcome, final time, reason, the code erased, nothing in flight', () => {
    const p = pay();
    j.createPayment(p);
    j.beforePayAttempt(p.orderNo, 2_000);
    j.finish(p.orderNo, 'declined', 3_000, 'declined by the backend', { reason_code: 'NOTENOUGH', reason_message: 'balance' }, { code: 'NOTENOUGH' });
    expect(j.getPayment(p.orderNo)).toMatchObject({ state: 'declined', outcome: 'declined', final_at: 3_000, updated_at: 3_000, code: null, pay_in_flight: 0, reason_code: 'NOTENOUGH', reason_message: 'balance' });
    expect(events(p.orderNo).at(-1)).toEqual([3_000, 'declined', 'declined by the backend', { code: 'NOTENOUGH' }]);
    expect(j.unfinished()).toEqual([]);
  });

  it('the write before each request (pay, query, reverse) waits for a sync; what an answer leaves does not; "paid" by default is durable', async () => {
    const p = pay();
    j.createPayment(p);
    expect(j.unsynced).toBe(false);
    j.beforePayAttempt(p.orderNo, 2_000);
    expect(j.unsynced).toBe(true);
    await j.synced();
    j.afterPayAttempt(p.orderNo, 2_500, true, 'pay unknown');
    j.acknowledge(p.orderNo, 2_600, 'submitting');
    j.note(p.orderNo, 2_700, 'submitting', 'still paying');
    expect(j.unsynced).toBe(false);
    // The acknowledgement is kept (a later "not found" is then a contradiction), with its reason.
    expect(j.getPayment(p.orderNo)).toMatchObject({ acknowledged: 1, updated_at: 2_600 });
    expect(events(p.orderNo).slice(-2)).toEqual([
      [2_600, 'submitting', 'the acquirer acknowledged the order', null],
      [2_700, 'submitting', 'still paying', null],
    ]);
    j.beforeQuery(p.orderNo, 3_000);
    expect(j.unsynced).toBe(true);
    await j.synced();
    j.beforeReverse(p.orderNo, 4_000);
    expect(j.unsynced).toBe(true);
    await j.synced();
    // The last writes were NORMAL; a "paid" without the engine's grouped choice commits FULL.
    const pragma = vi.spyOn(Database.prototype, 'pragma');
    try {
      j.finish(p.orderNo, 'paid', 5_000, 'paid');
      expect(pragma.mock.calls.map((c) => c[0])).toEqual(['synchronous = FULL']);
    } finally {
      pragma.mockRestore();
    }
    expect(j.unsynced).toBe(false);
  });

  it('acknowledgeOnce notes the first answer that names the order, in the state the payment is in, and no later one', async () => {
    const p = pay();
    j.createPayment(p);
    j.transition(p.orderNo, 'querying', 2_000, 'outcome unknown');
    j.acknowledgeOnce(p.orderNo, 2_600);
    expect(j.unsynced).toBe(false);
    j.acknowledgeOnce(p.orderNo, 2_700);
    expect(j.getPayment(p.orderNo)).toMatchObject({ acknowledged: 1, updated_at: 2_600 });
    expect(events(p.orderNo).filter(([, , cause]) => cause === 'the acquirer acknowledged the order')).toEqual([[2_600, 'querying', 'the acquirer acknowledged the order', null]]);
  });

  it('only "paid" waits for a sync (the engine\'s grouped write); "declined" and "reversed" are lazy whatever the engine asks for "paid"', async () => {
    const [paid, declined, reversed] = [pay(), pay(), pay()];
    for (const p of [paid, declined, reversed]) {
      j.createPayment(p);
      j.beforePayAttempt(p.orderNo, 2_000);
    }
    await j.synced();
    j.finish(declined.orderNo, 'declined', 3_000, 'declined by the backend', {}, undefined, 'grouped');
    j.finish(reversed.orderNo, 'reversed', 3_000, 'reversed', {}, undefined, 'grouped');
    expect(j.unsynced).toBe(false);
    j.finish(paid.orderNo, 'paid', 3_000, 'paid', {}, undefined, 'grouped');
    expect(j.unsynced).toBe(true);
    await j.synced();
    expect(j.unsynced).toBe(false);
  });

  it('unfinished payments oldest first; the list newest first, from a time, up to a limit (a thousand unless told)', () => {
    const a = pay({ createdAt: 5_000 });
    const b = pay({ createdAt: 4_000 });
    const c = pay({ createdAt: 4_000 });
    const d = pay({ createdAt: 6_000 });
    for (const p of [a, b, c, d]) j.createPayment(p);
    j.finish(d.orderNo, 'paid', 7_000, 'paid');
    expect(j.unfinished().map((r) => r.order_no)).toEqual([b.orderNo, c.orderNo, a.orderNo]);
    expect(j.listPayments().map((r) => r.created_at)).toEqual([6_000, 5_000, 4_000, 4_000]);
    expect(j.listPayments({ since: 5_000 }).map((r) => r.order_no)).toEqual([d.orderNo, a.orderNo]);
    expect(j.listPayments({ limit: 1 }).map((r) => r.order_no)).toEqual([d.orderNo]);
    j.atomically(() => {
      for (let i = 0; i < 1_000; i++) j.createPayment(pay({ createdAt: 10_000 + i }));
    });
    expect(j.listPayments()).toHaveLength(1_000);
    expect(j.listPayments({ limit: 2_000 })).toHaveLength(1_004);
  });
});

describe('refund store', () => {
  it('a refund is recorded pending before it is sent, with its event; the same POS refund id again is the same refund', () => {
    const orderNo = paid();
    const { row, created } = j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo, amount: 300, at: 3_000 });
    expect(created).toBe(true);
    expect(row).toMatchObject({ refund_no: 'R1', pos_refund_id: 'PR1', order_no: orderNo, amount: 300, state: 'pending', created_at: 3_000, updated_at: 3_000, reason_code: null });
    expect(j.createRefund({ refundNo: 'R1b', posRefundId: 'PR1', orderNo, amount: 300, at: 3_500 })).toEqual({ row, created: false });
    expect(j.getRefundByNo('R1')).toEqual(row);
    expect(j.getRefundByNo('R1b')).toBeUndefined();
    expect(j.getRefund('PR1')).toEqual(row);
    expect(events(orderNo).at(-1)).toEqual([3_000, 'paid', 'refund requested', { refundNo: 'R1', amount: 300 }]);
  });

  it('refuses, each with its code: another amount or order under the same POS id, an unknown or unpaid order', () => {
    const orderNo = paid();
    const other = paid();
    j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo, amount: 300, at: 3_000 });
    expect(refusal(() => j.createRefund({ refundNo: 'R2', posRefundId: 'PR1', orderNo, amount: 200, at: 3_000 })).code).toBe('PAY_REFUND_CONFLICT');
    const conflict = refusal(() => j.createRefund({ refundNo: 'R2', posRefundId: 'PR1', orderNo: other, amount: 300, at: 3_000 }));
    expect([conflict.code, conflict.detail]).toEqual(['PAY_REFUND_CONFLICT', { refundId: 'PR1' }]);
    const unknown = refusal(() => j.createRefund({ refundNo: 'R3', posRefundId: 'PR3', orderNo: 'T1260101000000none', amount: 1, at: 3_000 }));
    expect([unknown.code, unknown.detail]).toEqual(['PAY_NOT_FOUND', { orderNo: 'T1260101000000none' }]);
    const open = pay();
    j.createPayment(open);
    const unpaid = refusal(() => j.createRefund({ refundNo: 'R4', posRefundId: 'PR4', orderNo: open.orderNo, amount: 1, at: 3_000 }));
    expect([unpaid.code, unpaid.detail]).toEqual(['PAY_NOT_REFUNDABLE', { orderNo: open.orderNo, state: 'submitting' }]);
    j.finish(open.orderNo, 'reversed', 4_000, 'reversed');
    expect(refusal(() => j.createRefund({ refundNo: 'R4', posRefundId: 'PR4', orderNo: open.orderNo, amount: 1, at: 3_000 })).code).toBe('PAY_NOT_REFUNDABLE');
    expect(j.refundsOf(orderNo).map((r) => r.refund_no)).toEqual(['R1']);
    expect(j.refundsOf(other)).toEqual([]);
  });

  it('never more back than was paid: pending and refunded refunds count, failed ones do not; exactly the rest is allowed', () => {
    const orderNo = paid(1_000);
    j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo, amount: 400, at: 3_000 });
    j.createRefund({ refundNo: 'R2', posRefundId: 'PR2', orderNo, amount: 300, at: 3_100 });
    j.settleRefund('R2', 'refunded', 3_200);
    const e = refusal(() => j.createRefund({ refundNo: 'R3', posRefundId: 'PR3', orderNo, amount: 301, at: 3_300 }));
    expect([e.code, e.detail]).toEqual(['PAY_REFUND_EXCEEDS', { orderNo, paid: 1_000, alreadyRefunded: 700, asked: 301 }]);
    j.settleRefund('R1', 'failed', 3_400, 'SYSTEMERROR');
    expect(j.createRefund({ refundNo: 'R3', posRefundId: 'PR3', orderNo, amount: 700, at: 3_500 }).created).toBe(true);
    expect(refusal(() => j.createRefund({ refundNo: 'R4', posRefundId: 'PR4', orderNo, amount: 1, at: 3_600 })).code).toBe('PAY_REFUND_EXCEEDS');
    expect(j.refundsOf(orderNo).map((r) => [r.refund_no, r.state, r.reason_code])).toEqual([
      ['R1', 'failed', 'SYSTEMERROR'],
      ['R2', 'refunded', null],
      ['R3', 'pending', null],
    ]);
  });

  it('settling a refund records its end in the payment history; an unknown refund number is refused', () => {
    const orderNo = paid();
    j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo, amount: 300, at: 3_000 });
    j.settleRefund('R1', 'failed', 4_000, 'NOTENOUGH');
    expect(j.getRefundByNo('R1')).toMatchObject({ state: 'failed', reason_code: 'NOTENOUGH', updated_at: 4_000 });
    expect(events(orderNo).at(-1)).toEqual([4_000, 'paid', 'refund failed', { refundNo: 'R1', amount: 300, reasonCode: 'NOTENOUGH' }]);
    const e = refusal(() => j.settleRefund('R9', 'refunded', 4_000));
    expect([e.code, e.detail]).toEqual(['PAY_NOT_FOUND', { refundNo: 'R9' }]);
  });
});

describe('outbox store', () => {
  const item = (key: string, at: number, orderNo?: string) => j.enqueue({ kind: 'reverse', orderNo, dedupeKey: key, payload: { key }, at });

  it('an enqueued item is pending and due at once; the same dedupe key again is the same item', () => {
    const row = item('a', 5_000, 'O1');
    expect(row).toMatchObject({ kind: 'reverse', order_no: 'O1', dedupe_key: 'a', payload: '{"key":"a"}', status: 'pending', created_at: 5_000, next_attempt_at: 5_000, attempts: 0, last_attempt_at: null, age_ms: 0, overdue_at: null, revived_at: null });
    expect(j.enqueue({ kind: 'refund', dedupeKey: 'a', payload: {}, at: 9_000 })).toEqual(row);
    expect(item('b', 5_000).order_no).toBeNull();
    expect(j.outbox()).toHaveLength(2);
  });

  it('due items: pending only, soonest first (then by id), leaving out the ids given, at most the limit', () => {
    const a = item('a', 3_000);
    const b = item('b', 1_000);
    const c = item('c', 1_000);
    const d = item('d', 2_000);
    const e = item('e', 500);
    j.outboxDone(e.id, 600);
    expect(j.dueOutbox(10).map((r) => r.dedupe_key)).toEqual(['b', 'c', 'd', 'a']);
    expect(j.dueOutbox(2).map((r) => r.dedupe_key)).toEqual(['b', 'c']);
    expect(j.dueOutbox(10, [c.id, a.id]).map((r) => r.dedupe_key)).toEqual(['b', 'd']);
    expect(j.dueOutbox(10, [b.id, c.id, d.id, a.id])).toEqual([]);
    expect(j.getOutboxItem(d.id)!.dedupe_key).toBe('d');
    expect(j.getOutboxItem(999)).toBeUndefined();
  });

  it('a failed attempt: counted, its error and next time written, the age as the worker counted it or kept', () => {
    const a = item('a', 1_000, 'O1');
    j.outboxAttemptFailed(a.id, 2_000, 'down', 3_000, 1_500);
    expect(j.getOutboxItem(a.id)).toMatchObject({ attempts: 1, last_attempt_at: 2_000, last_error: 'down', next_attempt_at: 3_000, age_ms: 1_500, status: 'pending' });
    j.outboxAttemptFailed(a.id, 4_000, 'still down', 8_000);
    expect(j.getOutboxItem(a.id)).toMatchObject({ attempts: 2, last_attempt_at: 4_000, last_error: 'still down', next_attempt_at: 8_000, age_ms: 1_500 });
    expect(j.pendingOutboxOf('O1').map((r) => r.id)).toEqual([a.id]);
    expect(j.pendingOutboxOf('O2')).toEqual([]);
  });

  it('overdue is recorded once (the first time stays) and the age never goes down', () => {
    const a = item('a', 1_000);
    j.outboxOverdue(a.id, 5_000, 9_000);
    j.outboxOverdue(a.id, 6_000, 8_000);
    expect(j.getOutboxItem(a.id)).toMatchObject({ overdue_at: 5_000, age_ms: 9_000 });
    j.outboxOverdue(a.id, 7_000, 9_500);
    expect(j.getOutboxItem(a.id)).toMatchObject({ overdue_at: 5_000, age_ms: 9_500 });
  });

  it('done and dead end an item; a technician revives a dead or waiting one with a fresh age, never a done one', () => {
    const a = item('a', 1_000, 'O1');
    const b = item('b', 1_000, 'O1');
    j.outboxAttemptFailed(a.id, 2_000, 'down', 3_000, 100);
    j.outboxDone(a.id, 4_000);
    expect(j.getOutboxItem(a.id)).toMatchObject({ status: 'done', attempts: 2, last_attempt_at: 4_000, done_at: 4_000, last_error: null });
    j.outboxOverdue(b.id, 2_500, 50_000);
    j.outboxDead(b.id, 5_000, 'no handler');
    expect(j.getOutboxItem(b.id)).toMatchObject({ status: 'dead', last_attempt_at: 5_000, last_error: 'no handler', attempts: 0 });
    expect(j.outbox('pending')).toEqual([]);
    expect(j.outbox('dead').map((r) => r.id)).toEqual([b.id]);
    expect(j.pendingOutboxOf('O1')).toEqual([]);
    expect(j.outboxRetryNow(a.id, 6_000)).toBe(false);
    expect(j.getOutboxItem(a.id)!.status).toBe('done');
    expect(j.outboxRetryNow(b.id, 6_000)).toBe(true);
    expect(j.getOutboxItem(b.id)).toMatchObject({ status: 'pending', next_attempt_at: 6_000, revived_at: 6_000, age_ms: 0, overdue_at: null });
    expect(j.outboxRetryNow(999, 6_000)).toBe(false);
    expect(j.outbox().map((r) => r.dedupe_key)).toEqual(['a', 'b']);
  });
});

describe('settlement store', () => {
  it('a batch holds the final payments and confirmed refunds of no earlier batch; a closed batch not settled is closed again as it is', () => {
    const first = paid();
    const firstBatch = j.closeBatch('B1', 10_000);
    expect(firstBatch).toEqual({ batch_no: 'B1', closed_at: 10_000, status: 'closed', settled_at: null, report: null });
    // Cut off before it settled: the next close is the same batch.
    expect(j.closeBatch('B2', 11_000)).toEqual(firstBatch);
    j.finishSettlement('B1', 'matched', 12_000, { diff: [] });
    expect(j.settlements()[0]).toEqual({ batch_no: 'B1', closed_at: 10_000, status: 'matched', settled_at: 12_000, report: '{"diff":[]}' });
    const second = paid();
    j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo: first, amount: 100, at: 13_000 });
    j.createRefund({ refundNo: 'R2', posRefundId: 'PR2', orderNo: second, amount: 100, at: 13_000 });
    j.settleRefund('R1', 'refunded', 13_500);
    j.settleRefund('R2', 'failed', 13_500);
    j.closeBatch('B2', 14_000);
    expect(j.getPayment(first)!.batch_no).toBe('B1');
    expect(j.getPayment(second)!.batch_no).toBe('B2');
    expect(j.getRefundByNo('R1')!.batch_no).toBe('B2');
    expect(j.getRefundByNo('R2')!.batch_no).toBeNull();
    expect(j.batchPayments('B1').map((p) => p.order_no)).toEqual([first]);
    // B2: its own payment, and the earlier one refunded in it, oldest first.
    expect(j.batchPayments('B2').map((p) => p.order_no)).toEqual([first, second]);
    j.finishSettlement('B2', 'mismatch', 15_000, { diff: [second] });
    expect(j.settlements().map((s) => [s.batch_no, s.status])).toEqual([['B2', 'mismatch'], ['B1', 'matched']]);
    expect(j.settlements(1).map((s) => s.batch_no)).toEqual(['B2']);
  });

  it('refused while a payment or a refund is under way, saying how many', () => {
    const orderNo = paid();
    j.createPayment(pay());
    j.createRefund({ refundNo: 'R1', posRefundId: 'PR1', orderNo, amount: 100, at: 3_000 });
    const e = refusal(() => j.closeBatch('B1', 10_000));
    expect([e.code, e.detail]).toEqual(['PAY_SETTLEMENT_BLOCKED', { underWay: 2 }]);
    expect(j.settlements()).toEqual([]);
    j.settleRefund('R1', 'refunded', 4_000);
    expect(refusal(() => j.closeBatch('B1', 10_000)).detail).toEqual({ underWay: 1 });
  });

  it('the list is newest first, thirty unless told', () => {
    for (let i = 0; i < 32; i++) {
      j.closeBatch(`B${i}`, 10_000 + i);
      j.finishSettlement(`B${i}`, 'matched', 20_000 + i, {});
    }
    const list = j.settlements();
    expect(list).toHaveLength(30);
    expect(list[0]!.batch_no).toBe('B31');
    expect(j.settlements(40)).toHaveLength(32);
  });
});

describe('journal database', () => {
  it('several writes as one: all or nothing', () => {
    const p = pay();
    expect(() =>
      j.atomically(() => {
        j.createPayment(p);
        j.enqueue({ kind: 'reverse', orderNo: p.orderNo, dedupeKey: 'r', payload: {}, at: 1 });
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(j.getPayment(p.orderNo)).toBeUndefined();
    expect(j.outbox()).toEqual([]);
    expect(j.atomically(() => (j.createPayment(p), j.enqueue({ kind: 'reverse', orderNo: p.orderNo, dedupeKey: 'r', payload: {}, at: 1 })).id)).toBe(j.outbox()[0]!.id);
    expect(j.getPayment(p.orderNo)).toBeDefined();
  });

  it('a write the disk refuses is JOURNAL_WRITE_FAILED with its SQLite code, and stands as the write fault until a write succeeds', () => {
    j.close();
    j = Journal.open(path, { maxSizeBytes: 128 * 1024 });
    let fault: ScanpayError | undefined;
    for (let i = 0; i < 5_000 && !fault; i++) {
      try {
        j.createPayment(pay({ description: 'x'.repeat(200) }));
      } catch (e) {
        fault = e as ScanpayError;
      }
    }
    expect(fault?.code).toBe('JOURNAL_WRITE_FAILED');
    expect(fault?.detail).toEqual({ sqliteCode: 'SQLITE_FULL' });
    expect(fault?.message).toMatch(/^journal write failed \(SQLITE_FULL\): nothing was sent$/);
    expect(j.writeFault).toBe(fault);
    // Reads still work; a write that needs no new page succeeds and clears the fault.
    expect(j.listPayments({ limit: 1 })).toHaveLength(1);
    j.atomically(() => undefined);
    expect(j.writeFault).toBeUndefined();
  });

  it('an error that is not the disk\'s passes through as it is, and is no write fault', () => {
    expect(() => j.atomically(() => j.enqueue({ kind: 'x', dedupeKey: 'k', payload: {}, at: Number.NaN }))).toThrow();
    const e = (() => {
      try {
        j.atomically(() => {
          throw Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT_NOTNULL' });
        });
      } catch (err) {
        return err as Error & { code: string };
      }
    })();
    expect(e?.code).toBe('SQLITE_CONSTRAINT_NOTNULL');
    expect(isScanpayError(e)).toBe(false);
    expect(j.writeFault).toBeUndefined();
    for (const code of ['SQLITE_READONLY', 'SQLITE_IOERR_FSYNC', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_PERM', 'SQLITE_CANTOPEN', 'SQLITE_FULL']) {
      const failed = (() => {
        try {
          j.atomically(() => {
            throw Object.assign(new Error(code), { code });
          });
        } catch (err) {
          return err as ScanpayError;
        }
      })();
      expect([failed?.code, failed?.detail]).toEqual(['JOURNAL_WRITE_FAILED', { sqliteCode: code }]);
    }
  });

  it('a schema migration that fails says so, and a journal at an older schema is brought up to date', () => {
    j.close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length - 1}`);
    db.close();
    // The last migration again on a schema that has it: refused, named.
    let error: unknown;
    try {
      Journal.open(path);
    } catch (e) {
      error = e;
    }
    expect(isScanpayError(error, 'JOURNAL_MIGRATION_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/^journal migration failed: /);
    rmSync(path);
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old.close();
    j = Journal.open(path);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    check.close();
    j.createPayment(pay());
    expect(j.unfinished()).toHaveLength(1);
  });

  it('WAL and shared-memory files a crash left with a wider mode are owner-only again at the next open', () => {
    j.createPayment(pay());
    // The agent still has it open (a power cut would leave it so): widen its files' modes.
    for (const f of [`${path}-wal`, `${path}-shm`]) chmodSync(f, 0o644);
    const next = Journal.open(path);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
    next.close();
  });
});
