/**
 * The acquirer's side of device management, as the simulated backend plays it:
 * activation codes, the parameter set, heartbeats, key rotation, transaction records and
 * end-of-day settlement. Pure state over the clock; device-routes.ts puts it on HTTP.
 * What grows with payments (uploaded records, what was settled, the batches) lives in the
 * backend's store (backend-store.ts); a terminal's few flags stay in memory.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { DEFAULT_DEVICE_PARAMS } from '../../agent/params.ts';
import {
  ACTIVATION_KDF,
  activationSigningKey,
  codeVerifier,
  newX25519,
  rotatedKey,
  x25519,
  sameTotals,
  totalsOf,
  type Discrepancy,
  type ActivateHelloResponse,
  type HeartbeatRequest,
  type KdfParams,
  type ParamsEnvelope,
  type SettleRequest,
  type SettleResponse,
  type TxRecord,
  type X25519Pair,
} from '../../agent/protocol/device-messages.ts';
import type { OrderView } from './wallet-model.ts';
import type { TerminalRegistry } from './terminal-registry.ts';
import { memoryStore, type BackendStore, type RecordTable } from './backend-store.ts';

export const DEVICE_DEFAULTS = {
  /** A code is handed to the technician on site: an hour is plenty, and limits a leaked one. */
  activationCodeTtlMs: 3600_000,
  /** Step 1 to step 2 of an activation. */
  activationSessionTtlMs: 5 * 60_000,
  /** Wrong-key attempts at step 2 before the code is burnt (online guessing). */
  activationMaxFailures: 5,
  /** How long a rotated-out key is still accepted after the new one is first used: covers requests already on their way. */
  keyGraceMs: 10 * 60_000,
} as const;

interface ActivationCode {
  codeId: string;
  /** The backend keeps scrypt(code, salt), never the code. */
  salt: Buffer;
  verifier: Buffer;
  kdf: KdfParams;
  merchantId: string;
  merchantName: string;
  expiresAt: number;
  /** A re-activation code brings back this revoked terminal. */
  terminalId?: string;
  failures: number;
  /**
   * Set by the first activation; a repeat from the same device (its answer was lost) gets
   * the same identity. The code is consumed once the issued key is first used.
   */
  issued?: { terminalId: string; key: Buffer; deviceKey: string };
}

interface ActivationSession {
  codeId: string;
  server: X25519Pair;
  deviceEphemeral: string;
  deviceKey: string;
  expiresAt: number;
}

type Outcome = 'paid' | 'declined' | 'reversed';
interface BackendRecord {
  orderNo: string;
  wallet: string;
  outcome: Outcome;
  amount: number;
  refunds: Array<{ refundNo: string; amount: number }>;
  carried: boolean;
}

/** What settlement reads of the payment side. */
export interface PaymentBook {
  order(orderNo: string): OrderView | undefined;
}

export interface TerminalStatus {
  terminalId: string;
  merchantId: string | null;
  keyVersion: number;
  rotationRequested: boolean;
  /** Two different devices asked for the same rotation with the current key: revoke and re-activate. */
  compromiseSuspected: boolean;
  revoked: boolean;
  lastHeartbeat: (HeartbeatRequest & { receivedAt: number }) | null;
  settledBatches: string[];
}

export type SettlementChange = { kind: 'drop'; orderNo: string } | { kind: 'extra'; orderNo: string; wallet: string; amount: number };

interface TerminalState {
  merchantId: string | null;
  merchantName: string | null;
  rotationRequested: boolean;
  compromiseSuspected: boolean;
  lastHeartbeat: (HeartbeatRequest & { receivedAt: number }) | null;
  /** QA changes to what the backend believes (changeSettlement). */
  extras: Array<{ orderNo: string; wallet: string; amount: number }>;
  dropped: Set<string>;
}

