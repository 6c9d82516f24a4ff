/**
 * Journal schema, one entry per version. Applied in order inside a transaction; the
 * database's `user_version` records how far it has come. Never edit a released entry:
 * add a new one, and its digest to test/agent/journal-upgrade.process.test.ts, which migrates a
 * journal of every older schema and checks that a newer one is refused untouched.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE payments (
    order_no          TEXT PRIMARY KEY,
    pos_order_id      TEXT UNIQUE,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    wallet            TEXT NOT NULL,
    code_hash         TEXT NOT NULL UNIQUE,
    code_masked       TEXT NOT NULL,
    -- The code itself is kept only while a pay may need resending; wiped when final.
    code              TEXT,
    trace_id          TEXT NOT NULL,
    state             TEXT NOT NULL,
    outcome           TEXT CHECK (outcome IN ('paid', 'declined', 'reversed')),
    reason_code       TEXT,
    reason_message    TEXT,
    pay_attempts      INTEGER NOT NULL DEFAULT 0,
    -- 1 while a pay request is on its way: after a crash it may have arrived.
    pay_in_flight     INTEGER NOT NULL DEFAULT 0,
    -- 1 once any pay attempt may have reached the backend.
    maybe_sent        INTEGER NOT NULL DEFAULT 0,
    query_count       INTEGER NOT NULL DEFAULT 0,
    reverse_attempts  INTEGER NOT NULL DEFAULT 0,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    code_expires_at   INTEGER NOT NULL,
    query_deadline_at INTEGER NOT NULL,
    next_action_at    INTEGER,
    acquirer_trade_no TEXT,
    updated_at        INTEGER NOT NULL,
    final_at          INTEGER
  );
  CREATE INDEX payments_unfinished ON payments (outcome) WHERE outcome IS NULL;
  CREATE INDEX payments_created ON payments (created_at);

  CREATE TABLE payment_events (
    id        INTEGER PRIMARY KEY,
    order_no  TEXT NOT NULL REFERENCES payments (order_no),
    at        INTEGER NOT NULL,
    state     TEXT NOT NULL,
    cause     TEXT NOT NULL,
    detail    TEXT
  );
  CREATE INDEX payment_events_order ON payment_events (order_no, id);

  CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    order_no        TEXT,
    dedupe_key      TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_error      TEXT,
    done_at         INTEGER
  );
  CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
  `,
  `
  CREATE TABLE refunds (
    refund_no      TEXT PRIMARY KEY,
    pos_refund_id  TEXT NOT NULL UNIQUE,
    order_no       TEXT NOT NULL REFERENCES payments (order_no),
    amount         INTEGER NOT NULL CHECK (amount > 0),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'refunded', 'failed')),
    reason_code    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
  );
  CREATE INDEX refunds_order ON refunds (order_no);
  `,
  // A technician's retry of a dead letter gives it a fresh maximum-age window from here.
  `ALTER TABLE outbox ADD COLUMN revived_at INTEGER;`,
  // End-of-day settlement: each final payment and each confirmed refund joins one batch.
  `
  ALTER TABLE payments ADD COLUMN batch_no TEXT;
  ALTER TABLE refunds ADD COLUMN batch_no TEXT;
  CREATE TABLE settlements (
    batch_no   TEXT PRIMARY KEY,
    closed_at  INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('closed', 'matched', 'mismatch')),
    settled_at INTEGER,
    report     TEXT
  );
  CREATE INDEX payments_batch ON payments (batch_no);
  `,
  // The acquirer's earliest-reverse and revoke-unpaid rules count from the latest pay sent.
  `ALTER TABLE payments ADD COLUMN pay_sent_at INTEGER;`,
  // The device's own faults (issue 12): a payment's lane, so a restart gives it back; whether
  // the acquirer acknowledged the order, so a later "not found" is a contradiction, not a
  // verdict; the outbox's age in elapsed time, not wall-clock time, and when it passed its
  // maximum (an alarm for kinds that are never dead-lettered on age).
  `
  ALTER TABLE payments ADD COLUMN lane TEXT;
  ALTER TABLE payments ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE payments ADD COLUMN contradiction_at INTEGER;
  ALTER TABLE outbox ADD COLUMN age_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE outbox ADD COLUMN overdue_at INTEGER;
  `,
  // Fewer index pages per payment (issue 18): the payments in no batch yet, every unfinished
  // one among them (a batch closes only when none is under way and takes final ones only),
  // in one partial index written when a payment is created and not again when it ends; the
  // batched ones by batch, indexed only once batched. Was: an entry in the unfinished index
  // at creation, removed at the end, and a NULL batch entry for every payment.
  `
  DROP INDEX payments_unfinished;
  DROP INDEX payments_batch;
  CREATE INDEX payments_unbatched ON payments (created_at, order_no) WHERE batch_no IS NULL;
  CREATE INDEX payments_batch ON payments (batch_no) WHERE batch_no IS NOT NULL;
  `,
];
