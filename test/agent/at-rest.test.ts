/**
 * Issue 17, at rest: the journal is owner-only whatever the umask, and a payment code
 * erased when its payment ends is gone from the disk files (database and WAL), while the
 * agent runs and after a power cut.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type NewPayment } from '../../agent/journal/journal.ts';
import { scrubWal } from '../../agent/wal-scrub.ts';
import { newPayment } from '../support/new-payment.ts';

const CODE = '134567890123456789';
const payment = (orderNo: string, code: string): NewPayment => newPayment({ orderNo, code });

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-at-rest-'));
  path = join(dir, 'journal.db');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every disk file of the journal that holds the code's bytes. */
const holding = (code: string) => ['', '-wal', '-shm'].map((s) => `${path}${s}`).filter((f) => existsSync(f) && readFileSync(f).includes(Buffer.from(code)));

describe('journal at rest', () => {
  it('is created owner-only (0600), WAL and shared memory too, with the usual umask 022', () => {
    let old: number | undefined;
    try {
      old = process.umask(0o022);
    } catch {
      // A worker thread (Stryker's test runner) cannot set the umask: the process's own must then let others read, or the test would prove nothing.
      expect(process.umask() & 0o044).toBe(0);
    }
    try {
      const j = Journal.open(path);
      j.createPayment(payment('T1260101000000abcd', CODE));
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      j.close();
    } finally {
      if (old !== undefined) process.umask(old);
    }
  });

  it('a final payment\'s code leaves the database and the WAL once the WAL is scrubbed', () => {
    const j = Journal.open(path);
    for (let i = 0; i < 20; i++) j.createPayment(payment(`T1260101000000a${String(i).padStart(3, '0')}`, `1345678901234${String(50000 + i)}`));
    j.createPayment(payment('T1260101000000abcd', CODE));
    expect(holding(CODE)).not.toEqual([]);
    j.finish('T1260101000000abcd', 'paid', 2, 'test');
    expect(j.getPayment('T1260101000000abcd')!.code).toBeNull();
    scrubWal(path);
    expect(holding(CODE)).toEqual([]);
    // The unfinished ones are still there: they may need resending.
    expect(holding('134567890123450005')).not.toEqual([]);
    j.close();
  });

  it('after a power cut (the agent never closed the journal) the next start leaves no erased code on disk', () => {
    const crashed = Journal.open(path);
    crashed.createPayment(payment('T1260101000000abcd', CODE));
    crashed.finish('T1260101000000abcd', 'paid', 2, 'test');
    // No close: the WAL keeps the page images written before the code was erased.
    const restarted = Journal.open(path);
    expect(holding(CODE)).toEqual([]);
    restarted.close();
    crashed.close();
  });
});
