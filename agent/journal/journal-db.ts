/**
 * The journal's one SQLite database and its one statement cache, shared by the payment,
 * refund, outbox and settlement stores. Writes are synchronous; each transaction is durable
 * (WAL, synchronous=FULL: on disk when the commit returns), grouped (synchronous=NORMAL, on
 * disk once `synced()` resolves: one fsync of the WAL file in libuv's thread pool covers
 * every write committed before it started, so lanes that write together share a sync and
 * the event loop never waits on the disk) or lazy (synchronous=NORMAL: atomic, and on disk
 * at the next durable commit, grouped sync or checkpoint, since the WAL is synced whole and
 * in order). Rule 1 needs a durable or a synced grouped write before every request; which
 * writes may be which, and why, is docs/performance.md's list (payment-store.ts marks them).
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, fstatSync, fsync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ScanpayError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

/** SQLite result codes that mean "this device cannot write right now". */
const WRITE_FAILURES = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PERM)/;

/**
 * `durable`: synced before the commit returns; `grouped`: synced once `synced()` resolves;
 * `lazy`: may be lost to a power cut until the next durable commit or grouped sync.
 */
export type Durability = 'durable' | 'grouped' | 'lazy';

/**
 * The flush a grouped sync makes: fsync of the WAL file's descriptor, run in libuv's thread
 * pool. Injectable so a fast test can count, order and fail the syncs of each write; that
 * the real one reaches the disk is the strace test's (journal-durability.process.test.ts).
 */
export type WalFsync = (fd: number) => Promise<void>;

const fsyncInThreadPool: WalFsync = (fd) => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

export interface JournalDbOptions {
  /** Caps the database (see `open`). */
  maxSizeBytes?: number;
  /** Tests only: stands in for the thread pool's fsync of the WAL. */
  fsyncWal?: WalFsync;
}

/** A SQLite failure as the journal's own error (the caller passes a ScanpayError through first). */
function asJournalError(e: unknown, what: string): never {
  const code = (e as { code?: string }).code ?? '';
  if (WRITE_FAILURES.test(code)) {
    throw new ScanpayError('JOURNAL_WRITE_FAILED', { message: `journal ${what} failed (${code}): nothing was sent`, cause: e, detail: { sqliteCode: code } });
  }
  throw e;
}

/**
 * better-sqlite3's compiled addon where npm puts it (build/Release, built or prebuilt), given
 * to `new Database` so that the package does not look for it through `bindings`, which
 * captures a stack trace and tries a dozen paths: ~9 ms of `scanpay run`'s start to ready in
 * a CPU profile (more under load). Anywhere else: undefined, and the package looks as before.
 */
function sqliteAddon(): string | undefined {
  const file = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  return existsSync(file) ? file : undefined;
}

export class JournalDb {
  /** WAL syncs running in the thread pool, in every journal of this process: a manual-clock test waits for them before it moves time. */
  static syncsUnderWay = 0;
  readonly #db: Database.Database;
  /** Prepared once per text: preparing on every call cost a compile per write and kept the heap churning. */
  readonly #statements = new Map<string, Database.Statement>();
  /** One transaction wrapper for every write: better-sqlite3 builds five functions each time `transaction()` is called. */
  #transaction: Database.Transaction<(fn: () => unknown) => unknown> | undefined;
  #writeFault: ScanpayError | undefined;
  /** The synchronous setting the connection has now (set per transaction, only when it changes). */
  #sync: 'FULL' | 'NORMAL' = 'FULL';
  /** The WAL file a grouped sync flushes; none for an in-memory journal. */
  readonly #walPath: string | undefined;
  /** Grouped commits made, and how many of them a completed fsync covers. */
  #grouped = 0;
  /** A grouped write nested in the transaction now open: a lazy outer commit then counts as grouped. */
  #groupedInside = false;
  /** A transaction `joinNextCommit` left open: the next write joins and commits it, or the end of this turn of the event loop does. */
  #held = false;
  /** Transaction bodies running now (`#inTransaction`). */
  #depth = 0;
  /** `synced()` asked inside a transaction: settled when the outermost one commits (then synced) or fails. */
  #afterCommit: { resolve: (p: Promise<void>) => void; reject: (e: unknown) => void }[] = [];
  #groupedSynced = 0;
  #syncing: Promise<void> | undefined;
  /** The WAL file descriptor the grouped syncs use, and the inode it was opened on. */
  #wal: { fd: number; ino: number } | undefined;
  /**
   * A failed fsync of the WAL, kept until a restart: Linux may drop the pages it could not
   * write and report success on the next fsync, and a lost frame ends the WAL for recovery,
   * so no later grouped write can be called synced.
   */
  #syncFault: ScanpayError | undefined;

