/**
 * The simulated backend's terminals: their keys (two at once during a key rotation's
 * grace window) and the orders each one sent, which settlement counts per terminal.
 */
import type { Clock } from '../../agent/clock.ts';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import { verifyRequest, type RequestParts, type VerifyOptions } from '../../agent/protocol/signing.ts';

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

export class TerminalRegistry {
  readonly #clock: Clock;
  readonly #terminals = new Map<string, TerminalEntry>();

  constructor(clock: Clock, initial: Iterable<{ terminalId: string; key: Buffer }> = []) {
    this.#clock = clock;
    for (const t of initial) this.add(t.terminalId, t.key);
  }

  add(terminalId: string, key: Buffer): void {
    this.#terminals.set(terminalId, { keys: [{ key, version: 1 }], orders: new Set() });
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
    if (orderNo) this.#terminals.get(terminalId)?.orders.add(orderNo);
  }

  ordersOf(terminalId: string): ReadonlySet<string> {
    return this.#terminals.get(terminalId)?.orders ?? new Set();
  }

  ids(): string[] {
    return [...this.#terminals.keys()];
  }
}
