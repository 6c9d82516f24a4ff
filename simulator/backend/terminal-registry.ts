/**
 * The simulated backend's terminals: their keys (two at once during a key rotation's
 * grace window), the orders each one sent, which settlement counts per terminal, and the
 * journal each one last reported (its identity and high-water mark, for `scanpay recover`).
 * Kept in the backend's store, so a restarted backend still knows them.
 */
import type { Clock } from '../../agent/clock.ts';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import { verifyRequest, type RequestParts, type VerifyOptions } from '../../agent/protocol/signing.ts';
import { memoryStore, type BackendStore } from './backend-store.ts';

type HeaderBag = Parameters<typeof verifyRequest>[1];

interface KeyEntry {
  key: Buffer;
  version: number;
  /** Set on a key that was rotated out: accepted until then. */
  validUntil?: number;
}

interface TerminalEntry {
  keys: KeyEntry[];
  orders: Set<string>;
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
  readonly #storedKeys: Map<string, StoredKeys>;
  /** `terminalId orderNo` → 1 */
  readonly #storedOrders: Map<string, 1>;
  readonly #journals: Map<string, JournalMark>;

  /** `initial` terminals are added unless the store already knows them (a rotated key stays rotated). */
  constructor(clock: Clock, initial: Iterable<{ terminalId: string; key: Buffer }> = [], store: BackendStore = memoryStore()) {
    this.#clock = clock;
    this.#storedKeys = store.map('terminal-keys');
    this.#storedOrders = store.map('terminal-orders');
    this.#journals = store.map('terminal-journals');
    for (const [id, keys] of this.#storedKeys) {
      this.#terminals.set(id, { keys: keys.map((k) => ({ key: Buffer.from(k.key, 'base64'), version: k.version, ...(k.validUntil !== undefined ? { validUntil: k.validUntil } : {}) })), orders: new Set() });
    }
    for (const k of this.#storedOrders.keys()) {
      const [id, orderNo] = k.split(' ') as [string, string];
      this.#terminals.get(id)?.orders.add(orderNo);
    }
    for (const t of initial) if (!this.has(t.terminalId)) this.add(t.terminalId, t.key);
  }

  add(terminalId: string, key: Buffer): void {
    this.#terminals.set(terminalId, { keys: [{ key, version: 1 }], orders: new Set() });
    this.#saveKeys(terminalId);
  }

  #saveKeys(terminalId: string): void {
    const t = this.#terminals.get(terminalId);
    if (t) this.#storedKeys.set(terminalId, t.keys.map((k) => ({ key: k.key.toString('base64'), version: k.version, ...(k.validUntil !== undefined ? { validUntil: k.validUntil } : {}) })));
  }

  noteJournal(terminalId: string, mark: Omit<JournalMark, 'reportedAt'>): void {
    if (this.has(terminalId)) this.#journals.set(terminalId, { ...mark, reportedAt: this.#clock.now() });
  }

  journalOf(terminalId: string): JournalMark | undefined {
    const m = this.#journals.get(terminalId);
    return m && { ...m };
  }

  has(terminalId: string): boolean {
    return this.#terminals.has(terminalId);
  }

  /** Keys accepted now, newest first. */
  keys(terminalId: string): Buffer[] {
    const now = this.#clock.now();
    return (this.#terminals.get(terminalId)?.keys ?? []).filter((k) => k.validUntil === undefined || k.validUntil > now).map((k) => k.key);
  }

  keyVersion(terminalId: string): number {
    return this.#terminals.get(terminalId)?.keys[0]?.version ?? 0;
  }

  /** Makes `newKey` current; the keys before it stay valid for `graceMs`. */
  rotate(terminalId: string, newKey: Buffer, graceMs: number): { version: number; oldKeyValidUntil: number } {
    const t = this.#terminals.get(terminalId);
    if (!t) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { detail: { terminalId } });
    const until = this.#clock.now() + graceMs;
    for (const k of t.keys) k.validUntil = Math.min(k.validUntil ?? until, until);
    const version = (t.keys[0]?.version ?? 0) + 1;
    t.keys.unshift({ key: newKey, version });
    this.#saveKeys(terminalId);
    return { version, oldKeyValidUntil: until };
  }

  /**
   * Verifies a request against each key the terminal may use; returns the key that
   * verified, which must also sign the answer (the terminal checks with the key it used).
   */
  verify(p: RequestParts, headers: HeaderBag, o: VerifyOptions): { key: Buffer; nonce: string } {
    const keys = this.keys(p.terminalId);
    if (keys.length === 0) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { detail: { terminalId: p.terminalId } });
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
    const t = this.#terminals.get(terminalId);
    if (!orderNo || !t || t.orders.has(orderNo)) return;
    t.orders.add(orderNo);
    this.#storedOrders.set(`${terminalId} ${orderNo}`, 1);
  }

  ordersOf(terminalId: string): ReadonlySet<string> {
    return this.#terminals.get(terminalId)?.orders ?? new Set();
  }

  ids(): string[] {
    return [...this.#terminals.keys()];
  }
}
