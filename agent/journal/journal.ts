/**
 * The journal: the device's durable memory of every payment, every state change and the
 * outbox of follow-ups. It is the source of truth; the payment machine is rebuilt from it
 * after a restart. Writes are synchronous and durable (WAL, synchronous=FULL) so that a
 * row is on disk before the request it describes leaves the device.
 */
import Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScanpayError } from '../errors.ts';
import type { Wallet } from '../payment-code.ts';
import { MIGRATIONS } from './migrations.ts';

export type PaymentState =
  | 'submitting'
  | 'waiting_network'
  | 'querying'
  | 'reversing'
  | 'reversal_queued'
  | 'paid'
  | 'declined'
  | 'reversed';

export type Outcome = 'paid' | 'declined' | 'reversed';

export const FINAL_STATES: ReadonlySet<PaymentState> = new Set(['paid', 'declined', 'reversed']);

export interface PaymentRow {
  order_no: string;
  pos_order_id: string | null;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code_hash: string;
  code_masked: string;
  code: string | null;
  trace_id: string;
  state: PaymentState;
  outcome: Outcome | null;
  reason_code: string | null;
  reason_message: string | null;
  pay_attempts: number;
  pay_in_flight: number;
  maybe_sent: number;
  query_count: number;
  reverse_attempts: number;
  cancel_requested: number;
  created_at: number;
  code_expires_at: number;
  query_deadline_at: number;
  next_action_at: number | null;
  /** When the latest pay attempt left: the acquirer's earliest-reverse and revoke rules count from it. */
  pay_sent_at: number | null;
  acquirer_trade_no: string | null;
  updated_at: number;
  final_at: number | null;
  batch_no: string | null;
}

export interface PaymentEvent {
  id: number;
  order_no: string;
  at: number;
  state: string;
  cause: string;
  detail: string | null;
}

export interface RefundRow {
  refund_no: string;
  pos_refund_id: string;
  order_no: string;
  amount: number;
  state: 'pending' | 'refunded' | 'failed';
  reason_code: string | null;
  created_at: number;
  updated_at: number;
  batch_no: string | null;
}

export interface SettlementRow {
  batch_no: string;
  closed_at: number;
  status: 'closed' | 'matched' | 'mismatch';
  settled_at: number | null;
  report: string | null;
}

export type OutboxStatus = 'pending' | 'done' | 'dead';

export interface OutboxRow {
  id: number;
  kind: string;
  order_no: string | null;
  dedupe_key: string;
  payload: string;
  status: OutboxStatus;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last_error: string | null;
  done_at: number | null;
  revived_at: number | null;
}

export interface NewPayment {
  orderNo: string;
  posOrderId?: string | undefined;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code: string;
  codeMasked: string;
  traceId: string;
  createdAt: number;
  codeExpiresAt: number;
  queryDeadlineAt: number;
}

/** Columns a state change may set besides the state itself. */
export type PaymentPatch = Partial<
  Pick<
    PaymentRow,
    | 'reason_code'
    | 'reason_message'
    | 'pay_in_flight'
    | 'maybe_sent'
    | 'cancel_requested'
    | 'next_action_at'
    | 'acquirer_trade_no'
  >
>;

/** SQLite result codes that mean "this device cannot write right now". */
const WRITE_FAILURES = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PERM)/;

function asJournalError(e: unknown, what: string): never {
  if (e instanceof ScanpayError) throw e;
  const code = (e as { code?: string }).code ?? '';
  if (WRITE_FAILURES.test(code)) {
    throw new ScanpayError('JOURNAL_WRITE_FAILED', { message: `journal ${what} failed (${code}): nothing was sent`, cause: e });
  }
  throw e;
}

