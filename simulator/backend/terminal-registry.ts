/**
 * The simulated backend's terminals: their keys and the orders each one sent, which
 * settlement counts per terminal. A terminal has one current key; during a rotation also
 * the key it was offered (pending until first used); after it, the keys rotated out,
 * accepted for a grace window so requests already on their way land. Revoking drops every
 * key at once, with no grace: only a new activation brings the terminal back. Also the
 * journal each terminal last reported (its identity and high-water mark, for `scanpay
 * recover`). Keys, orders and journals are kept in the backend's store, so a restarted
 * backend still knows them; a rotation under way or a revocation is not (it lives in memory,
 * a few keys per terminal). The orders each terminal sent stay on disk only: they grow
 * with payments.
 */
import type { Clock } from '../../agent/clock.ts';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import { verifyRequest, type RequestParts, type VerifyOptions } from '../../agent/protocol/signing.ts';
import { memoryStore, type BackendStore, type RecordTable, type TerminalOrders } from './backend-store.ts';

type HeaderBag = Parameters<typeof verifyRequest>[1];

interface KeyEntry {
  key: Buffer;
  version: number;
  /** Set on a key that was rotated out: accepted until then. */
  validUntil?: number;
}

export interface PendingKey {
  key: Buffer;
  version: number;
  /** The device's and the backend's X25519 shares of the exchange that made it. */
  deviceEphemeral: string;
  serverEphemeral: string;
}

interface TerminalEntry {
  /** Newest first: [0] is the current key. Empty once revoked. */
  keys: KeyEntry[];
  pending?: PendingKey;
  revoked: boolean;
  /** The last key version before a revocation: a re-activated terminal counts on from it. */
  lastVersion?: number;
}

/** What a terminal last said of its journal (heartbeat `journal`, docs/protocol.md). */
export interface JournalMark {
  journalId: string;
  lastOrderNo: string | null;
  lastAt: number | null;
  reportedAt: number;
}

type StoredKeys = Array<{ key: string; version: number; validUntil?: number }>;

export class TerminalRegistry {
  readonly #clock: Clock;
  readonly #terminals = new Map<string, TerminalEntry>();
  readonly #storedKeys: RecordTable<StoredKeys>;
  readonly #orders: TerminalOrders;
  readonly #journals: RecordTable<JournalMark>;

  /** `initial` terminals are added unless the store already knows them (a rotated key stays rotated). */
  constructor(clock: Clock, initial: Iterable<{ terminalId: string; key: Buffer }> = [], store: BackendStore = memoryStore()) {
    this.#clock = clock;
    this.#storedKeys = store.table('terminal_keys');
    this.#orders = store.terminalOrders();
    this.#journals = store.table('terminal_journals');
    for (const [terminalId, keys] of this.#storedKeys.all()) {
      this.#terminals.set(terminalId, { keys: keys.map((k) => ({ key: Buffer.from(k.key, 'base64'), version: k.version, ...(k.validUntil !== undefined ? { validUntil: k.validUntil } : {}) })), revoked: false });
    }
    for (const t of initial) if (!this.has(t.terminalId)) this.add(t.terminalId, t.key);
  }

