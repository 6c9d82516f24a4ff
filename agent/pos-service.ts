/**
 * What the POS API does, over the lanes and the engine: create, find, list, cancel and
 * refund payments by the POS's order id, and one stream of events in POS words. Every
 * decision that must not race (is this order id new? is the lane free?) is taken
 * synchronously, so concurrent requests are served one after the other.
 */
import { checkAmount } from './amount.ts';
import { randomId } from './random-id.ts';
import { Emitter } from '../drivers/source.ts';
import { ScanpayError } from './errors.ts';
import type { Clock } from './clock.ts';
import { Lane, type LaneEvent } from './lane.ts';
import type { Logger } from './log.ts';
import type { PaymentEngine, RefundView } from './payment/engine.ts';
import { fromEngine, type PosPayment } from './pos-payment.ts';

export interface CreatePayment {
  lane?: string | undefined;
  id?: string | undefined;
  amount: number;
  currency?: string | undefined;
  description?: string | undefined;
  paymentCode?: string | undefined;
}

export type PosEvent = LaneEvent | { type: 'scanner'; lane: string; source: string; status: string; at: number; errorCode?: string; message?: string };

export interface PosServiceDeps {
  engine: Pick<PaymentEngine, 'pay' | 'get' | 'find' | 'list' | 'unfinished' | 'cancel' | 'refund' | 'refunds' | 'onChange' | 'maxAmount'>;
  laneIds: string[];
  /** The acquirer order number of a POS order id, from the journal. */
  orderNoOf: (posOrderId: string) => string | undefined;
  currency: string;
  scanTimeoutMs: number;
  /** Whether a lane has any scanner configured; a lane without one takes only payments that bring their code. */
  hasScanner?: (lane: string) => boolean;
  clock: Clock;
  logger: Logger;
}

export class PosService {
  readonly #d: PosServiceDeps;
  readonly #lanes = new Map<string, Lane>();
  readonly #events = new Emitter<{ event: PosEvent }>();
  /** Open connections of the clients that create payments and wait for them, by POS id. */
  readonly #holders = new Map<string, number>();

  constructor(deps: PosServiceDeps) {
    this.#d = deps;
    const emit = (e: LaneEvent) => this.#events.emit('event', e);
    for (const id of deps.laneIds) this.#lanes.set(id, new Lane({ id, engine: deps.engine, clock: deps.clock, logger: deps.logger, scanTimeoutMs: deps.scanTimeoutMs, emit, hasScanner: () => deps.hasScanner?.(id) ?? true }));
    deps.engine.onChange((v) => {
      // Freed before the POS hears the end: its next payment on this lane finds it free without reading the journal.
      if (v.outcome !== null && v.lane !== null) this.#lanes.get(v.lane)?.ended(v.orderNo);
      this.#events.emit('event', { type: 'payment', payment: fromEngine(v) });
    });
    // After a restart each lane holds its unfinished payment again: no second one beside it.
    for (const v of deps.engine.unfinished()) {
      if (v.lane === null) continue;
      const lane = this.#lanes.get(v.lane);
      if (lane) lane.restore(v.orderNo);
      else deps.logger.warn({ orderNo: v.orderNo, lane: v.lane }, 'unfinished payment of a lane no longer configured: it goes on, on no lane');
    }
  }

  onEvent(listener: (e: PosEvent) => void): () => void {
    return this.#events.on('event', listener);
  }

