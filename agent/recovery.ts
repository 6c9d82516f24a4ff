/**
 * After a lost journal: asks the acquirer for the terminal's orders since the last known
 * point (`POST /v1/orders`) and settles each one the journal does not hold. Open orders
 * (the customer may be entering the password, or gave up) are reversed until the acquirer
 * confirms; final ones are recorded as they ended, so refunds, settlement and the
 * duplicate-order checks know them again. A reversal that cannot be confirmed now is left
 * queued in the journal, and the agent keeps trying after it starts (money rule 2).
 */
import type { Acquirer } from './backend/acquirer.ts';
import type { DeviceClient } from './backend/device-client.ts';
import type { Clock } from './clock.ts';
import type { ClockOffset } from './clock-offset.ts';
import { isScanpayError } from './errors.ts';
import type { Journal, Outcome } from './journal/journal.ts';
import type { Logger } from './log.ts';
import type { OrderSummary } from './protocol/device-messages.ts';

export type RecoveryAction = 'known' | 'recorded' | 'reversed' | 'queued' | 'nothing-charged';

export interface RecoveredOrder {
  orderNo: string;
  /** The acquirer's trade state when listed. */
  state: OrderSummary['state'];
  amount: number | null;
  action: RecoveryAction;
  /** What the journal now says. */
  outcome: Outcome | 'reversal_queued' | null;
}

export interface RecoveryOptions {
  journal: Journal;
  client: Pick<DeviceClient, 'call'>;
  acquirer: Pick<Acquirer, 'reverse'>;
  clock: Clock;
  since: number;
  logger: Logger;
  /** Reverse attempts (RETRY while a customer decides, no answer) before the reversal is left queued. */
  reverseAttempts?: number;
  reverseRetryMs?: number;
}

/** The outbox kind the engine delivers reversals under (agent/payment/engine.ts). */
const REVERSE_KIND = 'reverse';

export async function recoverFromAcquirer(o: RecoveryOptions): Promise<RecoveredOrder[]> {
  const out: RecoveredOrder[] = [];
  let after: string | undefined;
  for (;;) {
    const { body } = await o.client.call('orders', { since: o.since, limit: 100, ...(after ? { after } : {}) });
    for (const order of body.orders) out.push(await settleOne(o, order));
    if (!body.more || body.orders.length === 0) break;
    after = body.orders.at(-1)!.orderNo;
  }
  return out;
}

async function settleOne(o: RecoveryOptions, order: OrderSummary): Promise<RecoveredOrder> {
  const base = { orderNo: order.orderNo, state: order.state, amount: order.amount ?? null };
  const known = o.journal.getPayment(order.orderNo);
  if (known) return { ...base, action: 'known', outcome: known.outcome };
  // A tombstone (reversed before any pay arrived) moved no money and has no amount to record.
  if (order.amount === undefined || order.wallet === undefined) return { ...base, action: 'nothing-charged', outcome: null };
  switch (order.state) {
    case 'SUCCESS':
    case 'REFUND':
      record(o, order, 'paid');
      return { ...base, action: 'recorded', outcome: 'paid' };
    case 'REVOKED':
      record(o, order, 'reversed');
      return { ...base, action: 'recorded', outcome: 'reversed' };
    case 'PAYERROR':
    case 'CLOSED':
      record(o, order, 'declined');
      return { ...base, action: 'recorded', outcome: 'declined' };
    case 'USERPAYING':
    case 'NOTPAY': {
      const reversed = await reverse(o, order.orderNo);
      record(o, order, reversed ? 'reversed' : 'queued');
      return { ...base, action: reversed ? 'reversed' : 'queued', outcome: reversed ? 'reversed' : 'reversal_queued' };
    }
  }
}

async function reverse(o: RecoveryOptions, orderNo: string): Promise<boolean> {
  const attempts = o.reverseAttempts ?? 30;
  for (let i = 0; i < attempts; i++) {
    const r = await o.acquirer.reverse({ orderNo, traceId: 'recover' });
    if (r.kind === 'answer' && r.body.result === 'SUCCESS') return true;
    // FAIL (too old to reverse) will not change by asking again: a person must refund.
    if (r.kind === 'answer' && r.body.result === 'FAIL') {
      o.logger.error({ orderNo, reasonCode: r.body.reasonCode }, 'recovered order cannot be reversed: left queued; refund it by hand');
      return false;
    }
    o.logger.info({ orderNo, result: r.kind === 'answer' ? r.body.result : r.error.code }, 'recovered order not reversed yet: trying again');
    await new Promise<void>((resolve) => o.clock.setTimeout(resolve, o.reverseRetryMs ?? 1_000));
  }
  return false;
}

/** One transaction: the row and its final state, or its queued reversal, land together. */
function record(o: RecoveryOptions, order: OrderSummary, how: Outcome | 'queued'): void {
  const now = o.clock.now();
  const { journal } = o;
  journal.atomically(() => {
    journal.createPayment({
      orderNo: order.orderNo,
      amount: order.amount!,
      currency: order.currency ?? 'CNY',
      description: 'recovered from the acquirer',
      wallet: order.wallet as Parameters<Journal['createPayment']>[0]['wallet'],
      // The code is unknown; a placeholder unique to the order keeps the code-hash column whole.
      code: `recovered:${order.orderNo}`,
      codeMasked: '(recovered)',
      traceId: 'recover',
      createdAt: order.createdAt,
      codeExpiresAt: order.createdAt,
      queryDeadlineAt: order.createdAt,
    });
    const detail = { acquirerState: order.state, refundedAmount: order.refundedAmount };
    if (how === 'queued') {
      journal.transition(order.orderNo, 'reversal_queued', now, 'recovered: open at the acquirer, reversal queued', { maybe_sent: 1 }, detail);
      journal.enqueue({ kind: REVERSE_KIND, orderNo: order.orderNo, dedupeKey: `${REVERSE_KIND}:${order.orderNo}`, payload: { orderNo: order.orderNo }, at: now });
      return;
    }
    journal.finish(order.orderNo, how, now, how === 'reversed' && order.state !== 'REVOKED' ? 'recovered: open at the acquirer, reversed' : 'recovered from the acquirer', { reason_code: 'RECOVERED', reason_message: `recovered from the acquirer (${order.state})` }, detail);
    // Its refunds too (issue 12): what was given back counts for the next refund's limit and the settlement.
    for (const r of how === 'paid' ? (order.refunds ?? []) : []) {
      journal.createRefund({ refundNo: r.refundNo, posRefundId: `recovered:${r.refundNo}`, orderNo: order.orderNo, amount: r.amount, at: r.at });
      journal.settleRefund(r.refundNo, 'refunded', now);
    }
  });
}

/**
 * A device whose clock is off is refused (PROTO_TIMESTAMP_SKEW with the backend's time):
 * one harmless listing learns the offset, so that recovery signs with the backend's time.
 */
export async function learnClockOffset(client: Pick<DeviceClient, 'call'>, offset: ClockOffset, clock: Clock): Promise<void> {
  try {
    await client.call('orders', { since: clock.now(), limit: 1 });
  } catch (e) {
    if (!isScanpayError(e, 'PROTO_TIMESTAMP_SKEW') || typeof e.detail?.serverTime !== 'number') throw e;
    offset.observe(clock.now(), clock.now(), e.detail.serverTime);
  }
}