export class DeviceBackend {
  readonly #clock: Clock;
  readonly #registry: TerminalRegistry;
  readonly #book: PaymentBook;
  readonly #codes = new Map<string, ActivationCode>();
  readonly #sessions = new Map<string, ActivationSession>();
  readonly #terminals = new Map<string, TerminalState>();
  /** Records uploaded, by `terminalId orderNo`, found by terminal. */
  readonly #uploads: RecordTable<TxRecord & { terminalId: string }>;
  /** `terminalId order orderNo` and `terminalId refund refundNo` of what a settled batch carried. */
  readonly #settled: RecordTable<1>;
  /** Final settlement answers by `terminalId batchNo`: a repeated settle gets the same one. */
  readonly #batches: RecordTable<{ terminalId: string; answer: SettleResponse }>;
  #params: ParamsEnvelope = { ...DEFAULT_DEVICE_PARAMS };
  #nextTerminal = 1_000_001;

  constructor(o: { clock: Clock; registry: TerminalRegistry; book: PaymentBook; store?: BackendStore }) {
    this.#clock = o.clock;
    this.#registry = o.registry;
    this.#book = o.book;
    const store = o.store ?? memoryStore();
    this.#uploads = store.table('uploads', (r) => ({ ref: r.terminalId }));
    this.#settled = store.table('settled');
    this.#batches = store.table('batches', (b) => ({ ref: b.terminalId }));
  }

  // ---- activation ----------------------------------------------------------------

