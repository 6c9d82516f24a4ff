/**
 * Refunds of paid payments, fully or in part. Idempotent by the POS's refund id. Written to
 * the journal and the outbox before it is sent, so a refund whose answer is lost is retried
 * (same refund number) until answered.
 */
import { randomBytes } from 'node:crypto';
import { ScanpayError } from '../errors.ts';
import type { DeliveryResult } from '../outbox/outbox-worker.ts';
import { logCall, REFUND_KIND, requirePayment, type EngineCore } from './engine-core.ts';
import { refundedAmount, refundView, type RefundView } from './views.ts';

export interface RefundHooks {
  /** Outbox retry base: the queued copy falls due this long after the first attempt made at once. */
  retryBaseMs: number;
  outboxDone(id: number): void;
  kickOutbox(): void;
  changed(orderNo: string): void;
}

export class Refunds {
  readonly #c: EngineCore;
  readonly #h: RefundHooks;

  constructor(core: EngineCore, hooks: RefundHooks) {
    this.#c = core;
    this.#h = hooks;
  }

  async refund(orderNo: string, req: { refundId: string; amount?: number }): Promise<RefundView> {
    const { journal } = this.#c;
    const payment = requirePayment(journal, orderNo);
    const existing = journal.getRefund(req.refundId);
    if (existing) {
      if (existing.order_no !== orderNo || (req.amount !== undefined && req.amount !== existing.amount)) {
        throw new ScanpayError('PAY_REFUND_CONFLICT', { detail: { refundId: req.refundId } });
      }
      return refundView(existing);
    }
    const amount = req.amount ?? payment.amount - refundedAmount(journal, orderNo, true);
    if (req.amount === undefined && amount <= 0) throw new ScanpayError('PAY_REFUND_EXCEEDS', { detail: { orderNo } });
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      throw new ScanpayError('PAY_AMOUNT_INVALID', { message: 'refund amount must be a positive integer of minor units', detail: { amount } });
    }
    const now = this.#c.clock.now();
    const { row, item } = journal.atomically(() => {
      const { row, created } = journal.createRefund({ refundNo: `RF${randomBytes(10).toString('hex')}`, posRefundId: req.refundId, orderNo, amount, at: now });
      // Due a little later: the first attempt is made right here, not raced by the outbox.
      const item = created ? journal.enqueue({ kind: REFUND_KIND, orderNo, dedupeKey: `${REFUND_KIND}:${row.refund_no}`, payload: { refundNo: row.refund_no }, at: now, dueAt: now + this.#h.retryBaseMs }) : undefined;
      return { row, item };
    });
    if (item) {
      const result = await this.deliver(row.refund_no);
      if (result.kind === 'done') this.#h.outboxDone(item.id);
      else this.#h.kickOutbox();
      this.#h.changed(orderNo);
    }
    return refundView(journal.getRefundByNo(row.refund_no)!);
  }

  list(orderNo: string): RefundView[] {
    return this.#c.journal.refundsOf(orderNo).map(refundView);
  }

  /** One attempt to send a pending refund (first from `refund`, then from the outbox). */
  async deliver(refundNo: string): Promise<DeliveryResult> {
    const { journal } = this.#c;
    const r = journal.getRefundByNo(refundNo);
    if (!r) return { kind: 'dead', error: `no refund ${refundNo} in the journal` };
    if (r.state !== 'pending') return { kind: 'done' };
    const payment = requirePayment(journal, r.order_no);
    const result = await this.#c.track(this.#c.acquirer.refund({ orderNo: r.order_no, refundNo, amount: r.amount, traceId: payment.trace_id }));
    logCall(this.#c.log, 'refund', r.order_no, result);
    if (result.kind !== 'answer' || result.body.result === 'UNKNOWN') {
      return { kind: 'retry', error: result.kind === 'answer' ? 'refund outcome unknown' : `${result.error.code}: ${result.error.message}` };
    }
    const ok = result.body.result === 'SUCCESS';
    journal.settleRefund(refundNo, ok ? 'refunded' : 'failed', this.#c.clock.now(), ok ? undefined : (result.body.reasonCode ?? 'FAIL'));
    return { kind: 'done' };
  }
}
