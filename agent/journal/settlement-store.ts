/** Settlement batches in the journal: which final payments and refunds each one holds. */
import { ScanpayError } from '../errors.ts';
import type { JournalDb } from './journal-db.ts';
import type { PaymentRow, SettlementRow } from './rows.ts';

export class SettlementStore {
  readonly #db: JournalDb;

  constructor(db: JournalDb) {
    this.#db = db;
  }

  /**
   * The batch to settle: the one closed earlier and not yet settled (its settle call was
   * cut off), else a new one holding every final payment and confirmed refund in no batch.
   * Refused while a payment or refund is under way: its outcome would miss the batch.
   */
  closeBatch(batchNo: string, at: number): SettlementRow {
    return this.#db.write(() => {
      const open = this.#db.stmt("SELECT * FROM settlements WHERE status = 'closed'").get() as SettlementRow | undefined;
      if (open) return open;
      const { busy } = this.#db.stmt("SELECT (SELECT COUNT(*) FROM payments WHERE batch_no IS NULL AND outcome IS NULL) + (SELECT COUNT(*) FROM refunds WHERE state = 'pending') AS busy").get() as { busy: number };
      if (busy > 0) throw new ScanpayError('PAY_SETTLEMENT_BLOCKED', { detail: { underWay: busy } });
      this.#db.stmt("INSERT INTO settlements (batch_no, closed_at, status) VALUES (?, ?, 'closed')").run(batchNo, at);
      this.#db.stmt('UPDATE payments SET batch_no = ? WHERE batch_no IS NULL AND outcome IS NOT NULL').run(batchNo);
      this.#db.stmt("UPDATE refunds SET batch_no = ? WHERE state = 'refunded' AND batch_no IS NULL").run(batchNo);
      return this.#db.stmt('SELECT * FROM settlements WHERE batch_no = ?').get(batchNo) as SettlementRow;
    });
  }

  /** Payments of the batch, and payments of earlier batches refunded in it. */
  batchPayments(batchNo: string): PaymentRow[] {
    return this.#db.stmt('SELECT * FROM payments WHERE batch_no = ? OR order_no IN (SELECT order_no FROM refunds WHERE batch_no = ?) ORDER BY created_at, order_no').all(batchNo, batchNo) as PaymentRow[];
  }

  finish(batchNo: string, status: 'matched' | 'mismatch', at: number, report: unknown): void {
    this.#db.write(() => {
      this.#db.stmt('UPDATE settlements SET status = ?, settled_at = ?, report = ? WHERE batch_no = ?').run(status, at, JSON.stringify(report), batchNo);
    });
  }

  list(limit = 30): SettlementRow[] {
    return this.#db.stmt('SELECT * FROM settlements ORDER BY closed_at DESC LIMIT ?').all(limit) as SettlementRow[];
  }
}
