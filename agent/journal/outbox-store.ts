/** The outbox in the journal: follow-ups to deliver, each on its own schedule, until done or dead. */
import type { JournalDb } from './journal-db.ts';
import type { OutboxRow, OutboxStatus } from './rows.ts';

export class OutboxStore {
  readonly #db: JournalDb;

  constructor(db: JournalDb) {
    this.#db = db;
  }

  /** Adds a follow-up to deliver; a second enqueue with the same dedupe key is a no-op. */
  enqueue(item: { kind: string; orderNo?: string; dedupeKey: string; payload: unknown; at: number }): OutboxRow {
    return this.#db.write(() => {
      this.#db
        .stmt(
          `INSERT INTO outbox (kind, order_no, dedupe_key, payload, created_at, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
        )
        .run(item.kind, item.orderNo ?? null, item.dedupeKey, JSON.stringify(item.payload), item.at, item.at);
      return this.#db.stmt('SELECT * FROM outbox WHERE dedupe_key = ?').get(item.dedupeKey) as OutboxRow;
    });
  }

  /** Pending items whose time has come, soonest first. */
  due(now: number, limit: number, exceptIds: number[] = []): OutboxRow[] {
    return this.#db
      .stmt(
        `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? AND id NOT IN (SELECT value FROM json_each(?))
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(now, JSON.stringify(exceptIds), limit) as OutboxRow[];
  }

  /** When the next pending item falls due, leaving out the ids given (items under way). */
  nextAt(exceptIds: number[] = []): number | undefined {
    const row = this.#db.stmt("SELECT MIN(next_attempt_at) AS at FROM outbox WHERE status = 'pending' AND id NOT IN (SELECT value FROM json_each(?))").get(JSON.stringify(exceptIds)) as {
      at: number | null;
    };
    return row.at ?? undefined;
  }

  list(status?: OutboxStatus): OutboxRow[] {
    return (status ? this.#db.stmt('SELECT * FROM outbox WHERE status = ? ORDER BY id').all(status) : this.#db.stmt('SELECT * FROM outbox ORDER BY id').all()) as OutboxRow[];
  }

  get(id: number): OutboxRow | undefined {
    return this.#db.stmt('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow | undefined;
  }

  attemptFailed(id: number, at: number, error: string, nextAttemptAt: number): void {
    this.#db.write(() => {
      this.#db.stmt('UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, next_attempt_at = ? WHERE id = ?').run(at, error, nextAttemptAt, id);
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

  /** Puts a dead or waiting item back to be tried at once (a technician's `queue retry`). */
  retryNow(id: number, at: number): boolean {
    return this.#db.write(() => this.#db.stmt("UPDATE outbox SET status = 'pending', next_attempt_at = ?, revived_at = ? WHERE id = ? AND status != 'done'").run(at, at, id).changes === 1);
  }
}
