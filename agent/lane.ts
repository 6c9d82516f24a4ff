/**
 * One checkout lane: at most one active payment, and the scanner(s) that feed it.
 *
 * A payment the POS created without a code waits here, in memory, for its scan: nothing
 * has been written or sent yet, so there is nothing to lose if the agent stops. The scan
 * hands it to the engine (journal first, then the backend); from then on the journal is
 * the truth. A scan that is not a payment code is refused with the reason and the lane
 * keeps waiting; a scan with no payment waiting is reported, never silently dropped.
 */
import type { Clock } from './clock.ts';
import { ScanpayError, isScanpayError } from './errors.ts';
import type { Logger } from './log.ts';
import { describeCode, maskCode } from './payment-code.ts';
import type { PaymentRequest, PaymentView } from './payment/engine.ts';
import { fromEngine, statusWords, type PosPayment } from './pos-payment.ts';

/** The part of the payment engine a lane uses. */
export interface LaneEngine {
  pay(req: PaymentRequest): PaymentView;
  get(orderNo: string): PaymentView;
}

export interface NewPosPayment {
  id: string;
  amount: number;
  currency: string;
  description: string;
  paymentCode?: string | undefined;
}

export type LaneEvent =
  | { type: 'payment'; payment: PosPayment }
  | { type: 'scan_unmatched'; lane: string; source: string; code: string; what: string; at: number };

export type ScanResult = 'accepted' | 'rejected' | 'unmatched';

/** Payments cancelled before their scan that `find` still answers for (they are in no journal). */
const ENDED_KEPT = 200;

export class Lane {
  readonly id: string;
  readonly #engine: LaneEngine;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #scanTimeoutMs: number;
  readonly #emit: (e: LaneEvent) => void;
  #waiting: { payment: PosPayment; timer: unknown } | undefined;
  #activeOrderNo: string | undefined;
  readonly #ended = new Map<string, PosPayment>();

  readonly #hasScanner: () => boolean;

  constructor(deps: { id: string; engine: LaneEngine; clock: Clock; logger: Logger; scanTimeoutMs: number; emit: (e: LaneEvent) => void; hasScanner?: () => boolean }) {
    this.id = deps.id;
    this.#hasScanner = deps.hasScanner ?? (() => true);
    this.#engine = deps.engine;
    this.#clock = deps.clock;
    this.#log = deps.logger;
    this.#scanTimeoutMs = deps.scanTimeoutMs;
    this.#emit = deps.emit;
  }