  readonly #fsyncWal: WalFsync;

  private constructor(db: Database.Database, walPath: string | undefined, fsyncWal: WalFsync) {
    this.#db = db;
    this.#walPath = walPath;
    this.#fsyncWal = fsyncWal;
  }

  /**
   * Opens (creating if needed) the database at `path` and brings its schema up to date.
   * `maxSizeBytes` caps it so that on a small device it fails cleanly (JOURNAL_WRITE_FAILED,
   * nothing sent) before it can fill the whole disk.
   */
  static open(path: string, options: JournalDbOptions = {}): JournalDb {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      db = new Database(path, { nativeBinding: sqliteAddon() });
      // Owner-only whatever the umask: the journal holds payment codes until payments end.
      if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
      // An erased payment code is zeroed in its page, not left in free space (docs/security.md).
      db.pragma('secure_delete = ON');
      db.pragma('journal_mode = WAL');
      // FULL: a committed row survives a power cut, which is the point of writing it first.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      if (options.maxSizeBytes !== undefined) {
        const pageSize = db.pragma('page_size', { simple: true }) as number;
        db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxSizeBytes / pageSize))}`);
      }
    } catch (e) {
      throw new ScanpayError('JOURNAL_OPEN_FAILED', { message: `cannot open the journal at ${path}: ${(e as Error).message}`, cause: e });
    }
    try {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
    } catch (e) {
      db.close();
      throw new ScanpayError('JOURNAL_OPEN_FAILED', {
        message: `the journal at ${path} is damaged (${(e as Error).message}); keep the file for support and do not delete it`,
        cause: e,
      });
    }
    // After a power cut the WAL still holds page images with erased codes: fold it in and
    // empty it. Best effort: with the agent busy (a CLI opening it) the agent's scrub does it.
    if (path !== ':memory:') {
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // busy: not this time
      }
    }
    JournalDb.#migrate(db);
    return new JournalDb(db, path === ':memory:' ? undefined : `${path}-wal`, options.fsyncWal ?? fsyncInThreadPool);
  }

  static #migrate(db: Database.Database): void {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new ScanpayError('JOURNAL_MIGRATION_FAILED', {
        message: `the journal was written by a newer scanpay (schema ${current}, this one knows ${MIGRATIONS.length}): upgrade scanpay`,
      });
    }
    try {
      db.transaction(() => {
        for (let v = current; v < MIGRATIONS.length; v++) {
          db.exec(MIGRATIONS[v]!);
          db.pragma(`user_version = ${v + 1}`);
        }
      })();
    } catch (e) {
      throw new ScanpayError('JOURNAL_MIGRATION_FAILED', { message: `journal migration failed: ${(e as Error).message}`, cause: e });
    }
  }

  close(): void {
    if (this.#db.open) {
      this.#commitHeld();
      this.#db.close();
    }
    const wal = this.#wal;
    this.#wal = undefined;
    if (wal) void (this.#syncing ?? Promise.resolve()).catch(() => {}).finally(() => closeSync(wal.fd));
  }

  /**
   * The descriptor of the file now at the WAL's path: kept between syncs, and opened again
   * when the path names another inode (SQLite deletes the WAL only when its last connection
   * closes, but a sync of a file SQLite no longer writes must never count). A stat on the
   * event loop is microseconds; the fsync is the thread pool's.
   */
  #walFd(path: string): number {
    const ino = statSync(path).ino;
    if (this.#wal?.ino !== ino) {
      if (this.#wal) closeSync(this.#wal.fd);
      const fd = openSync(path, 'r');
      this.#wal = { fd, ino: fstatSync(fd).ino };
    }
    return this.#wal.fd;
  }

  /** The statement for this text, prepared on its first use and kept. */
  stmt(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) this.#statements.set(sql, (st = this.#db.prepare(sql)));
    return st;
  }

  /**
   * Runs `fn` as one transaction, durable unless asked otherwise; a device that cannot write
   * says JOURNAL_WRITE_FAILED. Inside another transaction the outer one's synchronous setting
   * holds (SQLite cannot change it inside one), but a grouped write nested in it makes the
   * outer commit grouped: `synced()` then covers it. So a new payment and its first pay's
   * write can be one commit (the engine's `pay`), synced before the pay leaves. A transaction
   * `joinNextCommit` holds open is committed with this one.
   */
  write<T>(fn: () => T, durability: Durability = 'durable'): T {
    // FULL cannot be set inside a transaction: the held one commits first, and this commit's sync covers it.
    let joinsHeld = this.#held && this.#depth === 0;
    if (joinsHeld && durability === 'durable') {
      this.#commitHeld();
      joinsHeld = false;
    }
    const outermost = joinsHeld || !this.#db.inTransaction;
    let result: T;
    try {
      const sync = durability === 'durable' ? 'FULL' : 'NORMAL';
      if (outermost && !joinsHeld && sync !== this.#sync) {
        // Not a prepared statement kept for reuse: SQLite applies this pragma when it compiles it.
        this.#db.pragma(`synchronous = ${sync}`);
        this.#sync = sync;
      }
      // Inside the held transaction: a savepoint, so a failure undoes this write alone.
      result = this.#inTransaction(fn);
      if (joinsHeld) {
        this.#held = false;
        this.stmt('COMMIT').run();
      }
    } catch (e) {
      const failed = this.#failure(e);
      // First: a sync asked inside `fn` must be refused, whatever becomes of the held writes.
      if (outermost) this.#committed(failed);
      // What the held transaction wrote before `fn` stays (its savepoint alone is undone); a failed commit undoes all.
      if (joinsHeld && this.#held) this.#commitHeld();
      else if (joinsHeld) this.#rollBack();
      throw failed;
    }
    if (!outermost) {
      if (durability === 'grouped') this.#groupedInside = true;
      return result;
    }
    // A durable (FULL) commit is synced already, nested grouped writes with it.
    if (durability === 'grouped' || (durability === 'lazy' && this.#groupedInside)) this.#grouped += 1;
    this.#writeFault = this.#syncFault;
    this.#committed(undefined);
    return result;
  }

  /**
   * Runs `fn` as a lazy write whose commit waits for the next write, whichever it is, or for
   * the end of this turn of the event loop: one commit, not two, when another write follows
   * at once (a pay's answer, then the state it leads to). Reads on this connection see it at
   * once; a kill before the commit loses it, as a power cut loses any lazy write, so only for
   * writes docs/performance.md lists as lazy. Other connections wait for the commit to write
   * or checkpoint: it comes within this turn. Inside another transaction it joins that one.
   */
  joinNextCommit(fn: () => void): void {
    if (this.#depth > 0 || (this.#db.inTransaction && !this.#held)) {
      this.write(fn, 'lazy');
      return;
    }
    try {
      if (!this.#held) {
        if (this.#sync !== 'NORMAL') {
          this.#db.pragma('synchronous = NORMAL');
          this.#sync = 'NORMAL';
        }
        this.stmt('BEGIN').run();
        this.#held = true;
        setImmediate(() => this.#commitHeld());
      }
      this.#inTransaction(fn);
    } catch (e) {
      throw this.#failure(e);
    }
  }

  /** Runs `fn` in a transaction (a savepoint inside one), counted: a write nested in it joins it, never the held one's commit. */
  #inTransaction<T>(fn: () => T): T {
    this.#depth += 1;
    try {
      return (this.#transaction ??= this.#db.transaction((f: () => unknown) => f()))(fn) as T;
    } finally {
      this.#depth -= 1;
    }
  }

  /**
   * Commits the transaction `joinNextCommit` holds, if any. Never throws (it runs from a
   * timer too, where a throw would end the agent): a failure rolls it back, lost like a lazy
   * write to a power cut, and is kept as the write fault.
   */
  #commitHeld(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      this.stmt('COMMIT').run();
    } catch (e) {
      this.#rollBack();
      this.#committed(this.#failure(e));
      return;
    }
    if (this.#groupedInside) this.#grouped += 1;
    this.#committed(undefined);
  }

  /** After a failed COMMIT SQLite may keep the transaction open: it must not swallow the writes that follow. */
  #rollBack(): void {
    try {
      if (this.#db.inTransaction) this.stmt('ROLLBACK').run();
    } catch {
      // the connection rolled it back itself
    }
  }

  /** A write's failure as thrown to its caller: a SQLite failure of the device becomes JOURNAL_WRITE_FAILED, kept as the write fault. */
  #failure(e: unknown): unknown {
    if (e instanceof ScanpayError) return e;
    try {
      return asJournalError(e, 'write');
    } catch (mapped) {
      if (mapped instanceof ScanpayError) this.#writeFault = mapped;
      return mapped;
    }
  }

  /** The outermost transaction ended: committed (`error` undefined) or rolled back. Settles the `synced()` asked inside it. */
  #committed(error: unknown): void {
    this.#groupedInside = false;
    const waiting = this.#afterCommit;
    if (waiting.length === 0) return;
    this.#afterCommit = [];
    for (const w of waiting) {
      if (error === undefined) w.resolve(this.synced());
      else w.reject(error);
    }
  }

  /**
   * Resolves once every grouped write committed so far is on disk: one fsync of the WAL file
   * off the event loop, shared by every write committed before it started (a write committed
   * while one runs waits for the next). Rejects with JOURNAL_WRITE_FAILED when the disk
   * refuses the sync; what waited for it must not be sent.
   */
  synced(): Promise<void> {
    if (this.#syncFault) return Promise.reject(this.#syncFault);
    // Asked inside a transaction (a pay started within the write that created it): its
    // commit is still to come, so the sync must wait for it, and a rollback must refuse.
    if (this.#db.inTransaction) return new Promise((resolve, reject) => this.#afterCommit.push({ resolve, reject }));
    return this.#groupedSynced >= this.#grouped ? Promise.resolve() : this.#syncUpTo(this.#grouped);
  }

  /**
   * Resolves once every write committed so far is on disk, the lazy ones too: counted as a
   * grouped write, so the next grouped sync (one fsync of the WAL, which is synced whole and
   * in order) covers them. For what must never name a row the journal could still lose.
   */
  syncedAll(): Promise<void> {
    this.#commitHeld();
    if (this.#walPath !== undefined) this.#grouped += 1;
    return this.synced();
  }

  /** Whether a grouped write awaits its sync. */
  get unsynced(): boolean {
    return this.#groupedSynced < this.#grouped;
  }

  async #syncUpTo(target: number): Promise<void> {
    while (this.#groupedSynced < target) {
      this.#syncing ??= this.#syncWal().finally(() => (this.#syncing = undefined));
      await this.#syncing;
    }
  }

  /** Only `synced()` starts one, and only with no fault latched: a failed sync rejects every waiter on it. */
  async #syncWal(): Promise<void> {
    // Counted before the fsync starts: a write committed after this point may miss it.
    const covers = this.#grouped;
    try {
      if (this.#walPath !== undefined) {
        const fd = this.#walFd(this.#walPath);
        JournalDb.syncsUnderWay += 1;
        try {
          await this.#fsyncWal(fd);
        } finally {
          JournalDb.syncsUnderWay -= 1;
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'EIO';
      this.#syncFault = new ScanpayError('JOURNAL_WRITE_FAILED', { message: `journal sync failed (${code}): nothing was sent; restart the agent`, cause: e, detail: { syscall: 'fsync', code } });
      this.#writeFault = this.#syncFault;
      throw this.#syncFault;
    }
    this.#groupedSynced = Math.max(this.#groupedSynced, covers);
  }

  /**
   * The last write's failure (disk full, the size cap, an I/O error) until a write succeeds
   * again: nothing is lost, but nothing moves, and the POS and `doctor` must say so.
   */
  get writeFault(): ScanpayError | undefined {
    return this.#writeFault;
  }

  /** Appends to a payment's history (inside the caller's transaction). */
  event(orderNo: string, at: number, state: string, cause: string, detail?: unknown): void {
    this.stmt('INSERT INTO payment_events (order_no, at, state, cause, detail) VALUES (?, ?, ?, ?, ?)')
      .run(orderNo, at, state, cause, detail === undefined ? null : JSON.stringify(detail));
  }
}