  #saveKeys(terminalId: string): void {
    const t = this.#terminals.get(terminalId);
    if (t) this.#storedKeys.put(terminalId, t.keys.map((k) => ({ key: k.key.toString('base64'), version: k.version, ...(k.validUntil !== undefined ? { validUntil: k.validUntil } : {}) })));
  }

  noteJournal(terminalId: string, mark: Omit<JournalMark, 'reportedAt'>): void {
    if (this.has(terminalId)) this.#journals.put(terminalId, { ...mark, reportedAt: this.#clock.now() });
  }

  journalOf(terminalId: string): JournalMark | undefined {
    const m = this.#journals.get(terminalId);
    return m && { ...m };
  }

  /** A new terminal, or a revoked one re-activated: its orders are kept, its old keys are not. */
  add(terminalId: string, key: Buffer): void {
    const before = this.#terminals.get(terminalId);
    const version = (before?.keys[0]?.version ?? before?.lastVersion ?? 0) + 1;
    this.#terminals.set(terminalId, { keys: [{ key, version }], revoked: false });
    this.#saveKeys(terminalId);
  }

  has(terminalId: string): boolean {
    return this.#terminals.has(terminalId);
  }

  /** Keys accepted now: the pending one, the current one, then those in their grace window. */
  keys(terminalId: string): Buffer[] {
    const t = this.#terminals.get(terminalId);
    if (!t) return [];
    const now = this.#clock.now();
    const confirmed = t.keys.filter((k) => k.validUntil === undefined || k.validUntil > now).map((k) => k.key);
    return t.pending ? [t.pending.key, ...confirmed] : confirmed;
  }

  /** The key the terminal is known to hold now: the only one that may ask for a new key. */
  current(terminalId: string): Buffer | undefined {
    return this.#terminals.get(terminalId)?.keys[0]?.key;
  }

  keyVersion(terminalId: string): number {
    return this.#terminals.get(terminalId)?.keys[0]?.version ?? 0;
  }

  revoked(terminalId: string): boolean {
    return this.#terminals.get(terminalId)?.revoked ?? false;
  }

  pending(terminalId: string): PendingKey | undefined {
    return this.#terminals.get(terminalId)?.pending;
  }

  /** Offers a new key; the current one stays current until the new one is first used. */
  offer(terminalId: string, pending: Omit<PendingKey, 'version'>): PendingKey {
    const t = this.#terminals.get(terminalId);
    if (!t || t.revoked) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { detail: { terminalId } });
    t.pending = { ...pending, version: (t.keys[0]?.version ?? 0) + 1 };
    return t.pending;
  }

  /** Told of every verified request: the first use of the offered key makes it current, and the keys before it enter their grace window. */
  used(terminalId: string, key: Buffer, graceMs: number): boolean {
    const t = this.#terminals.get(terminalId);
    if (!t?.pending?.key.equals(key)) return false;
    const until = this.#clock.now() + graceMs;
    for (const k of t.keys) k.validUntil = Math.min(k.validUntil ?? until, until);
    t.keys.unshift({ key, version: t.pending.version });
    delete t.pending;
    this.#saveKeys(terminalId);
    return true;
  }

  /** Ends the grace window now: only the current key (and one offered, not yet used) is accepted. */
  revokeOldKeys(terminalId: string): number {
    const t = this.#terminals.get(terminalId);
    if (!t) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `no terminal ${terminalId}` });
    const dropped = t.keys.length - 1;
    t.keys = t.keys.slice(0, 1);
    this.#saveKeys(terminalId);
    return Math.max(0, dropped);
  }

  /** Suspected compromise: no key is accepted any more, not even within a grace window. */
  revoke(terminalId: string): void {
    const t = this.#terminals.get(terminalId);
    if (!t) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `no terminal ${terminalId}` });
    t.lastVersion = Math.max(t.keys[0]?.version ?? 0, t.pending?.version ?? 0);
    t.keys = [];
    delete t.pending;
    t.revoked = true;
    this.#saveKeys(terminalId);
  }

  /**
   * Verifies a request against each key the terminal may use; returns the key that
   * verified, which must also sign the answer (the terminal checks with the key it used).
   */
  verify(p: RequestParts, headers: HeaderBag, o: VerifyOptions): { key: Buffer; nonce: string } {
    const keys = this.keys(p.terminalId);
    if (keys.length === 0) {
      const message = this.revoked(p.terminalId) ? 'this terminal was revoked: re-activate it with a new activation code' : undefined;
      throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { ...(message ? { message } : {}), detail: { terminalId: p.terminalId } });
    }
    for (const [i, key] of keys.entries()) {
      try {
        return { key, nonce: verifyRequest(p, headers, key, o) };
      } catch (e) {
        if (!isScanpayError(e, 'PROTO_SIGNATURE_INVALID') || i === keys.length - 1) throw e;
      }
    }
    throw new ScanpayError('PROTO_SIGNATURE_INVALID');
  }

  noteOrder(terminalId: string, orderNo: string | undefined): void {
    if (orderNo && this.has(terminalId)) this.#orders.note(terminalId, orderNo);
  }

  /** Read from disk at each call (recovery and settlement ask, rarely). */
  ordersOf(terminalId: string): ReadonlySet<string> {
    return new Set(this.#orders.of(terminalId));
  }

  ids(): string[] {
    return [...this.#terminals.keys()];
  }
}
