/**
 * The journal: the device's durable memory of every payment, every state change and the
 * outbox of follow-ups. It is the source of truth; the payment machine is rebuilt from it
 * after a restart. One database and one statement cache (journal-db.ts) under four stores:
 * payments, refunds, the outbox and settlements; this class is their single entry point.
 */
import type { ScanpayError } from '../errors.ts';
import { JournalDb, type Durability, type JournalDbOptions } from './journal-db.ts';
import { OutboxStore } from './outbox-store.ts';
import { PaymentStore } from './payment-store.ts';
import { RefundStore } from './refund-store.ts';
import type { NewPayment, Outcome, OutboxRow, OutboxStatus, PaymentEvent, PaymentPatch, PaymentRow, PaymentState, RefundRow, SettlementRow } from './rows.ts';
import { SettlementStore } from './settlement-store.ts';

export * from './rows.ts';

export class Journal {
  readonly path: string;
  readonly #db: JournalDb;
  readonly #payments: PaymentStore;
  readonly #refunds: RefundStore;
  readonly #outbox: OutboxStore;
  readonly #settlements: SettlementStore;

  private constructor(path: string, db: JournalDb) {
    this.path = path;
    this.#db = db;
    this.#payments = new PaymentStore(db);
    this.#refunds = new RefundStore(db, this.#payments);
    this.#outbox = new OutboxStore(db);
    this.#settlements = new SettlementStore(db);
  }

  /**
   * Opens (creating if needed) the journal at `path`. `maxSizeBytes` caps the database so
   * that on a small device it fails cleanly (JOURNAL_WRITE_FAILED, nothing sent) before it
   * can fill the whole disk.
   */
  static open(path: string, options: JournalDbOptions = {}): Journal {
    return new Journal(path, JournalDb.open(path, options));
  }

  close(): void {
    this.#db.close();
  }

  /** The standing write failure (disk full, the size cap, an I/O error), until a write succeeds. */
  get writeFault(): ScanpayError | undefined {
    return this.#db.writeFault;
  }

  /**
   * Resolves once the grouped writes made so far (beforePayAttempt, beforeQuery,
   * beforeReverse) are on disk; their request leaves only after it. Rejects with
   * JOURNAL_WRITE_FAILED when the disk refuses: then it must not leave.
   */
  synced(): Promise<void> {
    return this.#db.synced();
  }

  /** Resolves once every write committed so far, lazy ones too, is on disk (journal-db.ts). */
  syncedAll(): Promise<void> {
    return this.#db.syncedAll();
  }

  /** Whether a grouped write is not yet known to be on disk. */
  get unsynced(): boolean {
    return this.#db.unsynced;
  }

  /** Grouped syncs running now in this process (a manual-clock test moves time only when none is). */
  static syncsUnderWay(): number {
    return JournalDb.syncsUnderWay;
  }

  /** Runs several journal writes as one transaction (one commit), durable unless asked otherwise. */
  atomically<T>(fn: () => T, durability: Durability = 'durable'): T {
    return this.#db.write(fn, durability);
  }

  /** Runs lazy writes now, committed with the next write or by the end of this turn of the event loop (journal-db.ts `joinNextCommit`). */
  joinNextCommit(fn: () => void): void {
    this.#db.joinNextCommit(fn);
  }

  // ---- payments (payment-store.ts) -----------------------------------------------------