export class Journal {
  readonly path: string;
  readonly #db: Database.Database;
  /** Prepared once per text: preparing on every call cost a compile per write and kept the heap churning. */
  readonly #statements = new Map<string, Database.Statement>();
  readonly #codeSalt: Buffer;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#codeSalt = this.#loadSalt();
  }

  /**
   * Opens (creating if needed) the journal at `path`. `maxSizeBytes` caps the database so
   * that on a small device it fails cleanly (JOURNAL_WRITE_FAILED, nothing sent) before it
   * can fill the whole disk.
   */
  static open(path: string, options: { maxSizeBytes?: number } = {}): Journal {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      db = new Database(path);
      // Owner-only whatever the umask: the journal holds payment codes until payments end.
      if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
      // An erased payment code is zeroed in its page, not left in free space (docs/security.md).
      db.pragma('secure_delete = ON');
      db.pragma('journal_mode = WAL');
      // FULL: a committed row survives a power cut, which is the point of writing it first.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      if (options.maxSizeBytes !== undefined) {
        const pageSize = db.pragma('page_size', { simple: true }) as number;
        db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxSizeBytes / pageSize))}`);
      }
    } catch (e) {
      throw new ScanpayError('JOURNAL_OPEN_FAILED', { message: `cannot open the journal at ${path}: ${(e as Error).message}`, cause: e });
    }
    try {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
    } catch (e) {
      db.close();
      throw new ScanpayError('JOURNAL_OPEN_FAILED', {
        message: `the journal at ${path} is damaged (${(e as Error).message}); keep the file for support and do not delete it`,
        cause: e,
      });
    }
    // After a power cut the WAL still holds page images with erased codes: fold it in and
    // empty it. Best effort: with the agent busy (a CLI opening it) the agent's scrub does it.
    if (path !== ':memory:') {
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // busy: not this time
      }
    }
    Journal.#migrate(db);
    return new Journal(path, db);
  }

  static #migrate(db: Database.Database): void {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new ScanpayError('JOURNAL_MIGRATION_FAILED', {
        message: `the journal was written by a newer scanpay (schema ${current}, this one knows ${MIGRATIONS.length}): upgrade scanpay`,
      });
    }
    try {
      db.transaction(() => {
        for (let v = current; v < MIGRATIONS.length; v++) {
          db.exec(MIGRATIONS[v]!);
          db.pragma(`user_version = ${v + 1}`);
        }
      })();
    } catch (e) {
      throw new ScanpayError('JOURNAL_MIGRATION_FAILED', { message: `journal migration failed: ${(e as Error).message}`, cause: e });
    }
  }

  #loadSalt(): Buffer {
    const row = this.#stmt('SELECT value FROM meta WHERE key = ?').get('code_salt') as { value: string } | undefined;
    if (row) return Buffer.from(row.value, 'hex');
    const salt = randomBytes(32);
    this.#stmt('INSERT INTO meta (key, value) VALUES (?, ?)').run('code_salt', salt.toString('hex'));
    return salt;
  }

  /** Keyed hash of a payment code: lets us catch a reused code without keeping the code. */
  codeHash(code: string): string {
    return createHmac('sha256', this.#codeSalt).update(code).digest('hex');
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #stmt(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) this.#statements.set(sql, (st = this.#db.prepare(sql)));
    return st;
  }

  // ---- payments -------------------------------------------------------------------

  /**
   * Records a new payment. Refuses a code that was already submitted for any order, and
   * returns the existing payment when the POS order id was seen with the same details.
   */
  createPayment(p: NewPayment): { row: PaymentRow; created: boolean } {
    const codeHash = this.codeHash(p.code);
    try {
      return this.#db.transaction(() => {
        if (p.posOrderId !== undefined) {
          const existing = this.#stmt('SELECT * FROM payments WHERE pos_order_id = ?').get(p.posOrderId) as PaymentRow | undefined;
          if (existing) {
            if (existing.amount !== p.amount || existing.currency !== p.currency || existing.code_hash !== codeHash) {
              throw new ScanpayError('PAY_ORDER_ID_CONFLICT', { detail: { posOrderId: p.posOrderId, orderNo: existing.order_no } });
            }
            return { row: existing, created: false };
          }
        }
        const used = this.#stmt('SELECT order_no FROM payments WHERE code_hash = ?').get(codeHash) as { order_no: string } | undefined;
        if (used) throw new ScanpayError('PAY_CODE_DUPLICATE', { detail: { orderNo: used.order_no, code: p.codeMasked } });
        this.#stmt(
            `INSERT INTO payments (order_no, pos_order_id, amount, currency, description, wallet, code_hash, code_masked, code,
               trace_id, state, created_at, code_expires_at, query_deadline_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?)`,
          )
          .run(
            p.orderNo,
            p.posOrderId ?? null,
            p.amount,
            p.currency,
            p.description,
            p.wallet,
            codeHash,
            p.codeMasked,
            p.code,
            p.traceId,
            p.createdAt,
            p.codeExpiresAt,
            p.queryDeadlineAt,
            p.createdAt,
          );
        this.#event(p.orderNo, p.createdAt, 'submitting', 'created', { amount: p.amount, currency: p.currency, wallet: p.wallet });
        return { row: this.getPayment(p.orderNo)!, created: true };
      })();
    } catch (e) {
      return asJournalError(e, 'write');
    }
  }

  getPayment(orderNo: string): PaymentRow | undefined {
    return this.#stmt('SELECT * FROM payments WHERE order_no = ?').get(orderNo) as PaymentRow | undefined;
  }

  getByPosOrderId(posOrderId: string): PaymentRow | undefined {
    return this.#stmt('SELECT * FROM payments WHERE pos_order_id = ?').get(posOrderId) as PaymentRow | undefined;
  }

  /** Every payment that has not reached paid, declined or reversed, oldest first. */
  unfinished(): PaymentRow[] {
    return this.#stmt('SELECT * FROM payments WHERE outcome IS NULL ORDER BY created_at, order_no').all() as PaymentRow[];
  }

  listPayments(options: { since?: number; limit?: number } = {}): PaymentRow[] {
    return this.#stmt('SELECT * FROM payments WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?')
      .all(options.since ?? 0, options.limit ?? 1000) as PaymentRow[];
  }

  events(orderNo: string): PaymentEvent[] {
    return this.#stmt('SELECT * FROM payment_events WHERE order_no = ? ORDER BY id').all(orderNo) as PaymentEvent[];
  }

  /** Moves a payment to a new state and records why, in one durable transaction. */
  transition(orderNo: string, state: PaymentState, at: number, cause: string, patch: PaymentPatch = {}, detail?: unknown): void {
    this.#write(() => {
      this.#update(orderNo, { ...patch, state, updated_at: at });
      this.#event(orderNo, at, state, cause, detail);
    });
  }

  /** Called immediately before a pay request is handed to the network. */
  beforePayAttempt(orderNo: string, at: number): number {
    return this.#write(() => {
      this.#stmt("UPDATE payments SET pay_attempts = pay_attempts + 1, pay_in_flight = 1, state = 'submitting', pay_sent_at = ?, updated_at = ? WHERE order_no = ?")
        .run(at, at, orderNo);
      const n = this.getPayment(orderNo)!.pay_attempts;
      this.#event(orderNo, at, 'submitting', 'pay-sent', { attempt: n });
      return n;
    });
  }

  /** Records whether the attempt may have reached the backend; `false` only when it provably did not. */
  afterPayAttempt(orderNo: string, at: number, mayHaveArrived: boolean, cause: string): void {
    this.#write(() => {
      this.#stmt('UPDATE payments SET pay_in_flight = 0, maybe_sent = MAX(maybe_sent, ?), updated_at = ? WHERE order_no = ?')
        .run(mayHaveArrived ? 1 : 0, at, orderNo);
      this.#event(orderNo, at, 'submitting', cause);
    });
  }

  beforeQuery(orderNo: string, at: number): void {
    this.#write(() => {
      this.#stmt("UPDATE payments SET query_count = query_count + 1, state = 'querying', updated_at = ? WHERE order_no = ?").run(at, orderNo);
      this.#event(orderNo, at, 'querying', 'query-sent');
    });
  }

  beforeReverse(orderNo: string, at: number): void {
    this.#write(() => {
      this.#stmt("UPDATE payments SET reverse_attempts = reverse_attempts + 1, state = CASE WHEN state = 'reversal_queued' THEN state ELSE 'reversing' END, updated_at = ? WHERE order_no = ?")
        .run(at, orderNo);
      this.#event(orderNo, at, 'reversing', 'reverse-sent');
    });
  }

  /** Records what an answer said, without a change of state. */
  note(orderNo: string, at: number, state: PaymentState, cause: string, detail?: unknown): void {
    this.#write(() => this.#event(orderNo, at, state, cause, detail));
  }

  /** Ends a payment. The payment code is erased: a final payment never needs it again. */
  finish(orderNo: string, outcome: Outcome, at: number, cause: string, patch: PaymentPatch = {}, detail?: unknown): void {
    this.#write(() => {
      this.#update(orderNo, { ...patch, state: outcome, outcome, final_at: at, updated_at: at, code: null, pay_in_flight: 0 });
      this.#event(orderNo, at, outcome, cause, detail);
    });
  }

  #update(orderNo: string, cols: Record<string, unknown>): void {
    const names = Object.keys(cols);
    const result = this.#stmt(`UPDATE payments SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE order_no = @order_no`)
      .run({ ...cols, order_no: orderNo });
    if (result.changes !== 1) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo } });
  }

  #event(orderNo: string, at: number, state: string, cause: string, detail?: unknown): void {
    this.#stmt('INSERT INTO payment_events (order_no, at, state, cause, detail) VALUES (?, ?, ?, ?, ?)')
      .run(orderNo, at, state, cause, detail === undefined ? null : JSON.stringify(detail));
  }

  #write<T>(fn: () => T): T {
    try {
      return this.#db.transaction(fn)();
    } catch (e) {
      return asJournalError(e, 'write');
    }
  }

  // ---- refunds --------------------------------------------------------------------

  /**
   * Records a refund before it is sent. Idempotent by the POS's refund id; refuses one
   * that would take back more than was paid (pending refunds count: they may succeed).
   */
  createRefund(r: { refundNo: string; posRefundId: string; orderNo: string; amount: number; at: number }): { row: RefundRow; created: boolean } {
    return this.#write(() => {
      const existing = this.getRefund(r.posRefundId);
      if (existing) {
        if (existing.order_no !== r.orderNo || existing.amount !== r.amount) {
          throw new ScanpayError('PAY_REFUND_CONFLICT', { detail: { refundId: r.posRefundId } });
        }
        return { row: existing, created: false };
      }
      const payment = this.getPayment(r.orderNo);
      if (!payment) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo: r.orderNo } });
      if (payment.outcome !== 'paid') throw new ScanpayError('PAY_NOT_REFUNDABLE', { detail: { orderNo: r.orderNo, state: payment.state } });
      const { taken } = this.#stmt("SELECT COALESCE(SUM(amount), 0) AS taken FROM refunds WHERE order_no = ? AND state != 'failed'")
        .get(r.orderNo) as { taken: number };
      if (taken + r.amount > payment.amount) {
        throw new ScanpayError('PAY_REFUND_EXCEEDS', { detail: { orderNo: r.orderNo, paid: payment.amount, alreadyRefunded: taken, asked: r.amount } });
      }
      this.#stmt("INSERT INTO refunds (refund_no, pos_refund_id, order_no, amount, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)")
        .run(r.refundNo, r.posRefundId, r.orderNo, r.amount, r.at, r.at);
      this.#event(r.orderNo, r.at, payment.state, 'refund requested', { refundNo: r.refundNo, amount: r.amount });
      return { row: this.getRefund(r.posRefundId)!, created: true };
    });
  }

  getRefund(posRefundId: string): RefundRow | undefined {
    return this.#stmt('SELECT * FROM refunds WHERE pos_refund_id = ?').get(posRefundId) as RefundRow | undefined;
  }

  getRefundByNo(refundNo: string): RefundRow | undefined {
    return this.#stmt('SELECT * FROM refunds WHERE refund_no = ?').get(refundNo) as RefundRow | undefined;
  }

  refundsOf(orderNo: string): RefundRow[] {
    return this.#stmt('SELECT * FROM refunds WHERE order_no = ? ORDER BY created_at').all(orderNo) as RefundRow[];
  }

  settleRefund(refundNo: string, state: 'refunded' | 'failed', at: number, reasonCode?: string): void {
    this.#write(() => {
      const r = this.getRefundByNo(refundNo);
      if (!r) throw new ScanpayError('PAY_NOT_FOUND', { detail: { refundNo } });
      this.#stmt('UPDATE refunds SET state = ?, reason_code = ?, updated_at = ? WHERE refund_no = ?').run(state, reasonCode ?? null, at, refundNo);
      this.#event(r.order_no, at, this.getPayment(r.order_no)!.state, `refund ${state}`, { refundNo, amount: r.amount, reasonCode });
    });
  }

  // ---- outbox ---------------------------------------------------------------------

  /** Adds a follow-up to deliver; a second enqueue with the same dedupe key is a no-op. */
  enqueue(item: { kind: string; orderNo?: string; dedupeKey: string; payload: unknown; at: number }): OutboxRow {
    return this.#write(() => {
      this.#stmt(
          `INSERT INTO outbox (kind, order_no, dedupe_key, payload, created_at, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
        )
        .run(item.kind, item.orderNo ?? null, item.dedupeKey, JSON.stringify(item.payload), item.at, item.at);
      return this.#stmt('SELECT * FROM outbox WHERE dedupe_key = ?').get(item.dedupeKey) as OutboxRow;
    });
  }

  /** Pending items whose time has come, soonest first. */
  dueOutbox(now: number, limit: number, exceptIds: number[] = []): OutboxRow[] {
    return this.#stmt(
        `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? AND id NOT IN (SELECT value FROM json_each(?))
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(now, JSON.stringify(exceptIds), limit) as OutboxRow[];
  }

  /** When the next pending item falls due, leaving out the ids given (items under way). */
  nextOutboxAt(exceptIds: number[] = []): number | undefined {
    const row = this.#stmt("SELECT MIN(next_attempt_at) AS at FROM outbox WHERE status = 'pending' AND id NOT IN (SELECT value FROM json_each(?))")
      .get(JSON.stringify(exceptIds)) as { at: number | null };
    return row.at ?? undefined;
  }

  outbox(status?: OutboxStatus): OutboxRow[] {
    return (
      status
        ? this.#stmt('SELECT * FROM outbox WHERE status = ? ORDER BY id').all(status)
        : this.#stmt('SELECT * FROM outbox ORDER BY id').all()
    ) as OutboxRow[];
  }

  getOutboxItem(id: number): OutboxRow | undefined {
    return this.#stmt('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow | undefined;
  }

  outboxAttemptFailed(id: number, at: number, error: string, nextAttemptAt: number): void {
    this.#write(() => {
      this.#stmt('UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, next_attempt_at = ? WHERE id = ?')
        .run(at, error, nextAttemptAt, id);
    });
  }

  outboxDone(id: number, at: number): void {
    this.#write(() => {
      this.#stmt("UPDATE outbox SET status = 'done', attempts = attempts + 1, last_attempt_at = ?, done_at = ?, last_error = NULL WHERE id = ?").run(at, at, id);
    });
  }

  outboxDead(id: number, at: number, error: string): void {
    this.#write(() => {
      this.#stmt("UPDATE outbox SET status = 'dead', last_attempt_at = ?, last_error = ? WHERE id = ?").run(at, error, id);
    });
  }

  /** Puts a dead or waiting item back to be tried at once (a technician's `queue retry`). */
  outboxRetryNow(id: number, at: number): boolean {
    return this.#write(
      () =>
        this.#stmt("UPDATE outbox SET status = 'pending', next_attempt_at = ?, revived_at = ? WHERE id = ? AND status != 'done'").run(at, at, id).changes === 1,
    );
  }

  // ---- settlement -----------------------------------------------------------------

  /**
   * The batch to settle: the one closed earlier and not yet settled (its settle call was
   * cut off), else a new one holding every final payment and confirmed refund in no batch.
   * Refused while a payment or refund is under way: its outcome would miss the batch.
   */
  closeBatch(batchNo: string, at: number): SettlementRow {
    return this.#write(() => {
      const open = this.#stmt("SELECT * FROM settlements WHERE status = 'closed'").get() as SettlementRow | undefined;
      if (open) return open;
      const { busy } = this.#stmt("SELECT (SELECT COUNT(*) FROM payments WHERE outcome IS NULL) + (SELECT COUNT(*) FROM refunds WHERE state = 'pending') AS busy")
        .get() as { busy: number };
      if (busy > 0) throw new ScanpayError('PAY_SETTLEMENT_BLOCKED', { detail: { underWay: busy } });
      this.#stmt("INSERT INTO settlements (batch_no, closed_at, status) VALUES (?, ?, 'closed')").run(batchNo, at);
      this.#stmt('UPDATE payments SET batch_no = ? WHERE outcome IS NOT NULL AND batch_no IS NULL').run(batchNo);
      this.#stmt("UPDATE refunds SET batch_no = ? WHERE state = 'refunded' AND batch_no IS NULL").run(batchNo);
      return this.#stmt('SELECT * FROM settlements WHERE batch_no = ?').get(batchNo) as SettlementRow;
    });
  }

  /** Payments of the batch, and payments of earlier batches refunded in it. */
  batchPayments(batchNo: string): PaymentRow[] {
    return this.#stmt('SELECT * FROM payments WHERE batch_no = ? OR order_no IN (SELECT order_no FROM refunds WHERE batch_no = ?) ORDER BY created_at, order_no')
      .all(batchNo, batchNo) as PaymentRow[];
  }

  finishSettlement(batchNo: string, status: 'matched' | 'mismatch', at: number, report: unknown): void {
    this.#write(() => {
      this.#stmt('UPDATE settlements SET status = ?, settled_at = ?, report = ? WHERE batch_no = ?').run(status, at, JSON.stringify(report), batchNo);
    });
  }

  settlements(limit = 30): SettlementRow[] {
    return this.#stmt('SELECT * FROM settlements ORDER BY closed_at DESC LIMIT ?').all(limit) as SettlementRow[];
  }

  /** Runs several journal writes as one durable transaction. */
  atomically<T>(fn: () => T): T {
    return this.#write(fn);
  }
}
