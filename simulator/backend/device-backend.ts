/**
 * The acquirer's side of device management, as the simulated backend plays it:
 * activation codes, the parameter set, heartbeats, key rotation, transaction records and
 * end-of-day settlement. Pure state over the clock; device-routes.ts puts it on HTTP.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { DEFAULT_DEVICE_PARAMS } from '../../agent/params.ts';
import {
  activationId,
  sameTotals,
  totalsOf,
  type Discrepancy,
  type HeartbeatRequest,
  type ParamsEnvelope,
  type SettleRequest,
  type SettleResponse,
  type TxRecord,
} from '../../agent/protocol/device-messages.ts';
import type { OrderView } from './wallet-model.ts';
import type { LedgerEntry } from './ledger.ts';
import type { TerminalRegistry } from './terminal-registry.ts';

export const DEVICE_DEFAULTS = {
  activationCodeTtlMs: 24 * 3600_000,
  /** How long a rotated-out key is still accepted: covers requests already on their way. */
  keyGraceMs: 10 * 60_000,
} as const;

interface ActivationCode {
  code: string;
  merchantId: string;
  merchantName: string;
  expiresAt: number;
  /** Set by the first activation; a repeat (its answer was lost) gets the same identity. */
  issued?: { terminalId: string; key: Buffer };
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
  orders(): OrderView[];
  ledger(): LedgerEntry[];
}

export interface TerminalStatus {
  terminalId: string;
  merchantId: string | null;
  keyVersion: number;
  rotationRequested: boolean;
  lastHeartbeat: (HeartbeatRequest & { receivedAt: number }) | null;
  settledBatches: string[];
}

export type SettlementChange = { kind: 'drop'; orderNo: string } | { kind: 'extra'; orderNo: string; wallet: string; amount: number };

interface TerminalState {
  merchantId: string | null;
  rotationRequested: boolean;
  /** A rotation answered but not yet used: a repeated request (answer lost) gets the same key. */
  pendingKey?: { key: Buffer; version: number; oldKeyValidUntil: number };
  lastHeartbeat: (HeartbeatRequest & { receivedAt: number }) | null;
  uploads: Map<string, TxRecord>;
  settledOrders: Set<string>;
  settledRefunds: Set<string>;
  /** Final settlement answers by batch: a repeated settle gets the same one. */
  batches: Map<string, SettleResponse>;
  /** QA changes to what the backend believes (changeSettlement). */
  extras: Array<{ orderNo: string; wallet: string; amount: number }>;
  dropped: Set<string>;
}

export class DeviceBackend {
  readonly #clock: Clock;
  readonly #registry: TerminalRegistry;
  readonly #book: PaymentBook;
  readonly #codes = new Map<string, ActivationCode>();
  readonly #terminals = new Map<string, TerminalState>();
  #params: ParamsEnvelope = { ...DEFAULT_DEVICE_PARAMS };
  #nextTerminal = 1_000_001;

  constructor(o: { clock: Clock; registry: TerminalRegistry; book: PaymentBook }) {
    this.#clock = o.clock;
    this.#registry = o.registry;
    this.#book = o.book;
  }

  // ---- activation ----------------------------------------------------------------

