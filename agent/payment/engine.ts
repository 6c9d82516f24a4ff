/**
 * The payment engine: binds the pure payment machine to the journal, the acquirer and the
 * clock, starts payments, resumes unfinished ones after a restart, and runs the outbox.
 *
 * Money-safety rules enforced here:
 * 1. every request is preceded by a durable journal write (the actors write, then call);
 * 2. no answer is unknown, and unknown is queried, then reversed, never declined;
 * 4. one order number per payment for every retry, query and reversal; a code is used once.
 */
import { createActor, fromPromise, type ActorRefFrom } from 'xstate';
import type { Acquirer } from '../backend/acquirer.ts';
import { SCANPAY_V1_PROFILE, type AcquirerProfile } from '../backend/acquirer-profile.ts';
import type { Clock } from '../clock.ts';
import { checkAmount } from '../amount.ts';
import { ScanpayError } from '../errors.ts';
import type { Journal, OutboxRow, PaymentRow, PaymentState } from '../journal/journal.ts';
import { silentLogger, type Logger } from '../log.ts';
import { OutboxWorker, type OutboxHandler } from '../outbox/outbox-worker.ts';
import { maskCode, requirePaymentCode, type Wallet } from '../payment-code.ts';
import { randomId } from '../random-id.ts';
import { REFUND_KIND, requirePayment, REVERSE_KIND, type EngineCore } from './engine-core.ts';
import type { PayOutcome, QueryOutcome, ReverseOutcome } from './outcomes.ts';
import { PaymentActors } from './payment-actors.ts';
import { paymentMachine, type PaymentContext } from './payment.machine.ts';
import { mergeOverrides, resolveProfiles, type ProfileOverrides, type WalletProfile } from './profiles.ts';
import { PaymentRecorder } from './record.ts';
import { Refunds } from './refunds.ts';
import { ReversalDelivery } from './reversal-delivery.ts';
import { paymentView, type PaymentView, type RefundView } from './views.ts';

export type { PaymentView, RefundView } from './views.ts';

/**
 * 72 random bits in 12 characters. Not hex: a 16-digit hex id is all digits once in ~1,800,
 * and one in ~30,000 then starts like an Alipay code, which the log-leak scan flags and a
 * reader of the logs would take for one. 12 characters is shorter than any wallet's code.
 */
export function newTraceId(): string {
  return randomId(9, 'base64url');
}