  codeHash(code: string): string {
    return this.#payments.codeHash(code);
  }
  createPayment(p: NewPayment): { row: PaymentRow; created: boolean } {
    return this.#payments.create(p);
  }
  getPayment(orderNo: string): PaymentRow | undefined {
    return this.#payments.get(orderNo);
  }
  getByPosOrderId(posOrderId: string): PaymentRow | undefined {
    return this.#payments.byPosOrderId(posOrderId);
  }
  unfinished(): PaymentRow[] {
    return this.#payments.unfinished();
  }
  listPayments(options: { since?: number; limit?: number } = {}): PaymentRow[] {
    return this.#payments.list(options);
  }
  events(orderNo: string): PaymentEvent[] {
    return this.#payments.events(orderNo);
  }
  transition(orderNo: string, state: PaymentState, at: number, cause: string, patch: PaymentPatch = {}, detail?: unknown): void {
    this.#payments.transition(orderNo, state, at, cause, patch, detail);
  }
  beforePayAttempt(orderNo: string, at: number): number {
    return this.#payments.beforePayAttempt(orderNo, at);
  }
  afterPayAttempt(orderNo: string, at: number, mayHaveArrived: boolean, cause: string): void {
    this.#payments.afterPayAttempt(orderNo, at, mayHaveArrived, cause);
  }
  beforeQuery(orderNo: string, at: number): void {
    this.#payments.beforeQuery(orderNo, at);
  }
  beforeReverse(orderNo: string, at: number): void {
    this.#payments.beforeReverse(orderNo, at);
  }
  acknowledge(orderNo: string, at: number, state: PaymentState): void {
    this.#payments.acknowledge(orderNo, at, state);
  }
  acknowledgeOnce(orderNo: string, at: number): void {
    this.#payments.acknowledgeOnce(orderNo, at);
  }
  note(orderNo: string, at: number, state: PaymentState, cause: string, detail?: unknown): void {
    this.#payments.note(orderNo, at, state, cause, detail);
  }
  finish(orderNo: string, outcome: Outcome, at: number, cause: string, patch: PaymentPatch = {}, detail?: unknown, paid: 'durable' | 'grouped' = 'durable'): void {
    this.#payments.finish(orderNo, outcome, at, cause, patch, detail, paid);
  }

  // ---- refunds (refund-store.ts) -------------------------------------------------------

  createRefund(r: { refundNo: string; posRefundId: string; orderNo: string; amount: number; at: number }): { row: RefundRow; created: boolean } {
    return this.#refunds.create(r);
  }
  getRefund(posRefundId: string): RefundRow | undefined {
    return this.#refunds.get(posRefundId);
  }
  getRefundByNo(refundNo: string): RefundRow | undefined {
    return this.#refunds.byNo(refundNo);
  }
  refundsOf(orderNo: string): RefundRow[] {
    return this.#refunds.of(orderNo);
  }
  settleRefund(refundNo: string, state: 'refunded' | 'failed', at: number, reasonCode?: string): void {
    this.#refunds.settle(refundNo, state, at, reasonCode);
  }

  // ---- outbox (outbox-store.ts) --------------------------------------------------------

  enqueue(item: { kind: string; orderNo?: string; dedupeKey: string; payload: unknown; at: number; dueAt?: number }): OutboxRow {
    return this.#outbox.enqueue(item);
  }
  outbox(status?: OutboxStatus): OutboxRow[] {
    return this.#outbox.list(status);
  }
  dueOutbox(limit: number, exceptIds: readonly number[] = []): OutboxRow[] {
    return this.#outbox.due(limit, exceptIds);
  }
  getOutboxItem(id: number): OutboxRow | undefined {
    return this.#outbox.get(id);
  }
  pendingOutboxOf(orderNo: string): OutboxRow[] {
    return this.#outbox.pendingOf(orderNo);
  }
  outboxAttemptFailed(id: number, at: number, error: string, nextAttemptAt: number, ageMs?: number): void {
    this.#outbox.attemptFailed(id, at, error, nextAttemptAt, ageMs);
  }
  outboxOverdue(id: number, at: number, ageMs: number): void {
    this.#outbox.overdue(id, at, ageMs);
  }
  outboxDone(id: number, at: number): void {
    this.#outbox.done(id, at);
  }
  outboxDead(id: number, at: number, error: string): void {
    this.#outbox.dead(id, at, error);
  }
  outboxRetryNow(id: number, at: number): boolean {
    return this.#outbox.retryNow(id, at);
  }

  // ---- settlement (settlement-store.ts) ------------------------------------------------

  closeBatch(batchNo: string, at: number): SettlementRow {
    return this.#settlements.closeBatch(batchNo, at);
  }
  batchPayments(batchNo: string): PaymentRow[] {
    return this.#settlements.batchPayments(batchNo);
  }
  finishSettlement(batchNo: string, status: 'matched' | 'mismatch', at: number, report: unknown): void {
    this.#settlements.finish(batchNo, status, at, report);
  }
  settlements(limit = 30): SettlementRow[] {
    return this.#settlements.list(limit);
  }
}
