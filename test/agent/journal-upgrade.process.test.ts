/**
 * Upgrades keep the journal (agent/journal/migrations.ts). A journal left by each older
 * release (the schema of its first k migrations: released entries are never edited, which
 * the digests below pin) is migrated by this version with its payments and queue intact;
 * and a journal from a newer release is refused, by `scanpay run` too, with an error that
 * says what to do and a journal left as it was.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isScanpayError } from '../../agent/errors.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { MIGRATIONS } from '../../agent/journal/migrations.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
/** sha256 (first 16 hex digits) of each released migration: a changed one would upgrade old journals wrongly. */
const RELEASED = ['5882d775d4782ade', 'f3e5ad2e45352346', '7e1b1fcf2239ac0b', '14c77f740b0ac531'];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-upgrade-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A journal as the release with the first `k` migrations left it: one payment in flight, its reversal queued. */
function olderJournal(path: string, k: number): void {
  const db = new Database(path);
  for (let v = 0; v < k; v++) db.exec(MIGRATIONS[v]!);
  db.pragma(`user_version = ${k}`);
  const at = Date.UTC(2026, 0, 1);
  // Columns of the first release: every later migration only adds.
  db.prepare(
    `INSERT INTO payments (order_no, amount, currency, wallet, code_hash, code_masked, code, trace_id, state, pay_attempts, pay_in_flight, maybe_sent,
       created_at, code_expires_at, query_deadline_at, updated_at) VALUES ('T0000001260101000000001', 1234, 'CNY', 'wechat', 'h1', '1345**********1234', NULL, 'tr1', 'reversal_queued', 1, 0, 1, ?, ?, ?, ?)`,
  ).run(at, at + 60_000, at + 45_000, at);
  db.prepare(`INSERT INTO outbox (kind, order_no, dedupe_key, payload, created_at, next_attempt_at) VALUES ('reverse', 'T0000001260101000000001', 'reverse:T0000001260101000000001', '{"orderNo":"T0000001260101000000001"}', ?, ?)`).run(at, at);
  db.close();
}

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

describe('journal upgrades', () => {
  it('released migrations are never edited (add a new entry instead)', () => {
    const digests = MIGRATIONS.map((m) => createHash('sha256').update(m).digest('hex').slice(0, 16));
    expect(digests.slice(0, RELEASED.length)).toEqual(RELEASED);
  });

  it.each(Array.from({ length: MIGRATIONS.length - 1 }, (_, i) => i + 1))('a journal of schema %i is migrated with its payment and queue intact', (k) => {
    const path = join(dir, 'journal.db');
    olderJournal(path, k);
    const j = Journal.open(path);
    try {
      expect(j.unfinished().map((p) => [p.order_no, p.state, p.amount])).toEqual([['T0000001260101000000001', 'reversal_queued', 1234]]);
      expect(j.outbox('pending').map((o) => [o.kind, o.order_no])).toEqual([['reverse', 'T0000001260101000000001']]);
    } finally {
      j.close();
    }
    expect(userVersion(path)).toBe(MIGRATIONS.length);
  });

  it('a journal from a newer scanpay is refused, named, and left as it was', () => {
    const path = join(dir, 'journal.db');
    olderJournal(path, MIGRATIONS.length);
    const db = new Database(path);
    db.exec('CREATE TABLE from_the_future (x INTEGER)');
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    let error: unknown;
    try {
      Journal.open(path).close();
    } catch (e) {
      error = e;
    }
    expect(isScanpayError(error, 'JOURNAL_MIGRATION_FAILED')).toBe(true);
    expect((error as Error).message).toBe(`the journal was written by a newer scanpay (schema ${MIGRATIONS.length + 1}, this one knows ${MIGRATIONS.length}): upgrade scanpay`);
    expect(userVersion(path)).toBe(MIGRATIONS.length + 1);
    const after = new Database(path, { readonly: true });
    expect(after.prepare('SELECT order_no FROM payments').all()).toEqual([{ order_no: 'T0000001260101000000001' }]);
    after.close();
  });

  it('`scanpay run` on a newer journal stops with that error, not a stack trace', async () => {
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    olderJournal(join(home, 'journal.db'), MIGRATIONS.length);
    const db = new Database(join(home, 'journal.db'));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'run', '--demo', '--backend', 'http://127.0.0.1:9', '--port', '0'], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent' }, timeout: 110_000 }, (e, _out, stderr) =>
        resolve({ code: e ? (e.code as number) : 0, stderr }),
      ),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('scanpay: JOURNAL_MIGRATION_FAILED: the journal was written by a newer scanpay');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