export interface PaymentRequest {
  amount: number;
  currency?: string;
  paymentCode: string;
  description?: string;
  posOrderId?: string;
  /** The POS lane that took it: after a restart the lane holds it again. */
  lane?: string;
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
  /** Payments whose "paid" is committed but not yet synced, with the row as it stood before: what the POS sees meanwhile. */
  readonly #paidUnsynced = new Map<string, PaymentRow>();
  readonly #calls = new Set<Promise<unknown>>();
  readonly #outbox: OutboxWorker;
  readonly #core: EngineCore;
  readonly #actors: PaymentActors;
  readonly #refunds: Refunds;
  readonly #reversals: ReversalDelivery;
  readonly #recorder: PaymentRecorder;
  /** The terminal id as order numbers begin with it: letters and digits, the last 10. */
  readonly #orderPrefix: string;
  #started = false;
  /** Provided once: every payment's actor shares it (xstate copies the whole machine on each `provide`). */
  readonly #machine = paymentMachine.provide({
    actors: {
      pay: fromPromise<PayOutcome, { orderNo: string }>(({ input }) => this.#track(this.#actors.payOnce(input.orderNo))),
      query: fromPromise<QueryOutcome, { orderNo: string }>(({ input }) => this.#track(this.#actors.queryOnce(input.orderNo))),
      reverse: fromPromise<ReverseOutcome, { orderNo: string }>(({ input }) => this.#track(this.#actors.reverseOnce(input.orderNo))),
    },
    actions: {
      record: ({ context }, params) => this.#record(context, params.state),
      notePayMayHaveArrived: ({ context }) => this.#journal.afterPayAttempt(context.orderNo, this.#clock.now(), true, 'recovered: pay may have arrived before the restart'),
    },
  });

  constructor(o: EngineOptions) {
    this.#o = o;
    this.#journal = o.journal;
    this.#clock = o.clock;
    this.#log = o.logger ?? silentLogger;
    this.#acquirerProfile = o.acquirerProfile ?? SCANPAY_V1_PROFILE;
    this.#random = o.random ?? Math.random;
    this.#profiles = resolveProfiles(mergeOverrides(this.#acquirerProfile.wallets, o.profiles));
    this.#maxAmount = o.maxAmount ?? 500_000;
    this.#orderPrefix = o.terminalId.replace(/[^A-Za-z0-9]/g, '').slice(-10);
    this.#core = {
      journal: o.journal,
      acquirer: o.acquirer,
      clock: o.clock,
      log: this.#log,
      acquirerProfile: this.#acquirerProfile,
      profileOf: (wallet) => this.#profiles[wallet],
      track: (p) => this.#track(p),
      changed: (orderNo) => this.#emitRow(orderNo),
    };
    this.#actors = new PaymentActors(this.#core);
    this.#recorder = new PaymentRecorder(this.#core, () => this.#outbox.kick());
    this.#reversals = new ReversalDelivery(this.#core, this.#actors, this.#recorder);
    this.#refunds = new Refunds(this.#core, {
      retryBaseMs: o.outbox?.retryBaseMs ?? 1_000,
      outboxDone: (id) => this.#journal.outboxDone(id, this.#clock.now()),
      kickOutbox: () => this.#outbox.kick(),
      changed: (orderNo) => this.#emitRow(orderNo),
    });
    this.#outbox = new OutboxWorker({
      journal: o.journal,
      clock: o.clock,
      logger: this.#log,
      random: this.#random,
      ...o.outbox,
      // A dead letter here would leave the customer charged: past its age it is an alarm instead.
      keepTrying: [REVERSE_KIND, REFUND_KIND],
      onOverdue: (item) => item.order_no && this.#emitRow(item.order_no),
      handlers: {
        ...o.outboxHandlers,
        [REVERSE_KIND]: (item) => this.#reversals.deliver(item),
        [REFUND_KIND]: (item) => this.#refunds.deliver((JSON.parse(item.payload) as { refundNo: string }).refundNo),
      },
      onSettled: (item) => item.order_no && this.#emitRow(item.order_no),
    });
  }

  /** Resumes every unfinished payment from the journal and starts the outbox. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const row of this.#journal.unfinished()) this.#run(row);
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
    const now = this.#clock.now();
    // One commit for the new payment and its first pay's write (journal-db.ts `write`): the
    // pay actor's synchronous start writes it inside, and its `synced()` waits for this commit.
    return this.#journal.atomically(() => this.#accept(req, code, wallet, currency, now), 'lazy');
  }

  #accept(req: PaymentRequest, code: string, wallet: Wallet, currency: string, now: number): PaymentView {
    const profile = this.#profiles[wallet];
    const { row, created } = this.#journal.createPayment({
      orderNo: this.#newOrderNo(now),
      posOrderId: req.posOrderId,
      amount: req.amount,
      currency,
      description: req.description ?? '',
      wallet,
      code,
      codeMasked: maskCode(code),
      traceId: newTraceId(),
      createdAt: now,
      codeExpiresAt: now + profile.codeTtlMs,
      queryDeadlineAt: now + profile.queryDeadlineMs,
      lane: req.lane,
    });
    // Debug: the running agent's one line per state change (daemon.ts) says the same with the POS id.
    this.#log.debug({ orderNo: row.order_no, traceId: row.trace_id, wallet, amount: row.amount, codeMasked: row.code_masked, created }, created ? 'payment accepted' : 'payment already known for this POS order id');
    if (created) this.#run(row);
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
    this.#recorder.requestCancel(orderNo);
    this.#live.get(orderNo)?.send({ type: 'CANCEL' });
    return this.get(orderNo);
  }

  /**
   * Refunds a paid payment, fully or in part. Idempotent by the POS's refund id: the same
   * id returns the same refund. Written to the journal and the outbox before it is sent,
   * so a refund whose answer is lost is retried (same refund number) until answered.
   */
  refund(orderNo: string, req: { refundId: string; amount?: number }): Promise<RefundView> {
    return this.#refunds.refund(orderNo, req);
  }

  refunds(orderNo: string): RefundView[] {
    return this.#refunds.list(orderNo);
  }

  get(orderNo: string): PaymentView {
    return this.#view(this.#require(orderNo));
  }

  /** As `get`, undefined when the journal has no such payment (no error built for a miss: the POS API asks this for every new POS id). */
  find(orderNo: string): PaymentView | undefined {
    const row = this.#journal.getPayment(orderNo);
    return row && this.#view(row);
  }

  list(options: { since?: number; limit?: number } = {}): PaymentView[] {
    return this.#journal.listPayments(options).map((r) => this.#view(r));
  }

  /** Payments not yet paid, declined or reversed, oldest first (a restart gives each lane its own back). */
  unfinished(): PaymentView[] {
    return this.#journal.unfinished().map((r) => this.#view(r));
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

  /** Drives a payment from where its journal row says it stands (the machine's `restoring` decides). */
  #run(row: PaymentRow): void {
    const profile = this.#profiles[row.wallet];
    const actor = createActor(this.#machine, {
      clock: this.#clock,
      input: {
        orderNo: row.order_no,
        profile,
        codeExpiresAt: row.code_expires_at,
        queryDeadlineAt: row.query_deadline_at,
        queriesDone: row.query_count,
        reverseAttempts: row.reverse_attempts,
        restore: {
          state: row.state,
          payInFlight: row.pay_in_flight === 1,
          maybeSent: row.maybe_sent === 1,
          cancelRequested: row.cancel_requested === 1,
          nextActionAt: row.next_action_at,
          writtenAt: row.updated_at,
          at: this.#clock.now(),
        },
        unseenReverseIsFinal: this.#acquirerProfile.unseenReverseIsFinal,
        acquirerClosesAt: this.#actors.closesAt(row),
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
        // The POS must see why it stopped moving (a full disk). Reading may fail too (the journal
        // closed, an I/O error): an error here would escape the actor and end the process.
        try {
          this.#emitRow(row.order_no);
        } catch (readErr) {
          this.#log.error({ orderNo: row.order_no, err: readErr }, 'cannot read the payment to tell the POS');
        }
        this.#resumeLater(row.order_no, profile.networkRetryMs);
      },
    });
    actor.start();
  }

  /**
   * Drives a payment whose actor failed again from what the journal says, after a pause.
   * The journal may still refuse (a full or failing disk): then it waits again, since an
   * error thrown from a timer would end the agent with payments under way.
   */
  #resumeLater(orderNo: string, ms: number): void {
    this.#clock.setTimeout(() => {
      // Stopped meanwhile: the journal may already be closed.
      if (!this.#started) return;
      try {
        const again = this.#journal.getPayment(orderNo);
        if (again && !again.outcome && !this.#live.has(orderNo)) this.#run(again);
      } catch (err) {
        this.#log.error({ orderNo, err }, 'cannot resume the payment from the journal yet; trying again');
        this.#resumeLater(orderNo, ms);
      }
    }, ms);
  }

  #record(ctx: PaymentContext, state: PaymentState): void {
    if (state !== 'paid') {
      this.#recorder.record(ctx.orderNo, state, ctx);
      this.#emit(this.#view(this.#require(ctx.orderNo), ctx));
      return;
    }
    // "paid" is a grouped write: until its sync returns, the POS (events and reads alike)
    // sees the payment as it stood, so a power cut cannot take back a "paid" a cashier saw.
    this.#paidUnsynced.set(ctx.orderNo, this.#require(ctx.orderNo));
    this.#recorder.record(ctx.orderNo, state, ctx);
    const show = () => {
      this.#paidUnsynced.delete(ctx.orderNo);
      try {
        this.#emit(this.#view(this.#require(ctx.orderNo), ctx));
      } catch (err) {
        this.#log.error({ orderNo: ctx.orderNo, err }, 'cannot read the payment to tell the POS');
      }
    };
    // Tracked like a backend call: idle() (tests, shutdown) waits for it.
    void this.#track(this.#journal.synced()).then(show, (err: unknown) => {
      // The backend said paid (rule 3): the cashier is told; the journal's fault is an alarm on every payment.
      this.#log.error({ orderNo: ctx.orderNo, err }, 'the paid outcome may not be on disk');
      show();
    });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#calls.add(p);
    const done = () => this.#calls.delete(p);
    p.then(done, done);
    return p;
  }

  #newOrderNo(now: number): string {
    const t = new Date(now).toISOString().replace(/[-:T]/g, '').slice(2, 14);
    return `${this.#orderPrefix}${t}${randomId(4, 'hex')}`;
  }

  #require(orderNo: string): PaymentRow {
    return requirePayment(this.#journal, orderNo);
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
    const before = this.#paidUnsynced.get(row.order_no);
    if (before) return paymentView(this.#journal, before, undefined);
    return paymentView(this.#journal, row, ctx ?? this.#live.get(row.order_no)?.getSnapshot().context);
  }
}
