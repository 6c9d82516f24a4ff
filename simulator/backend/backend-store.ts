/**
 * Where the simulated backend keeps what a real acquirer never forgets and what grows with
 * every payment: orders, payment codes, refunds, the ledger, its terminals' orders and the
 * record of calls. All of it lives in SQLite, never on the JS heap, so the backend's heap
 * stays flat however many payments it serves (docs/performance.md, "Simulator memory").
 * `sqliteStore(path)` keeps a file, so a restarted backend still knows the order it
 * answered USER_PAYING; `memoryStore()` is the same database in memory (gone with the
 * process: tests and benchmarks).
 *
 * A record table hands out plain objects that its owner mutates in place. Inside
 * `unit(fn)` (one transaction) a record read twice is the same object, and every record
 * read or put is written back at the end of the unit if its JSON changed. Writes are
 * durable against a killed process (WAL, synchronous NORMAL), not against a power cut:
 * the simulator's restarts are process restarts.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScanpayError } from '../../agent/errors.ts';
import type { LedgerEntry } from './ledger.ts';

/** Columns a table keeps beside a record, so it is found without reading every record. */
export interface RecordKeys {
  /** A secondary key (e.g. the order a refund belongs to). */
  ref?: string | undefined;
  /** When the owner must next look at the record (e.g. a customer's decision falls due). */
  due?: number | undefined;
}

export interface RecordTable<V> {
  /** The record; inside a unit, changes to it are written back at the unit's end. */
  get(k: string): V | undefined;
  has(k: string): boolean;
  put(k: string, v: V): void;
  /** Records (with their keys) whose `ref` is this, in insertion order. */
  byRef(ref: string): Array<[string, V]>;
  /** Keys of records due by `now`, earliest first. */
  dueBy(now: number): string[];
  /** Every record with its key, in insertion order: read from disk a page at a time, not held. */
  all(): IterableIterator<[string, V]>;
  count(): number;
  clear(): void;
}

export type TableName = 'codes' | 'orders' | 'refunds' | 'terminal_keys' | 'terminal_journals' | 'uploads' | 'settled' | 'batches';

/** The ledger's rows, append-only except for a QA reset. */
export interface LedgerRows {
  /** `rawCode` is the unmasked code, kept beside the entry so the audit tells codes whose masks collide apart. */
  append(e: LedgerEntry, rawCode: string): void;
  all(): LedgerEntry[];
  last(n: number): LedgerEntry[];
  lastSeq(): number;
  totals(orderNo: string): { charged: number; refunded: number };
  /** Sums, and the orders and (raw) codes charged more than once, by their masks. */
  audit(): { charged: number; undone: number; ordersChargedTwice: string[]; codesChargedTwice: string[] };
  clear(): void;
}

/** An append-only log of JSON records (the calls the backend received), with an optional order number to find them by. */
export interface EventLog<E> {
  /** Returns the entry's number, for `replace`. */
  append(e: E, orderNo?: string): number;
  replace(seq: number, e: E): void;
  all(): E[];
  byOrder(orderNo: string): E[];
  clear(): void;
}

/** Which orders each terminal sent. */
export interface TerminalOrders {
  note(terminalId: string, orderNo: string): void;
  of(terminalId: string): string[];
}

export interface BackendStore {
  /** The file, or undefined in memory. */
  readonly path: string | undefined;
  table<V>(name: TableName, keys?: (v: V) => RecordKeys): RecordTable<V>;
  ledgerRows(): LedgerRows;
  calls<E>(): EventLog<E>;
  terminalOrders(): TerminalOrders;
  /** Runs `fn` in one transaction, writing back the records it changed; a unit inside a unit joins it. */
  unit<T>(fn: () => T): T;
  close(): void;
}

export function memoryStore(): BackendStore {
  return sqliteStore(':memory:');
}

const TABLES: TableName[] = ['codes', 'orders', 'refunds', 'terminal_keys', 'terminal_journals', 'uploads', 'settled', 'batches'];
const SCHEMA = [
  ...TABLES.map(
    (t) => `CREATE TABLE IF NOT EXISTS ${t} (k TEXT PRIMARY KEY, v TEXT NOT NULL, ref TEXT, due REAL);
      CREATE INDEX IF NOT EXISTS ${t}_ref ON ${t} (ref) WHERE ref IS NOT NULL;
      CREATE INDEX IF NOT EXISTS ${t}_due ON ${t} (due) WHERE due IS NOT NULL;`,
  ),
  `CREATE TABLE IF NOT EXISTS ledger_rows (seq INTEGER PRIMARY KEY, order_no TEXT NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL, raw_code TEXT NOT NULL, entry TEXT NOT NULL);
   CREATE INDEX IF NOT EXISTS ledger_rows_order ON ledger_rows (order_no);
   CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY, order_no TEXT, call TEXT NOT NULL);
   CREATE INDEX IF NOT EXISTS calls_order ON calls (order_no) WHERE order_no IS NOT NULL;
   CREATE TABLE IF NOT EXISTS terminal_orders (terminal_id TEXT NOT NULL, order_no TEXT NOT NULL, PRIMARY KEY (terminal_id, order_no)) WITHOUT ROWID;`,
].join('\n');

