/**
 * The payment engine: binds the pure payment machine to the journal, the acquirer and the
 * clock, starts payments, resumes unfinished ones after a restart, and runs the outbox.
 *
 * Money-safety rules enforced here:
 * 1. every request is preceded by a durable journal write (the actors write, then call);
 * 2. no answer is unknown, and unknown is queried, then reversed, never declined;
 * 4. one order number per payment for every retry, query and reversal; a code is used once.
 */
import { randomBytes } from 'node:crypto';
import { createActor, fromPromise, type ActorRefFrom } from 'xstate';
import type { Acquirer } from '../backend/acquirer.ts';
import { reverseWindowEnd, SCANPAY_V1_PROFILE, type AcquirerProfile } from '../backend/acquirer-profile.ts';
import type { Clock } from '../clock.ts';
import { checkAmount } from '../amount.ts';
import { crashPoint } from '../crash-points.ts';
import { ScanpayError } from '../errors.ts';
import type { Journal, OutboxRow, PaymentRow, PaymentState, RefundRow } from '../journal/journal.ts';
import { silentLogger, type Logger } from '../log.ts';
import { OutboxWorker, type DeliveryResult, type OutboxHandler } from '../outbox/outbox-worker.ts';
import { maskCode, requirePaymentCode, type Wallet } from '../payment-code.ts';
import { payOutcome, queryOutcome, reverseOutcome, type PayOutcome, type QueryOutcome, type ReverseOutcome } from './outcomes.ts';
import { paymentMachine, type PaymentContext, type ResumeAt } from './payment.machine.ts';
import { mergeOverrides, resolveProfiles, type ProfileOverrides, type WalletProfile } from './profiles.ts';

export interface PaymentRequest {
  amount: number;
  currency?: string;
  paymentCode: string;
  description?: string;
  posOrderId?: string;
}

/** A payment as shown to a POS or a cashier: never the payment code itself. */
export interface PaymentView {
  orderNo: string;
  posOrderId: string | null;
  amount: number;
  currency: string;
  description: string;
  wallet: Wallet;
  code: string;
  traceId: string;
  state: PaymentState;
  outcome: 'paid' | 'declined' | 'reversed' | null;
  reasonCode: string | null;
  reasonMessage: string | null;
  customerPaying: boolean;
  cause: string;
  createdAt: number;
  updatedAt: number;
  finalAt: number | null;
  queryDeadlineAt: number;
  /** Minor units refunded so far (confirmed refunds only). */
  refundedAmount: number;
}

export interface RefundView {
  refundId: string;
  refundNo: string;
  orderNo: string;
  amount: number;
  state: 'pending' | 'refunded' | 'failed';
  reasonCode: string | null;
}

export type EngineListener = (payment: PaymentView) => void;

export interface EngineOptions {
  journal: Journal;
  acquirer: Acquirer;
  clock: Clock;
  terminalId: string;
  logger?: Logger;
  profiles?: ProfileOverrides;
  /**
   * What the acquirer guarantees and refuses (agent/backend/acquirer-profile.ts): read as
   * data for every reverse, query and refund-instead. Its per-wallet timings lie under
   * `profiles`. Default: protocol v1.
   */
  acquirerProfile?: AcquirerProfile;
  /** Largest amount accepted, in minor units (default 5000.00: PBOC level B daily limit). */
  maxAmount?: number;
  random?: () => number;
  outbox?: { retryBaseMs?: number; retryMaxMs?: number; maxAgeMs?: Record<string, number>; concurrency?: number };
  /** Delivery of other kinds of queued items (e.g. transaction uploads) through the same outbox. */
  outboxHandlers?: Record<string, OutboxHandler>;
}

/** What the acquirer's parameters change for new payments (agent/params.ts). */
export interface PaymentPolicy {
  profiles: ProfileOverrides;
  maxAmount: number;
  enabledWallets: readonly Wallet[];
}

type PaymentActor = ActorRefFrom<typeof paymentMachine>;

const REVERSE_KIND = 'reverse';
const REFUND_KIND = 'refund';

export class PaymentEngine {
  readonly #o: EngineOptions;
  readonly #journal: Journal;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #acquirerProfile: AcquirerProfile;
  readonly #random: () => number;
  #profiles: Record<Wallet, WalletProfile>;
  #maxAmount: number;
  #enabledWallets: ReadonlySet<Wallet> | undefined;
  readonly #live = new Map<string, PaymentActor>();
  readonly #listeners = new Set<EngineListener>();
  readonly #calls = new Set<Promise<unknown>>();
  readonly #outbox: OutboxWorker;
  #started = false;

