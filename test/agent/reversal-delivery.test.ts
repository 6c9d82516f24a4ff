/**
 * The outbox's delivery of a queued reversal (agent/payment/reversal-delivery.ts) on a real
 * journal file, the acquirer's answers scripted: what reaches the wire for the refund that
 * stands in for a refused reverse, and what the outbox is told.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Acquirer, CallResult } from '../../agent/backend/acquirer.ts';
import { SCANPAY_V1_PROFILE } from '../../agent/backend/acquirer-profile.ts';
import { ManualClock } from '../../agent/clock.ts';
import { Journal, type OutboxRow } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { refundRequest, type QueryResponse, type RefundRequest, type RefundResponse } from '../../agent/protocol/messages.ts';
import type { EngineCore } from '../../agent/payment/engine-core.ts';
import type { ReverseOutcome } from '../../agent/payment/outcomes.ts';
import type { PaymentActors } from '../../agent/payment/payment-actors.ts';
import { PaymentRecorder } from '../../agent/payment/record.ts';
import { ReversalDelivery } from '../../agent/payment/reversal-delivery.ts';
import { newPayment } from '../support/new-payment.ts';

const CREATED = 2_000_000;
/** The longest order number the wire allows: its refund number must still fit. */
const LONG_ORDER = 'T1260101000000abcdefghijklmnopqr';

let dir: string;
let journal: Journal;
let clock: ManualClock;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-reversal-delivery-'));
  journal = Journal.open(join(dir, 'journal.db'));
  clock = new ManualClock(CREATED);
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

function pay(orderNo: string): void {
  journal.createPayment(newPayment({ orderNo, amount: 1_250, traceId: `trace-${orderNo.slice(-4)}`, createdAt: CREATED, codeExpiresAt: CREATED + 60_000, queryDeadlineAt: CREATED + 45_000 }));
  journal.transition(orderNo, 'reversal_queued', CREATED + 50_000, 'backend unreachable: reversal queued');
}

const item = (orderNo: string | null) => ({ id: 1, kind: 'reverse', order_no: orderNo }) as OutboxRow;

/** A delivery whose reverse is refused for good, and whose refund and query the acquirer answers as scripted. */
function delivery(refund: RefundResponse['result'], reasonCode?: string) {
  const sent: { refund: RefundRequest[]; query: unknown[]; reverse: number } = { refund: [], query: [], reverse: 0 };
  const answer = <T>(body: T): CallResult<T> => ({ kind: 'answer', body, latencyMs: 5 });
  const acquirer = {
    refund: async (req: RefundRequest) => (sent.refund.push(req), answer<RefundResponse>({ result: refund, orderNo: req.orderNo, refundNo: req.refundNo, ...(reasonCode ? { reasonCode } : {}) })),
    query: async (req: { orderNo: string }) => (sent.query.push(req), answer({ result: 'SUCCESS', orderNo: req.orderNo, tradeState: 'CLOSED' } as unknown as QueryResponse)),
  } as unknown as Acquirer;
  const core = {
    journal,
    acquirer,
    clock,
    log: silentLogger,
    acquirerProfile: SCANPAY_V1_PROFILE,
    track: <T>(p: Promise<T>) => p,
    changed: () => {},
  } as unknown as EngineCore;
  const actors = {
    reverseOnce: async (): Promise<ReverseOutcome> => (sent.reverse++, { kind: 'refused', at: clock.now(), reasonCode: 'REVERSE_EXPIRED' }),
  } as unknown as PaymentActors;
  return { sent, reversals: new ReversalDelivery(core, actors, new PaymentRecorder(core, () => {})) };
}

describe('delivering a queued reversal', () => {
  it('a refused reverse is refunded in full under one refund number the wire accepts, even for the longest order number', async () => {
    pay(LONG_ORDER);
    const { sent, reversals } = delivery('SUCCESS');
    expect(await reversals.deliver(item(LONG_ORDER))).toEqual({ kind: 'done' });
    expect(sent.refund).toHaveLength(1);
    const req = sent.refund[0]!;
    expect(req).toMatchObject({ orderNo: LONG_ORDER, amount: 1_250, traceId: 'trace-opqr' });
    expect(() => refundRequest.parse(req)).not.toThrow();
    expect(req.refundNo).toBe(`${LONG_ORDER}-R`.slice(-32));
    expect(journal.getPayment(LONG_ORDER)).toMatchObject({ state: 'reversed', outcome: 'reversed' });
  });

  it('the refund number is the same at every delivery: a refund retried after a lost answer is the same refund', async () => {
    pay('T1260101000000abcd');
    const { sent, reversals } = delivery('UNKNOWN');
    expect(await reversals.deliver(item('T1260101000000abcd'))).toMatchObject({ kind: 'retry' });
    expect(await reversals.deliver(item('T1260101000000abcd'))).toMatchObject({ kind: 'retry' });
    expect(sent.refund.map((r) => r.refundNo)).toEqual(['T1260101000000abcd-R', 'T1260101000000abcd-R']);
  });

  it('a refund that finds nothing paid asks the acquirer about the same order', async () => {
    pay('T1260101000000abcd');
    const { sent, reversals } = delivery('FAIL', 'REFUND_NOT_PAID');
    await reversals.deliver(item('T1260101000000abcd'));
    expect(sent.query).toEqual([{ orderNo: 'T1260101000000abcd', traceId: 'trace-abcd' }]);
  });

  it('a payment already final needs nothing: done, nothing sent', async () => {
    pay('T1260101000000abcd');
    journal.finish('T1260101000000abcd', 'reversed', CREATED + 51_000, 'reversed');
    const { sent, reversals } = delivery('SUCCESS');
    expect(await reversals.deliver(item('T1260101000000abcd'))).toEqual({ kind: 'done' });
    expect(sent).toEqual({ refund: [], query: [], reverse: 0 });
  });

  it('an item for a payment the journal does not hold is a dead letter that names it', async () => {
    const { sent, reversals } = delivery('SUCCESS');
    expect(await reversals.deliver(item('T1260101000000zzzz'))).toEqual({ kind: 'dead', error: 'no payment T1260101000000zzzz in the journal' });
    expect(await reversals.deliver(item(null))).toEqual({ kind: 'dead', error: 'no payment null in the journal' });
    expect(sent.reverse).toBe(0);
  });
});