  laneIds(): string[] {
    return [...this.#lanes.keys()];
  }

  /** The lane scans from its scanners go to. */
  lane(id: string): Lane | undefined {
    return this.#lanes.get(id);
  }

  /** A scanner connected, went away or failed: shown to the POS so the cashier knows why scans do not arrive. */
  reportScanner(e: Extract<PosEvent, { type: 'scanner' }>): void {
    this.#events.emit('event', e);
  }

  /** On shutdown: payments waiting for a scan end (nothing was sent). */
  stop(): void {
    for (const lane of this.#lanes.values()) lane.stop();
  }

  /** Idempotent by the POS order id: the same id with the same details returns the same payment. */
  create(req: CreatePayment): { payment: PosPayment; created: boolean } {
    const currency = req.currency ?? this.#d.currency;
    // The engine's limit, the policy in force (config.json, then the acquirer's parameters): one source.
    checkAmount(req.amount, this.#d.engine.maxAmount);
    const description = req.description ?? '';
    if (req.id !== undefined) {
      const existing = this.#find(req.id);
      if (existing) {
        const same = existing.amount === req.amount && existing.currency === currency && existing.description === description;
        if (!same) throw new ScanpayError('PAY_ORDER_ID_CONFLICT', { detail: { id: req.id } });
        return { payment: existing, created: false };
      }
    }
    const lane = this.#lane(req.lane);
    const id = req.id ?? `P${Date.now().toString(36)}${randomId(4, 'hex')}`;
    return { payment: lane.create({ id, amount: req.amount, currency, description, paymentCode: req.paymentCode }), created: true };
  }

  get(id: string): PosPayment {
    const p = this.#find(id);
    if (!p) throw new ScanpayError('PAY_NOT_FOUND', { message: `no payment with id ${id}`, detail: { id } });
    return p;
  }

  /** Payments created since `since` (epoch ms), newest first. */
  list(since: number, limit: number): PosPayment[] {
    const started = this.#d.engine.list({ since, limit }).map((v) => fromEngine(v));
    const inLanes = [...this.#lanes.values()].flatMap((l) => l.known()).filter((p) => p.createdAt >= since);
    return [...started, ...inLanes].sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  }

  /**
   * The client creating payment `id` (e.g. `scanpay pay`) keeps a connection open while it
   * waits; call the returned function when that connection closes. When the last one
   * closes, the client is gone (killed, crashed, gave up): a payment of its that has sent
   * nothing yet ends at once, not charged, and frees its lane instead of holding it until
   * the scan timeout. One that may have reached the acquirer goes on to its own end.
   */
  holdWhileOpen(id: string): () => void {
    this.#holders.set(id, (this.#holders.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#holders.get(id) ?? 1) - 1;
      if (left > 0) return void this.#holders.set(id, left);
      this.#holders.delete(id);
      this.#creatorGone(id);
    };
  }

  #creatorGone(id: string): void {
    const why = 'the client that created it went away before anything was sent';
    for (const lane of this.#lanes.values()) if (lane.cancelWaiting(id, why)) return;
    const p = this.#find(id);
    // Waiting for the network: provably nothing reached the acquirer, so the cancel declines it at once.
    if (p?.orderNo && p.result === null && p.state === 'waiting_network') {
      this.#d.logger.info({ posOrderId: id, orderNo: p.orderNo }, `${why}: cancelled`);
      this.#d.engine.cancel(p.orderNo);
    }
  }

  /** Cancels a payment: one waiting for its scan simply ends; one under way is reversed if it may have charged. */
  cancel(id: string): PosPayment {
    for (const lane of this.#lanes.values()) {
      const ended = lane.cancelWaiting(id);
      if (ended) return ended;
    }
    const p = this.get(id);
    if (p.orderNo === null) throw new ScanpayError('PAY_ALREADY_FINAL', { detail: { id, result: p.result } });
    return fromEngine(this.#d.engine.cancel(p.orderNo));
  }

  async refund(id: string, req: { refundId: string; amount?: number | undefined }): Promise<RefundView> {
    const orderNo = this.#requireOrderNo(id);
    return this.#d.engine.refund(orderNo, req.amount === undefined ? { refundId: req.refundId } : { refundId: req.refundId, amount: req.amount });
  }

  refunds(id: string): RefundView[] {
    return this.#d.engine.refunds(this.#requireOrderNo(id));
  }

  #requireOrderNo(id: string): string {
    const p = this.get(id);
    if (p.orderNo === null) throw new ScanpayError('PAY_NOT_REFUNDABLE', { message: 'this payment was never charged: nothing to refund', detail: { id } });
    return p.orderNo;
  }

  #lane(id: string | undefined): Lane {
    const lane = id === undefined ? this.#lanes.values().next().value : this.#lanes.get(id);
    if (!lane) throw new ScanpayError('API_LANE_UNKNOWN', { message: `no lane "${id}": configured lanes are ${this.laneIds().join(', ')}`, detail: { lane: id } });
    return lane;
  }

  /** By POS order id first; an acquirer order number works too (what a receipt shows). */
  #find(id: string): PosPayment | undefined {
    for (const lane of this.#lanes.values()) {
      const p = lane.find(id);
      if (p) return p;
    }
    const v = this.#d.engine.find(this.#d.orderNoOf(id) ?? id);
    return v && fromEngine(v);
  }
}