  constructor(o: EngineOptions) {
    this.#o = o;
    this.#journal = o.journal;
    this.#clock = o.clock;
    this.#log = o.logger ?? silentLogger;
    this.#acquirerProfile = o.acquirerProfile ?? SCANPAY_V1_PROFILE;
    this.#random = o.random ?? Math.random;
    this.#profiles = resolveProfiles(mergeOverrides(this.#acquirerProfile.wallets, o.profiles));
    this.#maxAmount = o.maxAmount ?? 500_000;
    this.#outbox = new OutboxWorker({
      journal: o.journal,
      clock: o.clock,
      logger: this.#log,
      random: this.#random,
      ...o.outbox,
      handlers: {
        ...o.outboxHandlers,
        [REVERSE_KIND]: (item) => this.#deliverReversal(item),
        [REFUND_KIND]: (item) => this.#deliverRefund((JSON.parse(item.payload) as { refundNo: string }).refundNo),
      },
      onSettled: (item) => item.order_no && this.#emitRow(item.order_no),
    });
  }

  /** Resumes every unfinished payment from the journal and starts the outbox. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const row of this.#journal.unfinished()) this.#resume(row);
    this.#outbox.start();
  }

  /** Stops driving payments. Nothing is lost: the journal says where each one stands. */
  async stop(): Promise<void> {
    this.#started = false;
    for (const actor of this.#live.values()) actor.stop();
    this.#live.clear();
    await this.#outbox.stop();
    await Promise.allSettled([...this.#calls]);
  }

  onChange(listener: EngineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Accepts a payment: checks the code locally (no backend call for a product barcode or
   * a reused code), writes it to the journal, then starts it. Resolves once it is under
   * way; use `waitFinal` for the outcome.
   */
  pay(req: PaymentRequest): PaymentView {
    if (!this.#started) throw new Error('payment engine not started');
    const { code, wallet } = requirePaymentCode(req.paymentCode);
    if (this.#enabledWallets && !this.#enabledWallets.has(wallet)) throw new ScanpayError('PAY_WALLET_DISABLED', { detail: { wallet } });
    checkAmount(req.amount, this.#maxAmount);
    const currency = req.currency ?? 'CNY';
    if (!/^[A-Z]{3}$/.test(currency)) throw new ScanpayError('PAY_CURRENCY_INVALID', { detail: { currency } });
    const profile = this.#profiles[wallet];
    const now = this.#clock.now();
    const { row, created } = this.#journal.createPayment({
      orderNo: this.#newOrderNo(now),
      posOrderId: req.posOrderId,
      amount: req.amount,
      currency,
      description: req.description ?? '',
      wallet,
      code,
      codeMasked: maskCode(code),
      traceId: randomBytes(8).toString('hex'),
      createdAt: now,
      codeExpiresAt: now + profile.codeTtlMs,
      queryDeadlineAt: now + profile.queryDeadlineMs,
    });
    this.#log.info({ orderNo: row.order_no, traceId: row.trace_id, wallet, amount: row.amount, codeMasked: row.code_masked, created }, created ? 'payment accepted' : 'payment already known for this POS order id');
    if (created) this.#run(row, 'submit', 0);
    return this.#view(row);
  }

  /**
   * Applies new parameters without a restart: payments accepted from now on use them;
   * payments under way keep the timings they started with. Throws (and changes nothing)
   * when the profiles do not validate.
   */
  applyPolicy(p: PaymentPolicy): void {
    // Field by field: the backend's values win over config.json's for the fields it sets.
    this.#profiles = resolveProfiles(mergeOverrides(mergeOverrides(this.#acquirerProfile.wallets, this.#o.profiles), p.profiles));
    this.#maxAmount = p.maxAmount;
    this.#enabledWallets = new Set(p.enabledWallets);
  }

  /** The largest amount accepted now, in minor units: the policy in force, the one limit the POS API checks too. */
  get maxAmount(): number {
    return this.#maxAmount;
  }

  /** Queues an item for one of the outbox handlers and looks for due items at once. */
  enqueue(item: { kind: string; orderNo?: string; dedupeKey: string; payload: unknown; at: number }): OutboxRow {
    const row = this.#journal.enqueue(item);
    this.#outbox.kick();
    return row;
  }

  /** Picks up items made due from outside (a technician's `scanpay queue retry` in another process). */
  kickOutbox(): void {
    this.#outbox.kick();
  }

  /** Cancels a payment: one that may have charged the customer is reversed. */
  cancel(orderNo: string): PaymentView {
    const row = this.#require(orderNo);
    if (row.outcome) throw new ScanpayError('PAY_ALREADY_FINAL', { detail: { orderNo, outcome: row.outcome } });
    if (!row.cancel_requested) this.#journal.transition(orderNo, row.state, this.#clock.now(), 'cancel requested', { cancel_requested: 1 });
    this.#live.get(orderNo)?.send({ type: 'CANCEL' });
    return this.get(orderNo);
  }

  /**
   * Refunds a paid payment, fully or in part. Idempotent by the POS's refund id: the same
   * id returns the same refund. Written to the journal and the outbox before it is sent,
   * so a refund whose answer is lost is retried (same refund number) until answered.
   */
  async refund(orderNo: string, req: { refundId: string; amount?: number }): Promise<RefundView> {
    const payment = this.#require(orderNo);
    const existing = this.#journal.getRefund(req.refundId);
    if (existing) {
      if (existing.order_no !== orderNo || (req.amount !== undefined && req.amount !== existing.amount)) {
        throw new ScanpayError('PAY_REFUND_CONFLICT', { detail: { refundId: req.refundId } });
      }
      return this.#refundView(existing);
    }
    const amount = req.amount ?? payment.amount - this.#refunded(orderNo, true);
    if (req.amount === undefined && amount <= 0) throw new ScanpayError('PAY_REFUND_EXCEEDS', { detail: { orderNo } });
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      throw new ScanpayError('PAY_AMOUNT_INVALID', { message: 'refund amount must be a positive integer of minor units', detail: { amount } });
    }
    const now = this.#clock.now();
    const retryBase = this.#o.outbox?.retryBaseMs ?? 1_000;
    const { row, item } = this.#journal.atomically(() => {
      const { row, created } = this.#journal.createRefund({ refundNo: `RF${randomBytes(10).toString('hex')}`, posRefundId: req.refundId, orderNo, amount, at: now });
      // Due a little later: the first attempt is made right here, not raced by the outbox.
      const item = created ? this.#journal.enqueue({ kind: REFUND_KIND, orderNo, dedupeKey: `${REFUND_KIND}:${row.refund_no}`, payload: { refundNo: row.refund_no }, at: now + retryBase }) : undefined;
      return { row, item };
    });
    if (item) {
      const result = await this.#deliverRefund(row.refund_no);
      if (result.kind === 'done') this.#journal.outboxDone(item.id, this.#clock.now());
      else this.#outbox.kick();
      this.#emitRow(orderNo);
    }
    return this.#refundView(this.#journal.getRefundByNo(row.refund_no)!);
  }

  refunds(orderNo: string): RefundView[] {
    return this.#journal.refundsOf(orderNo).map((r) => this.#refundView(r));
  }

  get(orderNo: string): PaymentView {
    return this.#view(this.#require(orderNo));
  }

  list(options: { since?: number; limit?: number } = {}): PaymentView[] {
    return this.#journal.listPayments(options).map((r) => this.#view(r));
  }

  /** Resolves when the payment is paid, declined or reversed. */
  waitFinal(orderNo: string): Promise<PaymentView> {
    return this.waitFor(orderNo, (p) => p.outcome !== null);
  }

  waitFor(orderNo: string, until: (p: PaymentView) => boolean): Promise<PaymentView> {
    const now = this.get(orderNo);
    if (until(now)) return Promise.resolve(now);
    return new Promise((resolve) => {
      const off = this.onChange((p) => {
        if (p.orderNo === orderNo && until(p)) {
          off();
          resolve(p);
        }
      });
    });
  }

  /** Resolves when no backend call or outbox delivery is under way (for tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.#calls.size === 0 && this.#outbox.busy === 0) {
        await new Promise((r) => setImmediate(r));
        if (this.#calls.size === 0 && this.#outbox.busy === 0) return;
      }
      await Promise.allSettled([...this.#calls, this.#outbox.whenIdle()]);
    }
  }

  /** Technician's retry of an outbox item, dead or waiting. */
  retryOutbox(id: number): boolean {
    const ok = this.#journal.outboxRetryNow(id, this.#clock.now());
    this.#outbox.kick();
    return ok;
  }

  // ---- driving payments ------------------------------------------------------------

  /** Where a payment found unfinished in the journal goes on; the wait it was in (`next_action_at`) is kept. */
  #resume(row: PaymentRow): void {
    const now = this.#clock.now();
    const waitLeft = Math.max(0, (row.next_action_at ?? now) - now);
    switch (row.state) {
      case 'reversal_queued':
        // The outbox holds the reversal; make sure it does (enqueue is idempotent).
        this.#enqueueReversal(row.order_no, now);
        return;
      case 'reversing':
        return this.#run(row, 'reverse', 0);
      case 'querying':
        return this.#run(row, 'query', waitLeft);
      case 'submitting':
      case 'waiting_network': {
        if (row.pay_in_flight) {
          // Killed while a pay was on its way: it may have arrived.
          this.#journal.afterPayAttempt(row.order_no, now, true, 'recovered: pay may have arrived before the restart');
          return this.#run(row, 'query', 0);
        }
        if (row.maybe_sent) return this.#run(row, 'query', 0);
        if (row.cancel_requested || now >= row.code_expires_at) {
          this.#journal.finish(row.order_no, 'declined', now, 'recovered: never sent', {
            reason_code: row.cancel_requested ? 'CANCELLED' : 'NOT_SENT',
            reason_message: 'the payment never reached the backend; the customer was not charged',
          });
          this.#emitRow(row.order_no);
          return;
        }
        if (row.state === 'waiting_network') return this.#run(row, 'waitNetwork', Math.min(waitLeft, row.code_expires_at - now));
        return this.#run(row, 'submit', 0);
      }
      default:
        this.#log.error({ orderNo: row.order_no, state: row.state }, 'unfinished payment in an unexpected state');
    }
  }

  #run(row: PaymentRow, resume: ResumeAt, waitMs: number): void {
    const profile = this.#profiles[row.wallet];
    const machine = paymentMachine.provide({
      actors: {
        pay: fromPromise<PayOutcome, { orderNo: string }>(({ input }) => this.#track(this.#payOnce(input.orderNo))),
        query: fromPromise<QueryOutcome, { orderNo: string }>(({ input }) => this.#track(this.#queryOnce(input.orderNo))),
        reverse: fromPromise<ReverseOutcome, { orderNo: string }>(({ input }) => this.#track(this.#reverseOnce(input.orderNo))),
      },
      actions: {
        record: ({ context }, params) => this.#record(context, params.state),
      },
    });
    const actor = createActor(machine, {
      clock: this.#clock,
      input: {
        orderNo: row.order_no,
        profile,
        codeExpiresAt: row.code_expires_at,
        queryDeadlineAt: row.query_deadline_at,
        queriesDone: row.query_count,
        reverseAttempts: row.reverse_attempts,
        cancelRequested: row.cancel_requested === 1,
        resume,
        waitMs,
        unseenReverseIsFinal: this.#acquirerProfile.unseenReverseIsFinal,
        acquirerClosesAt: this.#closesAt(row),
        random: this.#random,
      },
    });
    this.#live.set(row.order_no, actor);
    actor.subscribe({
      complete: () => this.#live.delete(row.order_no),
      error: (err) => {
        // Our own code failed (e.g. the journal could not be written). The journal still
        // says where the payment stood: drive it again from there after a pause.
        this.#live.delete(row.order_no);
        this.#log.error({ orderNo: row.order_no, err }, 'payment actor failed; resuming from the journal');
        this.#clock.setTimeout(() => {
          // Stopped meanwhile: the journal may already be closed.
          if (!this.#started) return;
          const again = this.#journal.getPayment(row.order_no);
          if (again && !again.outcome && !this.#live.has(row.order_no)) this.#resume(again);
        }, profile.networkRetryMs);
      },
    });
    actor.start();
  }

  #record(ctx: PaymentContext, state: PaymentState): void {
    const at = this.#clock.now();
    const orderNo = ctx.orderNo;
    switch (state) {
      case 'submitting':
        // The pay actor writes "submitting" itself, immediately before the request.
        break;
      case 'waiting_network':
      case 'querying':
      case 'reversing':
        this.#journal.transition(orderNo, state, at, ctx.cause, { next_action_at: state === 'reversing' ? at : at + ctx.waitMs });
        break;
      case 'reversal_queued':
        this.#journal.atomically(() => {
          this.#journal.transition(orderNo, 'reversal_queued', at, ctx.cause);
          this.#enqueueReversal(orderNo, at);
        });
        // Outside the machine's transition: delivery starts on the next turn.
        queueMicrotask(() => this.#outbox.kick());
        break;
      case 'paid':
      case 'declined':
      case 'reversed':
        this.#journal.finish(orderNo, state, at, ctx.cause, {
          reason_code: ctx.reasonCode ?? null,
          reason_message: ctx.reasonMessage ?? null,
          ...(ctx.tradeNo ? { acquirer_trade_no: ctx.tradeNo } : {}),
        });
        this.#log.info({ orderNo, outcome: state, reasonCode: ctx.reasonCode }, `payment ${state}`);
        break;
    }
    this.#emit(this.#view(this.#require(orderNo), ctx));
  }

  async #payOnce(orderNo: string): Promise<PayOutcome> {
    const row = this.#require(orderNo);
    if (row.code === null) throw new Error('payment code already erased');
    this.#journal.beforePayAttempt(orderNo, this.#clock.now());
    crashPoint('pay:after-journal');
    const result = await this.#o.acquirer.pay({
      orderNo,
      paymentCode: row.code,
      amount: row.amount,
      currency: row.currency,
      description: row.description,
      traceId: row.trace_id,
    });
    crashPoint('pay:after-answer');
    const at = this.#clock.now();
    let outcome = payOutcome(result, at);
    this.#journal.afterPayAttempt(orderNo, at, result.kind !== 'not_sent', `pay ${result.kind === 'answer' ? result.body.result : result.kind}`);
    // This attempt provably did not leave, but an earlier one may have arrived.
    if (outcome.kind === 'notSent' && this.#require(orderNo).maybe_sent) {
      outcome = { kind: 'unknown', at, reason: `an earlier attempt may have arrived; ${outcome.reason}` };
    }
    this.#logCall('pay', orderNo, result);
    return outcome;
  }

  async #queryOnce(orderNo: string): Promise<QueryOutcome> {
    const row = this.#require(orderNo);
    const sentAt = this.#clock.now();
    this.#journal.beforeQuery(orderNo, sentAt);
    // Long-poll: the gateway may hold the answer until the trade changes, never past the deadline.
    const waitMs = Math.max(0, Math.min(this.#profiles[row.wallet].queryWaitMs, row.query_deadline_at - sentAt));
    const result = await this.#o.acquirer.query({ orderNo, traceId: row.trace_id, ...(waitMs > 0 ? { waitMs } : {}) });
    this.#logCall('query', orderNo, result);
    const outcome = queryOutcome(result, this.#clock.now());
    this.#journal.note(orderNo, outcome.at, 'querying', `query: ${outcome.kind === 'pending' ? outcome.reason : outcome.kind}`);
    return outcome.kind === 'pending' ? { ...outcome, sentAt } : outcome;
  }

  async #reverseOnce(orderNo: string): Promise<ReverseOutcome> {
    const row = this.#require(orderNo);
    const early = this.#tooEarlyToReverse(row);
    if (early) return early;
    if (this.#clock.now() >= reverseWindowEnd(this.#acquirerProfile.reverseWindow, row.created_at)) {
      // Past the acquirer's reversal window: only a refund can undo it (the outbox does).
      return { kind: 'refused', at: this.#clock.now(), reasonCode: 'REVERSE_EXPIRED' };
    }
    this.#journal.beforeReverse(orderNo, this.#clock.now());
    crashPoint('reverse:after-journal');
    const result = await this.#o.acquirer.reverse({ orderNo, traceId: row.trace_id });
    crashPoint('reverse:after-answer');
    this.#logCall('reverse', orderNo, result);
    const outcome = reverseOutcome(result, this.#clock.now());
    const said = outcome.kind === 'retry' || outcome.kind === 'unreachable' ? `${outcome.kind}: ${outcome.reason}` : outcome.kind === 'refused' ? `refused: ${outcome.reasonCode}` : outcome.kind;
    this.#journal.note(orderNo, outcome.at, 'reversing', `reverse: ${said}`);
    return outcome;
  }

  /** The acquirer refuses a reverse sooner than its earliest after the pay: wait for it, without asking. */
  #tooEarlyToReverse(row: PaymentRow): ReverseOutcome | undefined {
    const at = this.#clock.now();
    const retryAt = (row.pay_sent_at ?? row.created_at) + this.#acquirerProfile.earliestReverseMs;
    if (!row.maybe_sent || at >= retryAt) return undefined;
    return { kind: 'retry', at, retryAt, reason: `the acquirer takes no reverse sooner than ${Math.round(this.#acquirerProfile.earliestReverseMs / 1000)} s after the payment` };
  }

  /** When the acquirer closes this order itself if it is still unpaid (its profile), or null. */
  #closesAt(row: PaymentRow): number | null {
    const after = this.#acquirerProfile.acquirerRevokesUnpaidAfterMs;
    return after === null ? null : (row.pay_sent_at ?? row.created_at) + after;
  }

  #enqueueReversal(orderNo: string, at: number): void {
    this.#journal.enqueue({ kind: REVERSE_KIND, orderNo, dedupeKey: `${REVERSE_KIND}:${orderNo}`, payload: { orderNo }, at });
  }

  /** The outbox's delivery of a queued reversal; a reversal too old to make becomes a full refund. */
  async #deliverReversal(item: OutboxRow): Promise<DeliveryResult> {
    const orderNo = item.order_no;
    const row = orderNo ? this.#journal.getPayment(orderNo) : undefined;
    if (!row) return { kind: 'dead', error: `no payment ${orderNo} in the journal` };
    if (row.outcome) return { kind: 'done' };
    const outcome = await this.#track(this.#reverseOnce(row.order_no));
    switch (outcome.kind) {
      case 'reversed':
        this.#journal.finish(row.order_no, 'reversed', outcome.at, 'reversal delivered from the outbox');
        return { kind: 'done' };
      case 'notFound':
        if (this.#acquirerProfile.unseenReverseIsFinal || outcome.at >= row.code_expires_at) {
          this.#journal.finish(row.order_no, 'reversed', outcome.at, 'the acquirer never received the payment and the code can no longer be used: not charged');
          return { kind: 'done' };
        }
        return { kind: 'retry', error: 'the acquirer has not seen the payment; a delayed one could still arrive until the code expires', notBefore: row.code_expires_at };
      case 'retry':
        return { kind: 'retry', error: outcome.reason, ...(outcome.retryAt !== undefined ? { notBefore: outcome.retryAt } : {}) };
      case 'unreachable':
        return { kind: 'retry', error: outcome.reason };
      case 'refused':
        return this.#refundInstead(row, outcome.reasonCode);
    }
  }

  async #deliverRefund(refundNo: string): Promise<DeliveryResult> {
    const r = this.#journal.getRefundByNo(refundNo);
    if (!r) return { kind: 'dead', error: `no refund ${refundNo} in the journal` };
    if (r.state !== 'pending') return { kind: 'done' };
    const payment = this.#require(r.order_no);
    const result = await this.#track(this.#o.acquirer.refund({ orderNo: r.order_no, refundNo, amount: r.amount, traceId: payment.trace_id }));
    this.#logCall('refund', r.order_no, result);
    if (result.kind !== 'answer' || result.body.result === 'UNKNOWN') {
      return { kind: 'retry', error: result.kind === 'answer' ? 'refund outcome unknown' : `${result.error.code}: ${result.error.message}` };
    }
    const ok = result.body.result === 'SUCCESS';
    this.#journal.settleRefund(refundNo, ok ? 'refunded' : 'failed', this.#clock.now(), ok ? undefined : (result.body.reasonCode ?? 'FAIL'));
    return { kind: 'done' };
  }

  #refunded(orderNo: string, includePending: boolean): number {
    return this.#journal
      .refundsOf(orderNo)
      .filter((r) => r.state === 'refunded' || (includePending && r.state === 'pending'))
      .reduce((n, r) => n + r.amount, 0);
  }

  #refundView(r: RefundRow): RefundView {
    return { refundId: r.pos_refund_id, refundNo: r.refund_no, orderNo: r.order_no, amount: r.amount, state: r.state, reasonCode: r.reason_code };
  }

  async #refundInstead(row: PaymentRow, why: string): Promise<DeliveryResult> {
    const result = await this.#track(this.#o.acquirer.refund({ orderNo: row.order_no, refundNo: `${row.order_no}-R`.slice(-32), amount: row.amount, traceId: row.trace_id }));
    this.#logCall('refund', row.order_no, result);
    if (result.kind !== 'answer') return { kind: 'retry', error: `reverse refused (${why}); refund: ${result.error.code}: ${result.error.message}` };
    const b = result.body;
    const at = this.#clock.now();
    if (b.result === 'SUCCESS') {
      this.#journal.finish(row.order_no, 'reversed', at, `reverse refused (${why}): refunded in full`);
      return { kind: 'done' };
    }
    // Not paid yet is not "never paid": a customer still confirming could pay after this answer.
    if (b.reasonCode === 'REFUND_NOT_PAID' || b.reasonCode === 'ORDER_NOT_FOUND') return this.#settleUnpaid(row, why);
    if (b.result === 'UNKNOWN') return { kind: 'retry', error: 'refund outcome unknown' };
    return { kind: 'dead', error: `reverse refused (${why}) and refund failed (${b.reasonCode ?? 'FAIL'}): settle by hand` };
  }

  /** A refund-instead found nothing paid (or no order): done only once a query says the order can no longer be paid. */
  async #settleUnpaid(row: PaymentRow, why: string): Promise<DeliveryResult> {
    const result = await this.#track(this.#o.acquirer.query({ orderNo: row.order_no, traceId: row.trace_id }));
    this.#logCall('query', row.order_no, result);
    const q = queryOutcome(result, this.#clock.now());
    // An order left unpaid (NOTPAY) or never received, once its code expired, can no longer be paid either.
    const closed = q.kind === 'declined' || q.kind === 'reversed' || (q.kind === 'pending' && (q.reason === 'NOTPAY' || q.notFound === true) && q.at >= row.code_expires_at);
    if (closed) {
      this.#journal.finish(row.order_no, 'reversed', q.at, `reverse refused (${why}); the order was never paid and is closed: not charged`);
      return { kind: 'done' };
    }
    const waitForCode = q.kind === 'pending' && q.at < row.code_expires_at;
    return { kind: 'retry', error: `reverse refused (${why}); the refund found the order unpaid, the query ${q.kind === 'pending' ? q.reason : q.kind}: trying again`, ...(waitForCode ? { notBefore: row.code_expires_at } : {}) };
  }

  #logCall(op: string, orderNo: string, r: { kind: string; latencyMs: number; error?: ScanpayError; body?: unknown }): void {
    const fields = { orderNo, op, result: r.kind, latencyMs: r.latencyMs, ...(r.error ? { error: r.error.code, message: r.error.message } : {}) };
    if (r.kind === 'answer') this.#log.debug(fields, `${op} answered`);
    else this.#log.warn(fields, `${op}: no verified answer`);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#calls.add(p);
    const done = () => this.#calls.delete(p);
    p.then(done, done);
    return p;
  }

  #newOrderNo(now: number): string {
    const t = new Date(now).toISOString().replace(/[-:T]/g, '').slice(2, 14);
    const terminal = this.#o.terminalId.replace(/[^A-Za-z0-9]/g, '').slice(-10);
    return `${terminal}${t}${randomBytes(4).toString('hex')}`;
  }

  #require(orderNo: string): PaymentRow {
    const row = this.#journal.getPayment(orderNo);
    if (!row) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo } });
    return row;
  }

  #emitRow(orderNo: string): void {
    const row = this.#journal.getPayment(orderNo);
    if (row) this.#emit(this.#view(row));
  }

  #emit(view: PaymentView): void {
    for (const l of this.#listeners) {
      try {
        l(view);
      } catch (err) {
        this.#log.error({ err }, 'payment listener failed');
      }
    }
  }

  #view(row: PaymentRow, ctx?: PaymentContext): PaymentView {
    const live = ctx ?? this.#live.get(row.order_no)?.getSnapshot().context;
    const lastCause = live?.cause ?? this.#journal.events(row.order_no).at(-1)?.cause ?? '';
    return {
      orderNo: row.order_no,
      posOrderId: row.pos_order_id,
      amount: row.amount,
      currency: row.currency,
      description: row.description,
      wallet: row.wallet,
      code: row.code_masked,
      traceId: row.trace_id,
      state: row.state,
      outcome: row.outcome,
      reasonCode: row.reason_code,
      reasonMessage: row.reason_message,
      customerPaying: live?.customerPaying ?? false,
      cause: lastCause,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      finalAt: row.final_at,
      queryDeadlineAt: row.query_deadline_at,
      refundedAmount: row.outcome === 'paid' ? this.#refunded(row.order_no, false) : 0,
    };
  }
}

