/**
 * The grouped syncs of the journal (journal-db.ts), counted and ordered through its one
 * side effect, the WAL fsync (injected here; the strace test journal-durability.process
 * shows the real one reaches the disk). Rule 1: the write before a pay, a query or a
 * reverse is synced before the request leaves; "paid" is shown only after its sync; a
 * failed fsync stops every later request until a restart (JOURNAL_WRITE_FAILED).
 */
import Database from 'better-sqlite3';
import { fstatSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Acquirer, CallResult } from '../../agent/backend/acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { JournalDb } from '../../agent/journal/journal-db.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-journal-sync-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for the thread pool's fsync: each call waits until the test settles it. */
function fsyncs() {
  const calls: { fd: number; settle: (e?: Error) => void }[] = [];
  let auto = false;
  const fsyncWal = (fd: number) =>
    new Promise<void>((resolve, reject) => {
      const settle = (e?: Error) => (e ? reject(e) : resolve());
      calls.push({ fd, settle });
      if (auto) settle();
    });
  return {
    fsyncWal,
    calls,
    /** Settles every sync from now on at once. */
    autoSettle: () => (auto = true),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** This process's open descriptors on `path` (Linux: /proc/self/fd), deleted files included. */
function descriptorsOf(path: string): number[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === path ? [Number(fd)] : [];
    } catch {
      return []; // the descriptor readdir itself used, closed since
    }
  });
}

/** A lazy write that writes `x` grouped, asks for the sync inside, then fails: what that sync said (a value or the error). */
async function syncInsideFailedWrite(db: JournalDb, x: number): Promise<unknown> {
  let refused: Promise<unknown> | undefined;
  expect(() =>
    db.write(() => {
      db.write(() => db.stmt(`INSERT INTO t VALUES (${x})`).run(), 'grouped');
      refused = db.synced().then(
        () => 'synced',
        (e: unknown) => e,
      );
      throw new ScanpayError('PAY_CODE_DUPLICATE');
    }, 'lazy'),
  ).toThrow(ScanpayError);
  return refused;
}

