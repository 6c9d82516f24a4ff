import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isScanpayError } from '../../agent/errors.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { MIGRATIONS } from '../../agent/journal/migrations.ts';
import { newPayment } from '../support/new-payment.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-journal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const payment = newPayment;

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isScanpayError(e) ? e.code : `not a ScanpayError: ${String(e)}`;
  }
  return undefined;
}

function thrown(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('journal', () => {
  it('runs in WAL mode with full synchronous writes, at the latest schema', () => {
    const path = join(dir, 'j.db');
    Journal.open(path).close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('never stores a payment code it does not need: kept while unfinished, erased when final', () => {
    const j = Journal.open(join(dir, 'j.db'));
    j.createPayment(payment());
    expect(j.getPayment('T1260101000000abcd')!.code).toBe('134567890123456789');
    j.finish('T1260101000000abcd', 'paid', 2, 'paid');
    expect(j.getPayment('T1260101000000abcd')!.code).toBeNull();
    // The duplicate check still works from the keyed hash.
    expect(errorCode(() => j.createPayment(payment({ orderNo: 'T1260101000000efgh' })))).toBe('PAY_CODE_DUPLICATE');
    j.close();
  });

  it('records every state change with its time and cause', () => {
    const j = Journal.open(join(dir, 'j.db'));
    j.createPayment(payment());
    j.beforePayAttempt('T1260101000000abcd', 5);
    j.afterPayAttempt('T1260101000000abcd', 9, true, 'pay UNKNOWN');
    j.transition('T1260101000000abcd', 'querying', 10, 'outcome unknown');
    expect(j.events('T1260101000000abcd').map((e) => [e.at, e.state, e.cause])).toEqual([
      [1, 'submitting', 'created'],
      [5, 'submitting', 'pay-sent'],
      [9, 'submitting', 'pay UNKNOWN'],
      [10, 'querying', 'outcome unknown'],
    ]);
    j.close();
  });

  it('a full disk refuses the write with JOURNAL_WRITE_FAILED and loses nothing written before', () => {
    const path = join(dir, 'j.db');
    const j = Journal.open(path, { maxSizeBytes: 256 * 1024 });
    let written = 0;
    let error: string | undefined;
    for (let i = 0; i < 10_000 && !error; i++) {
      error = errorCode(() =>
        j.createPayment(payment({ orderNo: `T12601010000${String(i).padStart(6, '0')}`, code: `134567890123${String(i).padStart(6, '0')}`, description: 'x'.repeat(100) })),
      );
      if (!error) written++;
    }
    expect(error).toBe('JOURNAL_WRITE_FAILED');
    expect(written).toBeGreaterThan(10);
    j.close();
    const again = Journal.open(path);
    expect(again.listPayments({ limit: 100_000 })).toHaveLength(written);
    again.close();
  });

  it('detects a damaged database at start with a clear message', () => {
    const path = join(dir, 'j.db');
    const j = Journal.open(path);
    for (let i = 0; i < 50; i++) j.createPayment(payment({ orderNo: `T126010100000${String(i).padStart(4, '0')}`, code: `1345678901234${String(i).padStart(5, '0')}` }));
    j.close();
    // Scribble over the middle of the file, past the header.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 4096);
    closeSync(fd);
    let error: unknown;
    try {
      Journal.open(path).close();
    } catch (e) {
      error = e;
    }
    expect(isScanpayError(error, 'JOURNAL_OPEN_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/damaged|not a database|malformed/);
  });

  it('refuses a journal written by a newer scanpay', () => {
    const path = join(dir, 'j.db');
    Journal.open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(errorCode(() => Journal.open(path))).toBe('JOURNAL_MIGRATION_FAILED');
    // The technician is told which schema the file has and what to do, not to delete it.
    expect(thrown(() => Journal.open(path))?.message).toBe(
      `the journal was written by a newer scanpay (schema ${MIGRATIONS.length + 1}, this one knows ${MIGRATIONS.length}): upgrade scanpay`,
    );
  });

  it('says what is wrong when the journal cannot be opened at all: which file, and the system\'s reason', () => {
    const path = join(dir, 'not-a-dir');
    writeFileSync(path, 'x');
    expect(errorCode(() => Journal.open(join(path, 'j.db')))).toBe('JOURNAL_OPEN_FAILED');
    const error = thrown(() => Journal.open(join(path, 'j.db')));
    const cause = error?.cause as NodeJS.ErrnoException | undefined;
    expect(cause?.code).toBe('EEXIST');
    expect(error?.message).toBe(`cannot open the journal at ${join(path, 'j.db')}: ${cause?.message}`);
  });

  it('creates the directories it lives in, owner-only (a first start on a fresh device)', () => {
    const path = join(dir, 'var', 'scanpay', 'j.db');
    Journal.open(path).close();
    expect(statSync(join(dir, 'var', 'scanpay')).mode & 0o777).toBe(0o700 & ~process.umask());
    expect(statSync(join(dir, 'var')).mode & 0o077).toBe(0);
    expect(statSync(path).isFile()).toBe(true);
  });
});
