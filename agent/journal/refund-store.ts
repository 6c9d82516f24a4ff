/** Refunds in the journal: recorded before they are sent, never more than was paid. */
import { ScanpayError } from '../errors.ts';
import type { JournalDb } from './journal-db.ts';
import type { PaymentStore } from './payment-store.ts';
import type { RefundRow } from './rows.ts';

export class RefundStore {
  readonly #db: JournalDb;
  readonly #payments: PaymentStore;

  constructor(db: JournalDb, payments: PaymentStore) {
    this.#db = db;
    this.#payments = payments;
  }

  /**
   * Records a refund before it is sent. Idempotent by the POS's refund id; refuses one
   * that would take back more than was paid (pending refunds count: they may succeed).
   */
  create(r: { refundNo: string; posRefundId: string; orderNo: string; amount: number; at: number }): { row: RefundRow; created: boolean } {
    return this.#db.write(() => {
      const existing = this.get(r.posRefundId);
      if (existing) {
        if (existing.order_no !== r.orderNo || existing.amount !== r.amount) {
          throw new ScanpayError('PAY_REFUND_CONFLICT', { detail: { refundId: r.posRefundId } });
        }
        return { row: existing, created: false };
      }
      const payment = this.#payments.get(r.orderNo);
      if (!payment) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo: r.orderNo } });
      if (payment.outcome !== 'paid') throw new ScanpayError('PAY_NOT_REFUNDABLE', { detail: { orderNo: r.orderNo, state: payment.state } });
      const { taken } = this.#db.stmt("SELECT COALESCE(SUM(amount), 0) AS taken FROM refunds WHERE order_no = ? AND state != 'failed'").get(r.orderNo) as { taken: number };
      if (taken + r.amount > payment.amount) {
        throw new ScanpayError('PAY_REFUND_EXCEEDS', { detail: { orderNo: r.orderNo, paid: payment.amount, alreadyRefunded: taken, asked: r.amount } });
      }
      this.#db
        .stmt("INSERT INTO refunds (refund_no, pos_refund_id, order_no, amount, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)")
        .run(r.refundNo, r.posRefundId, r.orderNo, r.amount, r.at, r.at);
      this.#db.event(r.orderNo, r.at, payment.state, 'refund requested', { refundNo: r.refundNo, amount: r.amount });
      return { row: this.get(r.posRefundId)!, created: true };
    });
  }

  get(posRefundId: string): RefundRow | undefined {
    return this.#db.stmt('SELECT * FROM refunds WHERE pos_refund_id = ?').get(posRefundId) as RefundRow | undefined;
  }

  byNo(refundNo: string): RefundRow | undefined {
    return this.#db.stmt('SELECT * FROM refunds WHERE refund_no = ?').get(refundNo) as RefundRow | undefined;
  }

  of(orderNo: string): RefundRow[] {
    return this.#db.stmt('SELECT * FROM refunds WHERE order_no = ? ORDER BY created_at').all(orderNo) as RefundRow[];
  }

  settle(refundNo: string, state: 'refunded' | 'failed', at: number, reasonCode?: string): void {
    this.#db.write(() => {
      const r = this.byNo(refundNo);
      if (!r) throw new ScanpayError('PAY_NOT_FOUND', { detail: { refundNo } });
      this.#db.stmt('UPDATE refunds SET state = ?, reason_code = ?, updated_at = ? WHERE refund_no = ?').run(state, reasonCode ?? null, at, refundNo);
      this.#db.event(r.order_no, at, this.#payments.get(r.order_no)!.state, `refund ${state}`, { refundNo, amount: r.amount, reasonCode });
    });
  }
}
