/**
 * Where the simulated backend keeps what a real acquirer never forgets: orders, payment
 * codes, refunds, the ledger and its terminals. `memoryStore()` keeps them in plain maps
 * (gone with the process: tests and benchmarks); `sqliteStore(path)` keeps them in a
 * SQLite file, so a restarted backend still knows the order it answered USER_PAYING.
 *
 * The wallet model mutates its records in place. A stored map hands out tracked copies:
 * any change to one, however deep, marks its key, and every marked key is written in one
 * transaction at the end of the current synchronous step (a microtask) or at `flush()`,
 * which the backend calls before an answer leaves. A crash loses at most the step whose
 * answer was never sent: to the terminal that is a lost answer, which it already survives.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScanpayError } from '../../agent/errors.ts';
import type { LedgerEntry } from './ledger.ts';

/** The ledger's rows, append-only except for a QA reset. */
export interface LedgerRows {
  load(): LedgerEntry[];
  append(e: LedgerEntry): void;
  clear(): void;
}

export interface BackendStore {
  /** A map of JSON-shaped records that outlives the process (for the SQLite store). */
  map<V>(name: string): Map<string, V>;
  ledgerRows(): LedgerRows;
  /** Writes every pending change now. */
  flush(): void;
  close(): void;
  /** The file, or undefined in memory. */
  readonly path: string | undefined;
}

export function memoryStore(): BackendStore {
  const rows: LedgerEntry[] = [];
  return {
    path: undefined,
    map: <V>() => new Map<string, V>(),
    ledgerRows: () => ({
      load: () => [...rows],
      append: (e) => void rows.push(e),
      clear: () => void rows.splice(0),
    }),
    flush: () => undefined,
    close: () => undefined,
  };
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS records (ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (ns, k));
  CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
`;

export function sqliteStore(path: string): BackendStore {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
  } catch (e) {
    throw new ScanpayError('CONFIG_INVALID', { message: `simulated backend store ${path}: ${(e as Error).message}`, cause: e });
  }
  const put = db.prepare('INSERT INTO records (ns, k, v) VALUES (?, ?, ?) ON CONFLICT (ns, k) DO UPDATE SET v = excluded.v');
  const del = db.prepare('DELETE FROM records WHERE ns = ? AND k = ?');
  const pending = new Map<string, Map<string, () => unknown>>();
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (pending.size === 0 || !db.open) return;
    db.transaction(() => {
      for (const [ns, keys] of pending) {
        for (const [k, read] of keys) {
          const v = read();
          if (v === undefined) del.run(ns, k);
          else put.run(ns, k, JSON.stringify(v));
        }
      }
    })();
    pending.clear();
  };
  const mark = (ns: string, k: string, read: () => unknown): void => {
    let keys = pending.get(ns);
    if (!keys) pending.set(ns, (keys = new Map()));
    keys.set(k, read);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };

  return {
    path,
    map: <V>(ns: string) => new StoredMap<V>(ns, db, mark),
    ledgerRows: () => {
      const insert = db.prepare('INSERT INTO ledger (seq, entry) VALUES (?, ?)');
      return {
        load: () => (db.prepare('SELECT entry FROM ledger ORDER BY seq').all() as Array<{ entry: string }>).map((r) => JSON.parse(r.entry) as LedgerEntry),
        // Money moved: on disk at once, not at the end of the step.
        append: (e) => void insert.run(e.seq, JSON.stringify(e)),
        clear: () => void db.exec('DELETE FROM ledger'),
      };
    },
    flush,
    close: () => {
      flush();
      if (db.open) db.close();
    },
  };
}

type Mark = (ns: string, k: string, read: () => unknown) => void;

/** A Map whose values are tracked: a change anywhere inside one is written back. */
class StoredMap<V> extends Map<string, V> {
  readonly #ns: string;
  readonly #mark: Mark;
  #loading = true;

  constructor(ns: string, db: Database.Database, mark: Mark) {
    super();
    this.#ns = ns;
    this.#mark = mark;
    for (const r of db.prepare('SELECT k, v FROM records WHERE ns = ?').all(ns) as Array<{ k: string; v: string }>) this.set(r.k, JSON.parse(r.v) as V);
    this.#loading = false;
  }

  override set(k: string, v: V): this {
    const read = () => (super.has(k) ? unwrap(super.get(k)) : undefined);
    super.set(k, track(v, () => this.#mark(this.#ns, k, read)));
    if (!this.#loading) this.#mark(this.#ns, k, read);
    return this;
  }

  override delete(k: string): boolean {
    const had = super.delete(k);
    if (had) this.#mark(this.#ns, k, () => undefined);
    return had;
  }

  override clear(): void {
    for (const k of [...this.keys()]) this.delete(k);
  }
}

const RAW = Symbol('raw');

/** A proxy that calls `changed` on any write to the object or anything reachable from it. */
function track<T>(value: T, changed: () => void): T {
  if (typeof value !== 'object' || value === null) return value;
  const proxies = new WeakMap<object, object>();
  const wrap = (o: object): object => {
    let p = proxies.get(o);
    if (!p) {
      p = new Proxy(o, {
        get: (t, prop, receiver) => {
          if (prop === RAW) return t;
          const v = Reflect.get(t, prop, receiver) as unknown;
          return typeof v === 'object' && v !== null ? wrap(v) : v;
        },
        set: (t, prop, v) => {
          const ok = Reflect.set(t, prop, unwrap(v));
          changed();
          return ok;
        },
        deleteProperty: (t, prop) => {
          const ok = Reflect.deleteProperty(t, prop);
          changed();
          return ok;
        },
      });
      proxies.set(o, p);
    }
    return p;
  };
  return wrap(value as object) as T;
}

function unwrap<T>(v: T): T {
  return typeof v === 'object' && v !== null ? (((v as Record<symbol, unknown>)[RAW] as T | undefined) ?? v) : v;
}
