/**
 * The journal's own WAL flush (journal-db.ts's default `WalFsync`): fs.fsync of the -wal
 * file's descriptor, in libuv's thread pool. journal-sync.test.ts injects a stand-in to
 * count and order the syncs; this file checks the default is the real call, and that its
 * failure reaches the waiter. (That fsync reaches the disk is the strace test's,
 * journal-durability.process.test.ts.)
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JournalDb } from '../../agent/journal/journal-db.ts';

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, fsync: vi.fn(real.fsync) };
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'scanpay-wal-fsync-'));
  vi.mocked(fs.fsync).mockClear();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the default WAL flush', () => {
  it('is fsync of the -wal file, made before synced() resolves', async () => {
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path);
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
      await db.synced();
      const calls = vi.mocked(fs.fsync).mock.calls;
      expect(calls).toHaveLength(1);
      expect(fs.fstatSync(calls[0]![0]).ino).toBe(fs.statSync(`${path}-wal`).ino);
      expect(db.unsynced).toBe(false);
    } finally {
      db.close();
    }
  });

  it('a refused fsync rejects the waiter with JOURNAL_WRITE_FAILED', async () => {
    const db = JournalDb.open(join(dir, 'journal.db'));
    try {
      vi.mocked(fs.fsync).mockImplementationOnce(((_fd: number, done: (e: NodeJS.ErrnoException | null) => void) =>
        done(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))) as typeof fs.fsync);
      db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
      await expect(db.synced()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED', detail: { syscall: 'fsync', code: 'EIO' } });
    } finally {
      db.close();
    }
  });
});
