/** The outbox in the journal: follow-ups to deliver, each on its own schedule, until done or dead. */
import type { JournalDb } from './journal-db.ts';
import type { OutboxRow, OutboxStatus } from './rows.ts';

export class OutboxStore {
  readonly #db: JournalDb;

  constructor(db: JournalDb) {
    this.#db = db;
  }

  /**
   * Adds a follow-up to deliver; a second enqueue with the same dedupe key is a no-op. `at`: when it
   * was made; `dueAt` (default `at`): its first attempt. A creation time in the future would read as a
   * clock that went back, and the worker would deliver it at once.
   */
  enqueue(item: { kind: string; orderNo?: string; dedupeKey: string; payload: unknown; at: number; dueAt?: number }): OutboxRow {
    return this.#db.write(() => {
      this.#db
        .stmt(
          `INSERT INTO outbox (kind, order_no, dedupe_key, payload, created_at, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
        )
        .run(item.kind, item.orderNo ?? null, item.dedupeKey, JSON.stringify(item.payload), item.at, item.dueAt ?? item.at);
      return this.#db.stmt('SELECT * FROM outbox WHERE dedupe_key = ?').get(item.dedupeKey) as OutboxRow;
    });
  }

  list(status?: OutboxStatus): OutboxRow[] {
    return (status ? this.#db.stmt('SELECT * FROM outbox WHERE status = ? ORDER BY id').all(status) : this.#db.stmt('SELECT * FROM outbox ORDER BY id').all()) as OutboxRow[];
  }

  /**
   * Pending items in the order their stored schedule makes them due, at most `limit`,
   * leaving out the ids given (items under way, resting, or scheduled in memory). The
   * outbox_due index gives the order, so a kick reads a few rows, not the whole queue.
   */
  due(limit: number, exceptIds: readonly number[]): OutboxRow[] {
    return this.#db
      .stmt(
        `SELECT * FROM outbox WHERE status = 'pending' AND id NOT IN (SELECT value FROM json_each(?))
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(JSON.stringify(exceptIds), limit) as OutboxRow[];
  }

  get(id: number): OutboxRow | undefined {
    return this.#db.stmt('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow | undefined;
  }

  /** A payment's items still waiting (its reversal, its refunds), for its view. */
  pendingOf(orderNo: string): OutboxRow[] {
    return this.#db.stmt("SELECT * FROM outbox WHERE order_no = ? AND status = 'pending' ORDER BY id").all(orderNo) as OutboxRow[];
  }

  /** `ageMs`: the item's age as the worker counted it (agent/outbox/outbox-worker.ts); kept when not given. */
  attemptFailed(id: number, at: number, error: string, nextAttemptAt: number, ageMs?: number): void {
    this.#db.write(() => {
      this.#db
        .stmt('UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, next_attempt_at = ?, age_ms = COALESCE(?, age_ms) WHERE id = ?')
        .run(at, error, nextAttemptAt, ageMs ?? null, id);
    });
  }

  /** An item that is never dead-lettered on age passed its maximum: recorded once, as an alarm. */
  overdue(id: number, at: number, ageMs: number): void {
    this.#db.write(() => {
      this.#db.stmt('UPDATE outbox SET overdue_at = COALESCE(overdue_at, ?), age_ms = MAX(age_ms, ?) WHERE id = ?').run(at, ageMs, id);
    });
  }

  done(id: number, at: number): void {
    this.#db.write(() => {
      this.#db.stmt("UPDATE outbox SET status = 'done', attempts = attempts + 1, last_attempt_at = ?, done_at = ?, last_error = NULL WHERE id = ?").run(at, at, id);
    });
  }

  dead(id: number, at: number, error: string): void {
    this.#db.write(() => {
      this.#db.stmt("UPDATE outbox SET status = 'dead', last_attempt_at = ?, last_error = ? WHERE id = ?").run(at, error, id);
    });
  }

  /** Puts a dead or waiting item back to be tried at once (a technician's `queue retry`), with a fresh maximum age. */
  retryNow(id: number, at: number): boolean {
    return this.#db.write(
      () => this.#db.stmt("UPDATE outbox SET status = 'pending', next_attempt_at = ?, revived_at = ?, age_ms = 0, overdue_at = NULL WHERE id = ? AND status != 'done'").run(at, at, id).changes === 1,
    );
  }
}