  /** A new code for a new terminal, or (`terminalId`) to re-activate a revoked one. */
  issueActivationCode(o: { merchantName?: string; ttlMs?: number; terminalId?: string } = {}): { code: string; codeId: string; merchantId: string; expiresAt: number } {
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    const group = () => Array.from({ length: 4 }, () => alphabet[randomInt(alphabet.length)]).join('');
    let codeId = group();
    while (this.#codes.has(codeId)) codeId = group();
    const code = `${codeId}-${group()}-${group()}-${group()}`;
    const reactivated = o.terminalId ? this.#state(o.terminalId) : undefined;
    const merchantId = reactivated?.merchantId ?? `M${String(randomInt(1_000_000, 9_999_999))}`;
    const salt = randomBytes(16);
    const entry: ActivationCode = {
      codeId,
      salt,
      verifier: codeVerifier(code, salt, ACTIVATION_KDF),
      kdf: ACTIVATION_KDF,
      merchantId,
      merchantName: o.merchantName ?? reactivated?.merchantName ?? 'Simulated shop',
      expiresAt: this.#clock.now() + (o.ttlMs ?? DEVICE_DEFAULTS.activationCodeTtlMs),
      failures: 0,
      ...(o.terminalId ? { terminalId: o.terminalId } : {}),
    };
    this.#codes.set(codeId, entry);
    return { code, codeId, merchantId, expiresAt: entry.expiresAt };
  }

  /** Step 1: a server-random activation id and an ephemeral share for this exchange. */
  hello(req: { codeId: string; ephemeralKey: string; deviceKey: string }): ActivateHelloResponse {
    const now = this.#clock.now();
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
    const c = this.#validCode(req.codeId);
    if (c.issued && c.issued.deviceKey !== req.deviceKey) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'this activation code was already used by another device' });
    const activationId = `S-${randomBytes(16).toString('hex')}`;
    const server = newX25519();
    this.#sessions.set(activationId, { codeId: c.codeId, server, deviceEphemeral: req.ephemeralKey, deviceKey: req.deviceKey, expiresAt: now + DEVICE_DEFAULTS.activationSessionTtlMs });
    return { result: 'HELLO', activationId, serverEphemeral: server.publicKey, salt: c.salt.toString('base64'), kdf: c.kdf };
  }

  /** Step 2: the key that must have signed the request of this exchange. */
  activationKey(activationId: string): Buffer {
    const s = this.#sessions.get(activationId);
    if (!s || s.expiresAt <= this.#clock.now()) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'unknown or expired activation: start again' });
    const c = this.#validCode(s.codeId);
    try {
      return activationSigningKey({
        verifier: c.verifier,
        ephemeralSecret: x25519(s.server.privateKey, s.deviceEphemeral),
        deviceSecret: x25519(s.server.privateKey, s.deviceKey),
        activationId,
        deviceEphemeral: s.deviceEphemeral,
        deviceKey: s.deviceKey,
        serverEphemeral: s.server.publicKey,
      });
    } catch (e) {
      throw new ScanpayError('PROTO_BAD_REQUEST', { message: `activation: ${(e as Error).message}` });
    }
  }

  /** Step 2 did not verify: a wrong code (or an impostor). Enough of them burn the code. */
  activationFailed(activationId: string): void {
    const s = this.#sessions.get(activationId);
    this.#sessions.delete(activationId);
    const c = s && this.#codes.get(s.codeId);
    if (c && ++c.failures >= DEVICE_DEFAULTS.activationMaxFailures) this.#codes.delete(c.codeId);
  }

  activate(activationId: string): { terminalId: string; key: Buffer; merchantId: string; merchantName: string; params: ParamsEnvelope } {
    const s = this.#sessions.get(activationId);
    if (!s) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'unknown or expired activation: start again' });
    this.#sessions.delete(activationId);
    const c = this.#validCode(s.codeId);
    if (c.issued && c.issued.deviceKey !== s.deviceKey) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'this activation code was already used by another device' });
    if (!c.issued) {
      c.issued = { terminalId: c.terminalId ?? `T${this.#nextTerminal++}`, key: randomBytes(32), deviceKey: s.deviceKey };
      this.#registry.add(c.issued.terminalId, c.issued.key);
      const t = this.#state(c.issued.terminalId);
      t.merchantId = c.merchantId;
      t.merchantName = c.merchantName;
      t.rotationRequested = false;
      t.compromiseSuspected = false;
    }
    return { terminalId: c.issued.terminalId, key: c.issued.key, merchantId: c.merchantId, merchantName: c.merchantName, params: this.#params };
  }

  #validCode(codeId: string): ActivationCode {
    const c = this.#codes.get(codeId);
    if (!c || c.expiresAt <= this.#clock.now()) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'unknown, used or expired activation code' });
    return c;
  }

  // ---- parameters, heartbeat, keys ---------------------------------------------------

  params(): ParamsEnvelope {
    return this.#params;
  }

  /** Publishes a new set under the next version. Not validated: terminals must refuse a bad one. */
  setParams(body: Record<string, unknown>): ParamsEnvelope {
    this.#params = { ...body, version: this.#params.version + 1 };
    return this.#params;
  }

  heartbeat(terminalId: string, hb: HeartbeatRequest): { result: 'OK'; serverTime: number; paramsVersion: number; rotateKey: boolean } {
    const s = this.#state(terminalId);
    s.lastHeartbeat = { ...hb, receivedAt: this.#clock.now() };
    // Still on the current key with a new one offered: the rotation's answer was lost, ask again.
    return { result: 'OK', serverTime: this.#clock.now(), paramsVersion: this.#params.version, rotateKey: s.rotationRequested || this.#registry.pending(terminalId) !== undefined };
  }

  requestRotation(terminalId: string): void {
    if (!this.#registry.has(terminalId) || this.#registry.revoked(terminalId)) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `no active terminal ${terminalId}` });
    this.#state(terminalId).rotationRequested = true;
  }

  /**
   * A rotation the backend asked for, signed with the terminal's current key (never a
   * rotated-out one still in its grace window). The new key comes from an X25519
   * exchange with the device's share, so only that device can compute it. The same share
   * again (the answer was lost) gets the same answer; another share while one is
   * outstanding means two holders of the current key: refused, and flagged for the acquirer.
   */
  rotate(terminalId: string, usedKey: Buffer, deviceEphemeral: string): { serverEphemeral: string; version: number } {
    const s = this.#state(terminalId);
    const refuse = (message: string) => new ScanpayError('PROTO_ROTATION_REFUSED', { message });
    const current = this.#registry.current(terminalId);
    if (!current?.equals(usedKey)) throw refuse('a new key is given only to a request signed with the current key');
    const pending = this.#registry.pending(terminalId);
    if (pending) {
      if (pending.deviceEphemeral === deviceEphemeral) return { serverEphemeral: pending.serverEphemeral, version: pending.version };
      s.compromiseSuspected = true;
      throw refuse('another rotation of this key is under way with a different device share: the key may be copied; the acquirer should revoke and re-activate this terminal');
    }
    if (!s.rotationRequested) throw refuse('the backend did not ask this terminal to rotate its key');
    const server = newX25519();
    let shared: Buffer;
    try {
      shared = x25519(server.privateKey, deviceEphemeral);
    } catch (e) {
      throw new ScanpayError('PROTO_BAD_REQUEST', { message: `ephemeralKey: ${(e as Error).message}` });
    }
    const version = this.#registry.keyVersion(terminalId) + 1;
    const key = rotatedKey({ currentKey: current, sharedSecret: shared, terminalId, keyVersion: version, deviceEphemeral, serverEphemeral: server.publicKey });
    this.#registry.offer(terminalId, { key, deviceEphemeral, serverEphemeral: server.publicKey });
    s.rotationRequested = false;
    return { serverEphemeral: server.publicKey, version };
  }

  /**
   * Told of every verified request: the first use of an offered key completes its
   * rotation; the first use of an activated key consumes the activation code.
   */
  keyUsed(terminalId: string, key: Buffer): void {
    this.#registry.used(terminalId, key, DEVICE_DEFAULTS.keyGraceMs);
    for (const [id, c] of this.#codes) if (c.issued?.terminalId === terminalId && c.issued.key.equals(key)) this.#codes.delete(id);
  }

  /** A rotated-out key may be copied: stop accepting it now rather than at the end of its grace window. */
  revokeOldKeys(terminalId: string): { revoked: number } {
    return { revoked: this.#registry.revokeOldKeys(terminalId) };
  }

  /**
   * Suspected compromise: every key of the terminal stops working now (no grace), and a
   * re-activation code for the same terminal id is issued for the acquirer to hand to the
   * technician.
   */
  revoke(terminalId: string, o: { ttlMs?: number } = {}): { code: string; expiresAt: number } {
    this.#registry.revoke(terminalId);
    const s = this.#state(terminalId);
    s.rotationRequested = false;
    for (const [id, c] of this.#codes) if (c.issued?.terminalId === terminalId || c.terminalId === terminalId) this.#codes.delete(id);
    const { code, expiresAt } = this.issueActivationCode({ terminalId, ...(o.ttlMs ? { ttlMs: o.ttlMs } : {}) });
    return { code, expiresAt };
  }

  // ---- records and settlement ----------------------------------------------------

  upload(terminalId: string, records: TxRecord[]): number {
    for (const r of records) this.#uploads.put(`${terminalId} ${r.orderNo}`, { ...r, terminalId });
    return records.length;
  }

  uploaded(terminalId: string): TxRecord[] {
    return this.#uploads.byRef(terminalId).map(([, { terminalId: _, ...r }]) => r);
  }

  /** QA: makes this backend's settlement records differ from what happened. */
  changeSettlement(terminalId: string, change: SettlementChange): void {
    const s = this.#state(terminalId);
    if (change.kind === 'drop') s.dropped.add(change.orderNo);
    else s.extras.push({ orderNo: change.orderNo, wallet: change.wallet, amount: change.amount });
  }

  settle(terminalId: string, req: SettleRequest): SettleResponse {
    const s = this.#state(terminalId);
    const done = this.#batches.get(`${terminalId} ${req.batchNo}`);
    if (done) return done.answer;
    const records = this.#unsettled(terminalId);
    const backendTotals = totalsOf(records);
    if (sameTotals(req.totals, backendTotals)) return this.#close(terminalId, s, req.batchNo, records, { result: 'MATCHED', batchNo: req.batchNo });
    if (!req.detailUploaded) return { result: 'DETAIL_REQUIRED', batchNo: req.batchNo, backendTotals };
    const detail = this.uploaded(terminalId).filter((r) => r.batchNo === req.batchNo);
    return this.#close(terminalId, s, req.batchNo, records, { result: 'MISMATCH', batchNo: req.batchNo, backendTotals, discrepancies: compare(detail, records) });
  }

  terminals(): TerminalStatus[] {
    return this.#registry.ids().map((id) => {
      const s = this.#state(id);
      return { terminalId: id, merchantId: s.merchantId, keyVersion: this.#registry.keyVersion(id), rotationRequested: s.rotationRequested, compromiseSuspected: s.compromiseSuspected, revoked: this.#registry.revoked(id), lastHeartbeat: s.lastHeartbeat, settledBatches: this.#batches.byRef(id).map(([, b]) => b.answer.batchNo) };
    });
  }

  #close(terminalId: string, s: TerminalState, batchNo: string, records: BackendRecord[], answer: SettleResponse): SettleResponse {
    for (const r of records) {
      this.#settled.put(`${terminalId} order ${r.orderNo}`, 1);
      for (const f of r.refunds) this.#settled.put(`${terminalId} refund ${f.refundNo}`, 1);
    }
    s.extras = s.extras.filter((x) => !records.some((r) => r.orderNo === x.orderNo));
    this.#batches.put(`${terminalId} ${batchNo}`, { terminalId, answer });
    return answer;
  }

  /**
   * This terminal's finished orders and refunds not yet in a settled batch, as the backend
   * sees them: read order by order from disk (the terminal's orders, not every order).
   */
  #unsettled(terminalId: string): BackendRecord[] {
    const s = this.#state(terminalId);
    const out: BackendRecord[] = [];
    for (const orderNo of this.#registry.ordersOf(terminalId)) {
      const o = this.#book.order(orderNo);
      if (!o || s.dropped.has(o.orderNo)) continue;
      const refunds = o.refunds.filter((f) => !this.#settled.has(`${terminalId} refund ${f.refundNo}`)).map(({ refundNo, amount }) => ({ refundNo, amount }));
      const outcome = outcomeOf(o);
      const carried = this.#settled.has(`${terminalId} order ${o.orderNo}`);
      if (!outcome || (carried && refunds.length === 0)) continue;
      out.push({ orderNo: o.orderNo, wallet: o.wallet ?? 'unknown', outcome, amount: o.amount ?? 0, refunds, carried });
    }
    for (const x of s.extras) out.push({ ...x, outcome: 'paid', refunds: [], carried: false });
    return out;
  }

  #state(terminalId: string): TerminalState {
    let s = this.#terminals.get(terminalId);
    if (!s) {
      s = { merchantId: null, merchantName: null, rotationRequested: false, compromiseSuspected: false, lastHeartbeat: null, extras: [], dropped: new Set() };
      this.#terminals.set(terminalId, s);
    }
    return s;
  }
}

/** Final orders only: one still waiting for its customer is in no batch yet. */
function outcomeOf(o: OrderView): Outcome | undefined {
  switch (o.state) {
    case 'SUCCESS':
    case 'REFUND':
      return 'paid';
    case 'REVOKED':
      return 'reversed';
    case 'PAYERROR':
    case 'CLOSED':
      return 'declined';
    default:
      return undefined;
  }
}

function compare(terminal: TxRecord[], backend: BackendRecord[]): Discrepancy[] {
  const side = (r: { outcome: string; amount: number; refunds: Array<{ amount: number }> }) => ({ outcome: r.outcome, amount: r.amount, refunded: r.refunds.reduce((n, f) => n + f.amount, 0) });
  const b = new Map(backend.map((r) => [r.orderNo, r]));
  const out: Discrepancy[] = [];
  for (const t of terminal) {
    const other = b.get(t.orderNo);
    b.delete(t.orderNo);
    const mine = side(t);
    if (!other) {
      // A declined payment the backend never saw moved no money: not a discrepancy.
      if (t.outcome !== 'declined') out.push({ orderNo: t.orderNo, wallet: t.wallet, kind: 'missing-at-backend', terminal: mine, backend: null });
      continue;
    }
    const theirs = side(other);
    const kind = mine.outcome !== theirs.outcome ? 'outcome-differs' : mine.amount !== theirs.amount ? 'amount-differs' : mine.refunded !== theirs.refunded ? 'refund-differs' : undefined;
    if (kind) out.push({ orderNo: t.orderNo, wallet: t.wallet, kind, terminal: mine, backend: theirs });
  }
  for (const r of b.values()) {
    if (r.outcome !== 'declined') out.push({ orderNo: r.orderNo, wallet: r.wallet, kind: 'missing-at-terminal', terminal: null, backend: side(r) });
  }
  return out;
}