/** A record read in the current unit: written back at its end if its JSON or its keys changed. */
interface Loaded {
  v: unknown;
  /** What is on disk: JSON of the record and of its keys; undefined for a new record. */
  text: string | undefined;
  keys: string | undefined;
  table: { keys: (v: never) => RecordKeys; upsert: Database.Statement };
}

const PAGE = 500;

export function sqliteStore(path: string): BackendStore {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    migrateRecords(db);
  } catch (e) {
    throw new ScanpayError('CONFIG_INVALID', { message: `simulated backend store ${path}: ${(e as Error).message}`, cause: e });
  }

  let loaded: Map<string, Loaded> | undefined;
  const writeBack = (): void => {
    for (const [id, l] of loaded!) {
      const text = JSON.stringify(l.v);
      const { ref, due } = l.table.keys(l.v as never);
      const keys = JSON.stringify([ref ?? null, due ?? null]);
      if (text !== l.text || keys !== l.keys) l.table.upsert.run(id.slice(id.indexOf('\n') + 1), text, ref ?? null, due ?? null);
    }
  };
  const runUnit = db.transaction((fn: () => unknown) => {
    const r = fn();
    writeBack();
    return r;
  });
  const unit = <T>(fn: () => T): T => {
    if (loaded) return fn();
    loaded = new Map();
    try {
      return runUnit(fn) as T;
    } finally {
      loaded = undefined;
    }
  };

  const table = <V>(name: TableName, keys: (v: V) => RecordKeys = () => ({})): RecordTable<V> => {
    const t = {
      keys: keys as (v: never) => RecordKeys,
      upsert: db.prepare(`INSERT INTO ${name} (k, v, ref, due) VALUES (?, ?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, ref = excluded.ref, due = excluded.due`),
    };
    const get = db.prepare<[string], { v: string; ref: string | null; due: number | null }>(`SELECT v, ref, due FROM ${name} WHERE k = ?`);
    const has = db.prepare(`SELECT 1 FROM ${name} WHERE k = ?`).pluck();
    const page = db.prepare(`SELECT rowid, k, v FROM ${name} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE}`).raw();
    const byRef = db.prepare(`SELECT k, v FROM ${name} WHERE ref = ? ORDER BY rowid`).raw();
    const dueBy = db.prepare(`SELECT k FROM ${name} WHERE due <= ? ORDER BY due, rowid`).pluck();
    const id = (k: string) => `${name}\n${k}`;
    // Outside a unit a read is a copy nobody writes back, and a put is a unit of its own.
    const track = (k: string, l: Omit<Loaded, 'table'>): V => {
      loaded?.set(id(k), { ...l, table: t });
      return l.v as V;
    };
    return {
      get: (k) => {
        const l = loaded?.get(id(k));
        if (l) return l.v as V;
        const row = get.get(k);
        return row ? track(k, { v: JSON.parse(row.v), text: row.v, keys: JSON.stringify([row.ref, row.due]) }) : undefined;
      },
      has: (k) => loaded?.has(id(k)) || has.get(k) !== undefined,
      put: (k, v) => unit(() => void track(k, { v, text: undefined, keys: undefined })),
      byRef: (ref) => (byRef.all(ref) as Array<[string, string]>).map(([k, v]) => [k, JSON.parse(v) as V]),
      dueBy: (now) => dueBy.all(now) as string[],
      // Page by page: an open iterator would keep the connection busy for the caller's own reads.
      all: function* () {
        for (let after = 0, rows: Array<[number, string, string]>; (rows = page.all(after) as Array<[number, string, string]>).length > 0; after = rows.at(-1)![0]) {
          // A record changed in the current unit is not on disk yet: the changed one counts.
          for (const [, k, v] of rows) yield [k, (loaded?.get(id(k))?.v as V | undefined) ?? (JSON.parse(v) as V)];
        }
      },
      count: () => db.prepare(`SELECT COUNT(*) FROM ${name}`).pluck().get() as number,
      clear: () => {
        for (const k of [...(loaded?.keys() ?? [])]) if (k.startsWith(id(''))) loaded!.delete(k);
        db.exec(`DELETE FROM ${name}`);
      },
    };
  };

  return {
    path,
    table,
    unit,
    ledgerRows: () => {
      const insert = db.prepare('INSERT INTO ledger_rows (seq, order_no, kind, amount, raw_code, entry) VALUES (?, ?, ?, ?, ?, ?)');
      const entries = (rows: unknown[]) => (rows as string[]).map((r) => JSON.parse(r) as LedgerEntry);
      const totals = db.prepare<[string], { charged: number; refunded: number }>(
        "SELECT COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount END), 0) AS charged, COALESCE(SUM(CASE WHEN kind <> 'charge' THEN amount END), 0) AS refunded FROM ledger_rows WHERE order_no = ?",
      );
      return {
        // Money moved: written at once (a unit around it commits it with the order).
        append: (e, rawCode) => void insert.run(e.seq, e.orderNo, e.kind, e.amount, rawCode, JSON.stringify(e)),
        all: () => entries(db.prepare('SELECT entry FROM ledger_rows ORDER BY seq').pluck().all()),
        last: (n) => entries(db.prepare('SELECT entry FROM ledger_rows ORDER BY seq DESC LIMIT ?').pluck().all(n)).reverse(),
        lastSeq: () => (db.prepare('SELECT MAX(seq) FROM ledger_rows').pluck().get() as number | null) ?? 0,
        totals: (orderNo) => totals.get(orderNo)!,
        audit: () => {
          const sums = db.prepare("SELECT COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount END), 0) AS charged, COALESCE(SUM(CASE WHEN kind <> 'charge' THEN amount END), 0) AS undone FROM ledger_rows").get() as { charged: number; undone: number };
          // One raw code has one mask: any charge's mask names the code.
          const twice = (col: string, shown: string) =>
            db.prepare(`SELECT ${shown} FROM ledger_rows WHERE kind = 'charge' GROUP BY ${col} HAVING COUNT(*) > 1 ORDER BY MIN(seq)`).pluck().all() as string[];
          return { ...sums, ordersChargedTwice: twice('order_no', 'order_no'), codesChargedTwice: twice('raw_code', "MIN(json_extract(entry, '$.code'))") };
        },
        clear: () => void db.exec('DELETE FROM ledger_rows'),
      };
    },
    calls: <E>(): EventLog<E> => {
      const insert = db.prepare('INSERT INTO calls (order_no, call) VALUES (?, ?)');
      const update = db.prepare('UPDATE calls SET call = ? WHERE seq = ?');
      const parse = (rows: unknown[]) => (rows as string[]).map((r) => JSON.parse(r) as E);
      return {
        append: (e, orderNo) => Number(insert.run(orderNo ?? null, JSON.stringify(e)).lastInsertRowid),
        replace: (seq, e) => void update.run(JSON.stringify(e), seq),
        all: () => parse(db.prepare('SELECT call FROM calls ORDER BY seq').pluck().all()),
        byOrder: (orderNo) => parse(db.prepare('SELECT call FROM calls WHERE order_no = ? ORDER BY seq').pluck().all(orderNo)),
        clear: () => void db.exec('DELETE FROM calls'),
      };
    },
    terminalOrders: () => {
      const note = db.prepare('INSERT OR IGNORE INTO terminal_orders (terminal_id, order_no) VALUES (?, ?)');
      const of = db.prepare('SELECT order_no FROM terminal_orders WHERE terminal_id = ?').pluck();
      return { note: (t, o) => void note.run(t, o), of: (t) => of.all(t) as string[] };
    },
    // An in-memory database stays readable after its backend stopped, as a file's rows stay
    // on disk: tests and the QA page read the ledger of a backend they just closed.
    close: () => {
      if (path !== ':memory:' && db.open) db.close();
    },
  };
}