describe('journal syncs, counted', () => {
  it('a durable or lazy write needs no sync; a grouped one waits for one fsync of the -wal file', async () => {
    const f = fsyncs();
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path, { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      db.write(() => db.stmt('INSERT INTO t VALUES (1)').run(), 'lazy');
      await db.synced();
      expect(f.calls).toHaveLength(0);
      expect(db.unsynced).toBe(false);

      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
      expect(db.unsynced).toBe(true);
      let done = false;
      const synced = db.synced().then(() => (done = true));
      await tick();
      expect(f.calls).toHaveLength(1);
      // The descriptor synced is the -wal file's, not the database's.
      expect(fstatSync(f.calls[0]!.fd).ino).toBe(statSync(`${path}-wal`).ino);
      expect(JournalDb.syncsUnderWay).toBe(1);
      expect(done).toBe(false);
      f.calls[0]!.settle();
      await synced;
      expect(JournalDb.syncsUnderWay).toBe(0);
      expect(db.unsynced).toBe(false);
      // Nothing new: no second fsync.
      await db.synced();
      expect(f.calls).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  it('sets synchronous=FULL for a durable commit and NORMAL for a grouped or lazy one; a nested write keeps the outer one\'s', () => {
    const db = JournalDb.open(join(dir, 'journal.db'), { fsyncWal: fsyncs().fsyncWal });
    const setting = () => db.stmt('PRAGMA synchronous').pluck().get();
    const FULL = 2;
    const NORMAL = 1;
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      expect(setting()).toBe(FULL);
      // A grouped write nested in a durable one is synced by that commit: nothing to wait for.
      db.write(() => db.write(() => undefined, 'grouped'));
      expect(db.unsynced).toBe(false);
      db.write(() => expect(setting()).toBe(NORMAL), 'grouped');
      db.write(() => expect(setting()).toBe(FULL));
      db.write(() => expect(setting()).toBe(NORMAL), 'lazy');
      db.write(() => db.write(() => expect(setting()).toBe(NORMAL)), 'lazy');
      db.write(() => db.write(() => expect(setting()).toBe(FULL), 'lazy'));
    } finally {
      db.close();
    }
  });

  it('a grouped write nested in a lazy one makes that commit grouped; synced() asked inside waits for the commit, and a rollback refuses it', async () => {
    const f = fsyncs();
    const db = JournalDb.open(join(dir, 'journal.db'), { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      // The engine's pay: the new payment (lazy) and its first pay's write (grouped) in one commit.
      let inside: Promise<void> | undefined;
      db.write(() => {
        db.stmt('INSERT INTO t VALUES (1)').run();
        db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
        inside = db.synced();
        // No fsync may start before the commit it must cover.
        expect(f.calls).toHaveLength(0);
      }, 'lazy');
      expect(db.unsynced).toBe(true);
      let done = false;
      void inside!.then(() => (done = true));
      await tick();
      expect(f.calls).toHaveLength(1);
      expect(done).toBe(false);
      f.calls[0]!.settle();
      await inside;
      expect(db.unsynced).toBe(false);

      // Rolled back after the sync was asked: what waited must not go.
      expect(await syncInsideFailedWrite(db, 3)).toMatchObject({ code: 'PAY_CODE_DUPLICATE' });
      expect(db.stmt('SELECT count(*) FROM t').pluck().get()).toBe(2);
      expect(db.unsynced).toBe(false);
      expect(f.calls).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  it('joinNextCommit: read at once, committed with the next write (or before a durable one), else by the end of the turn', async () => {
    const f = fsyncs();
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path, { fsyncWal: f.fsyncWal });
    const other = new Database(path, { readonly: true });
    const seen = () => other.prepare('SELECT x FROM t ORDER BY x').pluck().all();
    const mine = () => db.stmt('SELECT x FROM t ORDER BY x').pluck().all();
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      // A pay's answer, then the grouped "paid": one commit, synced once.
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (1)').run());
      expect(mine()).toEqual([1]);
      expect(seen()).toEqual([]);
      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
      expect(seen()).toEqual([1, 2]);
      expect(db.unsynced).toBe(true);
      const synced = db.synced();
      await tick();
      f.calls[0]!.settle();
      await synced;

      // No write follows: committed on its own by the end of the turn, lazy (no sync).
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (3)').run());
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (4)').run());
      expect(seen()).toEqual([1, 2]);
      await tick();
      expect(seen()).toEqual([1, 2, 3, 4]);
      expect(db.unsynced).toBe(false);

      // A durable write cannot share it (FULL is set outside a transaction): it commits first, then the durable one.
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (5)').run());
      db.write(() => {
        expect(db.stmt('PRAGMA synchronous').pluck().get()).toBe(2);
        db.stmt('INSERT INTO t VALUES (6)').run();
      });
      expect(seen()).toEqual([1, 2, 3, 4, 5, 6]);

      // A write that fails undoes itself alone, refuses the sync asked inside it, and the held write is kept.
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (7)').run());
      expect(await syncInsideFailedWrite(db, 8)).toMatchObject({ code: 'PAY_CODE_DUPLICATE' });
      expect(seen()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(db.unsynced).toBe(false);

      // A failure inside it undoes that write alone; closing commits what is held.
      db.joinNextCommit(() => db.stmt('INSERT INTO t VALUES (9)').run());
      expect(() => db.joinNextCommit(() => db.stmt('INSERT INTO nowhere VALUES (1)').run())).toThrow();
      db.close();
      expect(seen()).toEqual([1, 2, 3, 4, 5, 6, 7, 9]);
      expect(f.calls).toHaveLength(1);
    } finally {
      other.close();
      db.close();
    }
  });

  it('one fsync covers every grouped write committed before it started; one committed during it waits for the next', async () => {
    const f = fsyncs();
    const db = JournalDb.open(join(dir, 'journal.db'), { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      db.write(() => db.stmt('INSERT INTO t VALUES (1)').run(), 'grouped');
      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
      const order: string[] = [];
      const first = db.synced().then(() => order.push('first'));
      const shared = db.synced().then(() => order.push('shared'));
      await tick();
      expect(f.calls).toHaveLength(1);
      db.write(() => db.stmt('INSERT INTO t VALUES (3)').run(), 'grouped');
      const later = db.synced().then(() => order.push('later'));
      f.calls[0]!.settle();
      await Promise.all([first, shared]);
      await tick();
      expect(order).toEqual(['first', 'shared']);
      expect(db.unsynced).toBe(true);
      expect(f.calls).toHaveLength(2);
      f.calls[1]!.settle();
      await later;
      expect(order).toEqual(['first', 'shared', 'later']);
      expect(db.unsynced).toBe(false);
    } finally {
      db.close();
    }
  });

  it('a failed fsync latches JOURNAL_WRITE_FAILED until a restart: no later grouped write is called synced, no fsync is tried again', async () => {
    const f = fsyncs();
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path, { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      db.write(() => db.stmt('INSERT INTO t VALUES (1)').run(), 'grouped');
      const synced = db.synced();
      await tick();
      f.calls[0]!.settle(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
      await expect(synced).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED', detail: { syscall: 'fsync', code: 'EIO' } });
      expect(JournalDb.syncsUnderWay).toBe(0);
      expect(db.writeFault).toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      // A durable write still commits, but the fault stays: the WAL may have lost a frame,
      // so nothing after it is called synced, grouped or not.
      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run());
      expect(db.writeFault).toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      await expect(db.synced()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      db.write(() => db.stmt('INSERT INTO t VALUES (3)').run(), 'grouped');
      await expect(db.synced()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      expect(f.calls).toHaveLength(1);
      // An error without a code is named EIO.
      const g = fsyncs();
      const other = JournalDb.open(join(dir, 'other.db'), { fsyncWal: g.fsyncWal });
      try {
        other.write(() => other.stmt('CREATE TABLE t (x)').run(), 'grouped');
        const s = other.synced();
        await tick();
        g.calls[0]!.settle(new Error('gone'));
        await expect(s).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED', detail: { code: 'EIO' } });
      } finally {
        other.close();
      }
    } finally {
      db.close();
    }
  });

  it('syncs the file now at the -wal path: a new inode gets a new descriptor', async () => {
    const f = fsyncs();
    f.autoSettle();
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path, { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
      await db.synced();
      db.write(() => db.stmt('INSERT INTO t VALUES (1)').run(), 'grouped');
      await db.synced();
      expect(f.calls[1]!.fd).toBe(f.calls[0]!.fd);
      // Another file put at the WAL's path (the test's stand-in for a WAL SQLite re-created).
      // SQLite's descriptor and the sync's own.
      expect(descriptorsOf(`${path}-wal`)).toHaveLength(2);
      renameSync(`${path}-wal`, `${path}-old`);
      writeFileSync(`${path}-wal`, '');
      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
      await db.synced();
      expect(fstatSync(f.calls[2]!.fd).ino).toBe(statSync(`${path}-wal`).ino);
      expect(statSync(`${path}-wal`).ino).not.toBe(statSync(`${path}-old`).ino);
      // The old file's descriptor is closed, not leaked: only SQLite's own is left on it.
      expect(descriptorsOf(`${path}-old`)).toHaveLength(1);
      expect(descriptorsOf(`${path}-wal`)).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  it('closing the journal closes the WAL descriptor the syncs kept, once the sync under way ends', async () => {
    const f = fsyncs();
    const path = join(dir, 'journal.db');
    const db = JournalDb.open(path, { fsyncWal: f.fsyncWal });
    db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
    const synced = db.synced();
    await tick();
    expect(f.calls).toHaveLength(1);
    db.close();
    await tick();
    // The fsync still runs on it: closing the descriptor under it would sync nothing (or another file).
    expect(descriptorsOf(`${path}-wal`)).toEqual([f.calls[0]!.fd]);
    f.calls[0]!.settle();
    await synced;
    await tick();
    expect(descriptorsOf(`${path}-wal`)).toEqual([]);
  });

  it('a failed sync tells the technician what to do', async () => {
    const f = fsyncs();
    const db = JournalDb.open(join(dir, 'journal.db'), { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
      const synced = db.synced();
      await tick();
      f.calls[0]!.settle(Object.assign(new Error('ENOSPC: no space left on device, fsync'), { code: 'ENOSPC' }));
      await expect(synced).rejects.toThrow('journal sync failed (ENOSPC): nothing was sent; restart the agent');
    } finally {
      db.close();
    }
  });

  it('keeps each statement prepared once, and compiles the synchronous switch only when the durability changes', () => {
    const db = JournalDb.open(join(dir, 'journal.db'), { fsyncWal: fsyncs().fsyncWal });
    const pragma = vi.spyOn(Database.prototype, 'pragma');
    try {
      expect(db.stmt('SELECT 1')).toBe(db.stmt('SELECT 1'));
      const switches = () => pragma.mock.calls.map((c) => c[0]);
      // The connection opens FULL: durable writes switch nothing.
      db.write(() => db.stmt('CREATE TABLE t (x)').run());
      db.write(() => db.stmt('INSERT INTO t VALUES (1)').run());
      expect(switches()).toEqual([]);
      db.write(() => db.stmt('INSERT INTO t VALUES (2)').run(), 'grouped');
      db.write(() => db.stmt('INSERT INTO t VALUES (3)').run(), 'lazy');
      db.write(() => db.stmt('INSERT INTO t VALUES (4)').run(), 'grouped');
      expect(switches()).toEqual(['synchronous = NORMAL']);
      db.write(() => db.write(() => db.stmt('INSERT INTO t VALUES (5)').run(), 'lazy'));
      db.write(() => db.stmt('INSERT INTO t VALUES (6)').run());
      expect(switches()).toEqual(['synchronous = NORMAL', 'synchronous = FULL']);
    } finally {
      pragma.mockRestore();
      db.close();
    }
  });

  it('an in-memory journal has no WAL to sync', async () => {
    const f = fsyncs();
    const db = JournalDb.open(':memory:', { fsyncWal: f.fsyncWal });
    try {
      db.write(() => db.stmt('CREATE TABLE t (x)').run(), 'grouped');
      await db.synced();
      expect(f.calls).toHaveLength(0);
      expect(db.unsynced).toBe(false);
    } finally {
      db.close();
    }
  });
});

describe('the engine and the syncs, in order', () => {
  it('each pay and query leaves only after the sync of the write before it; "paid" is shown only after its sync', async () => {
    const log: string[] = [];
    const f = fsyncs();
    const journal = Journal.open(join(dir, 'journal.db'), {
      fsyncWal: (fd) => {
        log.push('fsync');
        return f.fsyncWal(fd).then(() => void log.push('synced'));
      },
    });
    f.autoSettle();
    const clock = new ManualClock(1_700_000_000_000);
    const unknown = (): CallResult<never> => ({ kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN'), latencyMs: 1 });
    const acquirer: Acquirer = {
      pay: async () => (log.push('pay'), unknown()),
      query: async (req) => (log.push('query'), { kind: 'answer', latencyMs: 1, body: { result: 'SUCCESS', orderNo: req.orderNo, trade: { orderNo: req.orderNo, state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat', refundedAmount: 0 } } }),
      reverse: async () => (log.push('reverse'), unknown()),
      refund: async () => unknown(),
    };
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5 });
    engine.onChange((v) => v.outcome === 'paid' && log.push('paid shown'));
    engine.start();
    try {
      const p = engine.pay({ amount: 100, paymentCode: '134567890123456789' });
      for (let i = 0; i < 20 && engine.get(p.orderNo).outcome === null; i++) {
        await engine.idle();
        clock.advanceToNext();
      }
      await engine.idle();
      expect(engine.get(p.orderNo).outcome).toBe('paid');
      // Every request and the "paid" shown comes right after a completed sync.
      const sent = log.flatMap((e, i) => (e === 'fsync' || e === 'synced' ? [] : [[e, log[i - 1]]]));
      expect(sent.length).toBeGreaterThanOrEqual(3);
      for (const [what, before] of sent) expect([what, before]).toEqual([what, 'synced']);
      expect(log.filter((e) => e === 'pay')).toHaveLength(1);
      expect(log.at(-1)).toBe('paid shown');
    } finally {
      await engine.stop();
      journal.close();
    }
  });

  it('while the sync is held, the pay does not leave; a failed sync stops it with JOURNAL_WRITE_FAILED', async () => {
    const f = fsyncs();
    const journal = Journal.open(join(dir, 'journal.db'), { fsyncWal: f.fsyncWal });
    const sent: string[] = [];
    const never = (op: string) => async (): Promise<CallResult<never>> => (sent.push(op), { kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN'), latencyMs: 1 });
    const acquirer: Acquirer = { pay: never('pay'), query: never('query'), reverse: never('reverse'), refund: never('refund') };
    const engine = new PaymentEngine({ journal, acquirer, clock: new ManualClock(1_700_000_000_000), terminalId: 'T1', random: () => 0.5 });
    engine.start();
    try {
      const p = engine.pay({ amount: 100, paymentCode: '134567890123456789' });
      for (let i = 0; i < 50 && f.calls.length === 0; i++) await tick();
      expect(f.calls).toHaveLength(1);
      for (let i = 0; i < 10; i++) await tick();
      expect(sent).toEqual([]);
      f.calls[0]!.settle(Object.assign(new Error('EIO'), { code: 'EIO' }));
      await engine.idle();
      expect(sent).toEqual([]);
      expect(journal.writeFault?.code).toBe('JOURNAL_WRITE_FAILED');
      expect(engine.get(p.orderNo).outcome).not.toBe('paid');
    } finally {
      await engine.stop();
      journal.close();
    }
  });
});
