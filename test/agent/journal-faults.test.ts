/**
 * The chaos hook that fails journal writes (agent/journal-faults.ts): inert without its
 * variable; with it, writes fail as a full or failing disk makes the real journal fail
 * them, reads still work, and the same seed fails the same writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { journalFaultsFromEnv } from '../../agent/journal-faults.ts';
import { Journal } from '../../agent/journal/journal.ts';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'scanpay-jfaults-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const enqueueAll = (j: Journal, n: number) =>
  Array.from({ length: n }, (_, i) => {
    try {
      j.enqueue({ kind: 'k', dedupeKey: `d${i}`, payload: {}, at: 0 });
      return 'ok';
    } catch (e) {
      return `${(e as { code: string }).code}:${(e as { cause: { code: string } }).cause.code}`;
    }
  });

describe('journal write faults', () => {
  it('does nothing without SCANPAY_JOURNAL_FAULTS', () => {
    const j = Journal.open(join(dir, 'a.db'));
    journalFaultsFromEnv(j, {});
    expect(enqueueAll(j, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    j.close();
  });

  it('at rate 1 every write fails as SQLITE_FULL or SQLITE_IOERR, nothing is written, reads work', () => {
    const j = Journal.open(join(dir, 'b.db'));
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      journalFaultsFromEnv(j, { SCANPAY_JOURNAL_FAULTS: '1@7' });
      const got = enqueueAll(j, 20);
      expect(new Set(got)).toEqual(new Set(['JOURNAL_WRITE_FAILED:SQLITE_FULL', 'JOURNAL_WRITE_FAILED:SQLITE_IOERR']));
    } finally {
      process.stderr.write = stderr;
    }
    expect(j.outbox()).toEqual([]);
    j.close();
  });

  it('the same seed fails the same writes', () => {
    const runs = ['c', 'd'].map((name) => {
      const j = Journal.open(join(dir, `${name}.db`));
      const stderr = process.stderr.write;
      process.stderr.write = () => true;
      try {
        journalFaultsFromEnv(j, { SCANPAY_JOURNAL_FAULTS: '0.3@42' });
        return enqueueAll(j, 40);
      } finally {
        process.stderr.write = stderr;
        j.close();
      }
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.filter((r) => r === 'ok').length).toBeGreaterThan(10);
    expect(runs[0]!.filter((r) => r !== 'ok').length).toBeGreaterThan(3);
  });
});