/**
 * A file written before the orders left the heap kept every record as JSON in one
 * `records` table and the ledger apart: moved into the tables above once. Orders are
 * marked due now, so the first call looks at each and files it under its real time.
 */
function migrateRecords(db: Database.Database): void {
  const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
  if (!has('records')) return;
  db.transaction(() => {
    db.exec(`INSERT OR IGNORE INTO codes (k, v) SELECT k, v FROM records WHERE ns = 'codes';
      INSERT OR IGNORE INTO orders (k, v, due) SELECT k, v, 0 FROM records WHERE ns = 'orders';
      INSERT OR IGNORE INTO refunds (k, v, ref) SELECT k, v, json_extract(v, '$.orderNo') FROM records WHERE ns = 'refunds';
      INSERT OR IGNORE INTO terminal_keys (k, v) SELECT k, v FROM records WHERE ns = 'terminal-keys';
      INSERT OR IGNORE INTO terminal_journals (k, v) SELECT k, v FROM records WHERE ns = 'terminal-journals';
      INSERT OR IGNORE INTO terminal_orders (terminal_id, order_no)
        SELECT substr(k, 1, instr(k, ' ') - 1), substr(k, instr(k, ' ') + 1) FROM records WHERE ns = 'terminal-orders';
      DROP TABLE records;`);
    if (has('ledger')) {
      db.exec(`INSERT OR IGNORE INTO ledger_rows (seq, order_no, kind, amount, raw_code, entry)
        SELECT l.seq, json_extract(l.entry, '$.orderNo'), json_extract(l.entry, '$.kind'), json_extract(l.entry, '$.amount'),
          COALESCE(json_extract(o.v, '$.detail.code'), json_extract(l.entry, '$.code')), l.entry
        FROM ledger l LEFT JOIN orders o ON o.k = json_extract(l.entry, '$.orderNo');
        DROP TABLE ledger;`);
    }
  })();
}
