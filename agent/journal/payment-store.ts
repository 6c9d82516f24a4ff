/** Payments and their history in the journal: created before anything is sent, changed only with a reason. */
import { createHmac, randomBytes } from 'node:crypto';
import { ScanpayError } from '../errors.ts';
import type { JournalDb } from './journal-db.ts';
import type { NewPayment, Outcome, PaymentEvent, PaymentPatch, PaymentRow, PaymentState } from './rows.ts';

export class PaymentStore {
  readonly #db: JournalDb;
  readonly #codeSalt: Buffer;

  constructor(db: JournalDb) {
    this.#db = db;
    this.#codeSalt = this.#loadSalt();
  }

  #loadSalt(): Buffer {
    const row = this.#db.stmt('SELECT value FROM meta WHERE key = ?').get('code_salt') as { value: string } | undefined;
    if (row) return Buffer.from(row.value, 'hex');
    const salt = randomBytes(32);
    this.#db.stmt('INSERT INTO meta (key, value) VALUES (?, ?)').run('code_salt', salt.toString('hex'));
    return salt;
  }

  /** Keyed hash of a payment code: lets us catch a reused code without keeping the code. */
  codeHash(code: string): string {
    return createHmac('sha256', this.#codeSalt).update(code).digest('hex');
  }

  /**
   * Records a new payment. Refuses a code that was already submitted for any order, and
   * returns the existing payment when the POS order id was seen with the same details.
   * Lazy: nothing has left the device yet; the pay's durable beforePayAttempt (or any other
   * durable write) syncs it first. Lost to a power cut, the payment never reached the backend.
   */
  create(p: NewPayment): { row: PaymentRow; created: boolean } {
    const codeHash = this.codeHash(p.code);
    return this.#db.write(() => {
      if (p.posOrderId !== undefined) {
        const existing = this.byPosOrderId(p.posOrderId);
        if (existing) {
          if (existing.amount !== p.amount || existing.currency !== p.currency || existing.code_hash !== codeHash) {
            throw new ScanpayError('PAY_ORDER_ID_CONFLICT', { detail: { posOrderId: p.posOrderId, orderNo: existing.order_no } });
          }
          return { row: existing, created: false };
        }
      }
      const used = this.#db.stmt('SELECT order_no FROM payments WHERE code_hash = ?').get(codeHash) as { order_no: string } | undefined;
      if (used) throw new ScanpayError('PAY_CODE_DUPLICATE', { detail: { orderNo: used.order_no, code: p.codeMasked } });
      // RETURNING: the row as written, without reading it again.
      const row = this.#db
        .stmt(
          `INSERT INTO payments (order_no, pos_order_id, amount, currency, description, wallet, code_hash, code_masked, code,
             trace_id, state, created_at, code_expires_at, query_deadline_at, updated_at, lane)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?, ?) RETURNING *`,
        )
        .get(
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
          p.lane ?? null,
        ) as PaymentRow;
      this.#db.event(p.orderNo, p.createdAt, 'submitting', 'created', { amount: p.amount, currency: p.currency, wallet: p.wallet });
      return { row, created: true };
    }, 'lazy');
  }

  get(orderNo: string): PaymentRow | undefined {
    return this.#db.stmt('SELECT * FROM payments WHERE order_no = ?').get(orderNo) as PaymentRow | undefined;
  }

  byPosOrderId(posOrderId: string): PaymentRow | undefined {
    return this.#db.stmt('SELECT * FROM payments WHERE pos_order_id = ?').get(posOrderId) as PaymentRow | undefined;
  }

  /**
   * Every payment that has not reached paid, declined or reversed, oldest first. Through the
   * index of payments in no batch: an unfinished payment is never in one (settlement-store.ts).
   */
  unfinished(): PaymentRow[] {
    return this.#db.stmt('SELECT * FROM payments WHERE batch_no IS NULL AND outcome IS NULL ORDER BY created_at, order_no').all() as PaymentRow[];
  }

  list(options: { since?: number; limit?: number } = {}): PaymentRow[] {
    return this.#db.stmt('SELECT * FROM payments WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?').all(options.since ?? 0, options.limit ?? 1000) as PaymentRow[];
  }

  events(orderNo: string): PaymentEvent[] {
    return this.#db.stmt('SELECT * FROM payment_events WHERE order_no = ? ORDER BY id').all(orderNo) as PaymentEvent[];
  }

  /** Moves a payment to a new state and records why, in one durable transaction. */
  transition(orderNo: string, state: PaymentState, at: number, cause: string, patch: PaymentPatch = {}, detail?: unknown): void {
    this.#db.write(() => {
      this.#update(orderNo, { ...patch, state, updated_at: at });
      this.#db.event(orderNo, at, state, cause, detail);
    });
  }

  /**
   * Called immediately before a pay request is handed to the network. Grouped: the request
   * waits for `synced()` (rule 1), so the pays of several lanes share one fsync off the event loop.
   */
  beforePayAttempt(orderNo: string, at: number): number {
    return this.#db.write(() => {
      const n = (
        this.#db
          .stmt("UPDATE payments SET pay_attempts = pay_attempts + 1, pay_in_flight = 1, state = 'submitting', pay_sent_at = ?, updated_at = ? WHERE order_no = ? RETURNING pay_attempts")
          .get(at, at, orderNo) as { pay_attempts: number }
      ).pay_attempts;
      this.#db.event(orderNo, at, 'submitting', 'pay-sent', { attempt: n });
      return n;
    }, 'grouped');
  }

  /**
   * Records whether the attempt may have reached the backend; `false` only when it provably did not.
   * Lazy: lost to a power cut, the journal still says the pay was in flight, and recovery
   * queries the same order number (rule 2); no request follows before a durable write.
   */
  afterPayAttempt(orderNo: string, at: number, mayHaveArrived: boolean, cause: string): void {
    this.#db.write(() => {
      this.#db.stmt('UPDATE payments SET pay_in_flight = 0, maybe_sent = MAX(maybe_sent, ?), updated_at = ? WHERE order_no = ?').run(mayHaveArrived ? 1 : 0, at, orderNo);
      this.#db.event(orderNo, at, 'submitting', cause);
    }, 'lazy');
  }

  /** Before a query request. Grouped, like beforePayAttempt: the query waits for `synced()`. */
  beforeQuery(orderNo: string, at: number): void {
    this.#db.write(() => {
      this.#db.stmt("UPDATE payments SET query_count = query_count + 1, state = 'querying', updated_at = ? WHERE order_no = ?").run(at, orderNo);
      this.#db.event(orderNo, at, 'querying', 'query-sent');
    }, 'grouped');
  }

  /** Before a reverse request. Grouped, like beforePayAttempt: the reverse waits for `synced()`. */
  beforeReverse(orderNo: string, at: number): void {
    this.#db.write(() => {
      this.#db
        .stmt("UPDATE payments SET reverse_attempts = reverse_attempts + 1, state = CASE WHEN state = 'reversal_queued' THEN state ELSE 'reversing' END, updated_at = ? WHERE order_no = ?")
        .run(at, orderNo);
      this.#db.event(orderNo, at, 'reversing', 'reverse-sent');
    }, 'grouped');
  }

  /**
   * Notes that an answer named the order (a later "not found" is then a contradiction).
   * Lazy: whatever follows the answer syncs it before any request (paid's durable finish,
   * the durable "querying" before a query, the grouped write before a reverse); lost with a
   * "declined" or "reversed" end, no money moved and recovery asks the same order again.
   */
  acknowledge(orderNo: string, at: number, state: PaymentState): void {
    this.#db.write(() => {
      this.#update(orderNo, { acknowledged: 1, updated_at: at });
      this.#db.event(orderNo, at, state, 'the acquirer acknowledged the order');
    }, 'lazy');
  }

  /**
   * `acknowledge` unless the order is acknowledged already, in one statement: the pay's
   * answer notes it without reading the whole row first. Lazy, for the same reasons.
   */
  acknowledgeOnce(orderNo: string, at: number): void {
    this.#db.write(() => {
      const row = this.#db.stmt('UPDATE payments SET acknowledged = 1, updated_at = ? WHERE order_no = ? AND acknowledged = 0 RETURNING state').get(at, orderNo) as { state: PaymentState } | undefined;
      if (row) this.#db.event(orderNo, at, row.state, 'the acquirer acknowledged the order');
    }, 'lazy');
  }

  /** Records what an answer said, without a change of state. Lazy: history only; the state it explains is written on its own. */
  note(orderNo: string, at: number, state: PaymentState, cause: string, detail?: unknown): void {
    this.#db.write(() => this.#db.event(orderNo, at, state, cause, detail), 'lazy');
  }

  /**
   * Ends a payment. The payment code is erased: a final payment never needs it again.
   * "paid" is durable before the cashier is told: lost to a power cut, recovery would query
   * again, and a backend out of reach until the query deadline would make it reverse a sale
   * whose goods are gone. "declined" and "reversed" are lazy: lost, recovery queries or
   * reverses the same order again and reaches the same end (rules 2 and 4), and the code,
   * on disk since the synced beforePayAttempt, is erased again. `paid: 'grouped'` (the
   * engine's): "paid" is synced with the next `synced()`, and the engine tells nobody before.
   * Every argument is given: the journal's `finish` holds the defaults.
   */
  finish(orderNo: string, outcome: Outcome, at: number, cause: string, patch: PaymentPatch, detail: unknown, paid: 'durable' | 'grouped'): void {
    this.#db.write(() => {
      this.#update(orderNo, { ...patch, state: outcome, outcome, final_at: at, updated_at: at, code: null, pay_in_flight: 0 });
      this.#db.event(orderNo, at, outcome, cause, detail);
    }, outcome === 'paid' ? paid : 'lazy');
  }

  /** One statement per set of columns, prepared once like every other. */
  #update(orderNo: string, cols: Record<string, unknown>): void {
    const names = Object.keys(cols);
    const result = this.#db.stmt(`UPDATE payments SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE order_no = @order_no`).run({ ...cols, order_no: orderNo });
    if (result.changes !== 1) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo } });
  }
}