  /** The POS id of the payment that holds the lane: waiting for its scan, or under way in the engine. */
  activeId(): string | undefined {
    if (this.#waiting) return this.#waiting.payment.id;
    if (this.#activeOrderNo === undefined) return undefined;
    const v = this.#engine.get(this.#activeOrderNo);
    if (v.outcome !== null) {
      this.#activeOrderNo = undefined;
      return undefined;
    }
    return v.posOrderId ?? v.orderNo;
  }

  /** The engine told its end (paid shown only once synced): the lane is free again. */
  ended(orderNo: string): void {
    if (this.#activeOrderNo === orderNo) this.#activeOrderNo = undefined;
  }

  /** After a restart: the engine resumed this lane's unfinished payment, so the lane holds it again. */
  restore(orderNo: string): void {
    this.#activeOrderNo ??= orderNo;
  }

  /** A payment only this lane knows: waiting for its scan, or cancelled before it. */
  find(id: string): PosPayment | undefined {
    return this.#waiting?.payment.id === id ? this.#waiting.payment : this.#ended.get(id);
  }

  /** Payments only this lane knows, for listings. */
  known(): PosPayment[] {
    return [...(this.#waiting ? [this.#waiting.payment] : []), ...this.#ended.values()];
  }

  /**
   * Starts a payment with a POS id the caller has checked is new. With a code (the POS
   * scanned it itself) it goes straight to the engine; without, it waits for a scan.
   * Synchronous, so two requests cannot both find the lane free.
   */
  create(req: NewPosPayment): PosPayment {
    const active = this.activeId();
    if (active !== undefined) {
      throw new ScanpayError('API_PAYMENT_ACTIVE', { message: `payment ${active} is still active on lane ${this.id}: wait for it to end or cancel it`, detail: { lane: this.id, activeId: active } });
    }
    if (req.paymentCode !== undefined) return fromEngine(this.#submit(req, req.paymentCode));
    // Nothing could ever scan it: say so now instead of holding the lane until the scan timeout.
    if (!this.#hasScanner()) throw new ScanpayError('API_LANE_NO_SCANNER', { message: `lane ${this.id} has no scanner: send the payment code with the payment`, detail: { lane: this.id } });
    const now = this.#clock.now();
    const payment = this.#withWords({
      id: req.id,
      orderNo: null,
      lane: this.id,
      amount: req.amount,
      currency: req.currency,
      description: req.description,
      state: 'waiting_scan',
      result: null,
      reasonCode: null,
      reasonMessage: null,
      rejection: null,
      wallet: null,
      code: null,
      traceId: null,
      customerPaying: false,
      createdAt: now,
      updatedAt: now,
      finalAt: null,
      deadlineAt: now + this.#scanTimeoutMs,
      refundedAmount: 0,
      alarms: [],
    });
    const timer = this.#clock.setTimeout(() => this.#endWaiting('SCAN_TIMEOUT', 'no payment code was scanned in time'), this.#scanTimeoutMs);
    this.#waiting = { payment, timer };
    this.#log.info({ lane: this.id, posOrderId: req.id, amount: req.amount }, 'payment waiting for scan');
    this.#emit({ type: 'payment', payment });
    return payment;
  }

  /** A clean scan from one of the lane's scanners. */
  scan(text: string, source: string): ScanResult {
    const waiting = this.#waiting;
    if (!waiting) {
      this.#unmatched(source, maskCode(text), describeCode(text));
      return 'unmatched';
    }
    const p = waiting.payment;
    try {
      this.#submit({ id: p.id, amount: p.amount, currency: p.currency, description: p.description }, text);
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      this.#rejectWhileWaiting(e, source);
      return 'rejected';
    }
    return 'accepted';
  }

  /** A frame the scanner manager refused (too long, control characters). */
  scanRejected(error: ScanpayError, source: string): void {
    if (this.#waiting) this.#rejectWhileWaiting(error, source);
    else this.#unmatched(source, String(error.detail?.scan ?? ''), error.message);
  }

  /** Cancels the payment waiting for its scan; undefined when `id` is not waiting here. */
  cancelWaiting(id: string, why = 'cancelled before the code was scanned'): PosPayment | undefined {
    if (this.#waiting?.payment.id !== id) return undefined;
    return this.#endWaiting('CANCELLED', why);
  }

  /** On shutdown: a waiting payment ends (nothing was sent); engine payments resume from the journal. */
  stop(): void {
    if (this.#waiting) this.#endWaiting('SHUTDOWN', 'the agent stopped before the code was scanned');
  }

  #submit(req: NewPosPayment, code: string): PaymentView {
    const view = this.#engine.pay({ amount: req.amount, currency: req.currency, paymentCode: code, description: req.description, posOrderId: req.id, lane: this.id });
    // The engine took it (the journal holds it): the lane no longer does.
    if (this.#waiting) {
      this.#clock.clearTimeout(this.#waiting.timer);
      this.#waiting = undefined;
    }
    this.#activeOrderNo = view.orderNo;
    return view;
  }

  #rejectWhileWaiting(error: ScanpayError, source: string): void {
    const waiting = this.#waiting!;
    waiting.payment = this.#withWords({ ...waiting.payment, rejection: { code: error.code, message: error.message }, updatedAt: this.#clock.now() });
    this.#log.warn({ lane: this.id, source, posOrderId: waiting.payment.id, errorCode: error.code, ...error.detail }, `scan rejected: ${error.message}`);
    this.#emit({ type: 'payment', payment: waiting.payment });
  }

  #unmatched(source: string, code: string, what: string): void {
    this.#log.warn({ lane: this.id, source, codeMasked: code, what }, 'scan with no payment waiting: ignored');
    this.#emit({ type: 'scan_unmatched', lane: this.id, source, code, what, at: this.#clock.now() });
  }

  #endWaiting(reasonCode: string, reasonMessage: string): PosPayment {
    const waiting = this.#waiting!;
    this.#clock.clearTimeout(waiting.timer);
    this.#waiting = undefined;
    const now = this.#clock.now();
    const ended = this.#withWords({ ...waiting.payment, state: 'cancelled', result: 'not_charged', reasonCode, reasonMessage, deadlineAt: null, updatedAt: now, finalAt: now });
    this.#ended.set(ended.id, ended);
    if (this.#ended.size > ENDED_KEPT) this.#ended.delete(this.#ended.keys().next().value!);
    this.#log.info({ lane: this.id, posOrderId: ended.id, reasonCode }, 'payment ended before its scan: not charged');
    this.#emit({ type: 'payment', payment: ended });
    return ended;
  }

  #withWords(p: Omit<PosPayment, 'status'>): PosPayment {
    return { ...p, status: statusWords(p) };
  }
}