  issueActivationCode(o: { merchantName?: string; ttlMs?: number } = {}): { code: string; merchantId: string; expiresAt: number } {
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    const group = () => Array.from({ length: 4 }, () => alphabet[randomInt(alphabet.length)]).join('');
    const code = `${group()}-${group()}-${group()}`;
    const merchantId = `M${String(randomInt(1_000_000, 9_999_999))}`;
    const entry = { code, merchantId, merchantName: o.merchantName ?? 'Simulated shop', expiresAt: this.#clock.now() + (o.ttlMs ?? DEVICE_DEFAULTS.activationCodeTtlMs) };
    this.#codes.set(activationId(code), entry);
    return { code, merchantId, expiresAt: entry.expiresAt };
  }

  /** The code behind an activation id, if it is still valid. */
  activationCode(id: string): string | undefined {
    const c = this.#codes.get(id);
    return c && c.expiresAt > this.#clock.now() ? c.code : undefined;
  }

  activate(id: string): { terminalId: string; key: Buffer; merchantId: string; merchantName: string; params: ParamsEnvelope } {
    const c = this.#codes.get(id);
    if (!c) throw new ScanpayError('PROTO_UNKNOWN_TERMINAL', { message: 'unknown activation code' });
    if (!c.issued) {
      c.issued = { terminalId: `T${this.#nextTerminal++}`, key: randomBytes(32) };
      this.#registry.add(c.issued.terminalId, c.issued.key);
      this.#state(c.issued.terminalId).merchantId = c.merchantId;
    }
    return { ...c.issued, merchantId: c.merchantId, merchantName: c.merchantName, params: this.#params };
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
    // Still on the old key with a new one issued: the rotation's answer was lost, ask again.
    return { result: 'OK', serverTime: this.#clock.now(), paramsVersion: this.#params.version, rotateKey: s.rotationRequested || s.pendingKey !== undefined };
  }

  requestRotation(terminalId: string): void {
    if (!this.#registry.has(terminalId)) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `no terminal ${terminalId}` });
    this.#state(terminalId).rotationRequested = true;
  }

  /** The rotation a terminal asked for, signed with `usedKey`. */
  rotate(terminalId: string, usedKey: Buffer): { key: Buffer; version: number; oldKeyValidUntil: number } {
    const s = this.#state(terminalId);
    // Signed with the old key while a new one waits: the answer was lost, send it again.
    if (s.pendingKey && !s.pendingKey.key.equals(usedKey)) return s.pendingKey;
    const key = randomBytes(32);
    const { version, oldKeyValidUntil } = this.#registry.rotate(terminalId, key, DEVICE_DEFAULTS.keyGraceMs);
    s.pendingKey = { key, version, oldKeyValidUntil };
    s.rotationRequested = false;
    return s.pendingKey;
  }

  /** Told of every verified request: once the new key is used, the rotation is complete. */
  keyUsed(terminalId: string, key: Buffer): void {
    const s = this.#terminals.get(terminalId);
    if (s?.pendingKey?.key.equals(key)) delete s.pendingKey;
  }

  // ---- records and settlement ----------------------------------------------------

  upload(terminalId: string, records: TxRecord[]): number {
    const s = this.#state(terminalId);
    for (const r of records) s.uploads.set(r.orderNo, r);
    return records.length;
  }

  uploaded(terminalId: string): TxRecord[] {
    return [...this.#state(terminalId).uploads.values()];
  }

  /** QA: makes this backend's settlement records differ from what happened. */
  changeSettlement(terminalId: string, change: SettlementChange): void {
    const s = this.#state(terminalId);
    if (change.kind === 'drop') s.dropped.add(change.orderNo);
    else s.extras.push({ orderNo: change.orderNo, wallet: change.wallet, amount: change.amount });
  }

  settle(terminalId: string, req: SettleRequest): SettleResponse {
    const s = this.#state(terminalId);
    const done = s.batches.get(req.batchNo);
    if (done) return done;
    const records = this.#unsettled(terminalId);
    const backendTotals = totalsOf(records);
    if (sameTotals(req.totals, backendTotals)) return this.#close(s, req.batchNo, records, { result: 'MATCHED', batchNo: req.batchNo });
    if (!req.detailUploaded) return { result: 'DETAIL_REQUIRED', batchNo: req.batchNo, backendTotals };
    const detail = [...s.uploads.values()].filter((r) => r.batchNo === req.batchNo);
    return this.#close(s, req.batchNo, records, { result: 'MISMATCH', batchNo: req.batchNo, backendTotals, discrepancies: compare(detail, records) });
  }

  terminals(): TerminalStatus[] {
    return this.#registry.ids().map((id) => {
      const s = this.#state(id);
      return { terminalId: id, merchantId: s.merchantId, keyVersion: this.#registry.keyVersion(id), rotationRequested: s.rotationRequested, lastHeartbeat: s.lastHeartbeat, settledBatches: [...s.batches.keys()] };
    });
  }

  #close(s: TerminalState, batchNo: string, records: BackendRecord[], answer: SettleResponse): SettleResponse {
    for (const r of records) {
      s.settledOrders.add(r.orderNo);
      for (const f of r.refunds) s.settledRefunds.add(f.refundNo);
    }
    s.extras = s.extras.filter((x) => !records.some((r) => r.orderNo === x.orderNo));
    s.batches.set(batchNo, answer);
    return answer;
  }

  /** This terminal's finished orders and refunds not yet in a settled batch, as the backend sees them. */
  #unsettled(terminalId: string): BackendRecord[] {
    const s = this.#state(terminalId);
    const mine = this.#registry.ordersOf(terminalId);
    const refunds = new Map<string, Array<{ refundNo: string; amount: number }>>();
    for (const e of this.#book.ledger()) {
      if (e.kind !== 'refund' || !e.refundNo || !mine.has(e.orderNo) || s.settledRefunds.has(e.refundNo)) continue;
      refunds.set(e.orderNo, [...(refunds.get(e.orderNo) ?? []), { refundNo: e.refundNo, amount: e.amount }]);
    }
    const out: BackendRecord[] = [];
    for (const o of this.#book.orders()) {
      if (!mine.has(o.orderNo) || s.dropped.has(o.orderNo)) continue;
      const outcome = outcomeOf(o);
      const carried = s.settledOrders.has(o.orderNo);
      if (!outcome || (carried && !refunds.has(o.orderNo))) continue;
      out.push({ orderNo: o.orderNo, wallet: o.wallet ?? 'unknown', outcome, amount: o.amount ?? 0, refunds: refunds.get(o.orderNo) ?? [], carried });
    }
    for (const x of s.extras) out.push({ ...x, outcome: 'paid', refunds: [], carried: false });
    return out;
  }

  #state(terminalId: string): TerminalState {
    let s = this.#terminals.get(terminalId);
    if (!s) {
      s = { merchantId: null, rotationRequested: false, lastHeartbeat: null, uploads: new Map(), settledOrders: new Set(), settledRefunds: new Set(), batches: new Map(), extras: [], dropped: new Set() };
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
