/**
 * The simulated wallets: payment codes, orders and customers, as pure logic on a Clock.
 *
 * No HTTP and no timers. A customer who confirms a password "later" is an order with a
 * confirmation time; every operation first settles whatever has fallen due by
 * `clock.now()`, in due order, so the ledger reads in time order and a ManualClock
 * drives everything. The rules are the wallets' (../../../shared/reference/payment-rules.md)
 * and are listed in simulator/README.md.
 */
import { randomInt } from 'node:crypto';
import * as z from 'zod';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { classifyCode, maskCode, type Wallet } from '../../agent/payment-code.ts';
import {
  REASONS,
  type PayResponse,
  type QueryResponse,
  type RefundResponse,
  type ReverseResponse,
  type Trade,
  type TradeState,
  type payRequest,
  type refundRequest,
} from '../../agent/protocol/messages.ts';
import { reverseWindowEnd, type ReverseWindow } from '../../agent/backend/acquirer-profile.ts';
import { Ledger, type LedgerAudit, type LedgerEntry } from './ledger.ts';
import { memoryStore, type BackendStore, type RecordTable } from './backend-store.ts';

export const behaviourSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('instant') }),
  z.object({ kind: z.literal('password'), seconds: z.number().int().min(0).max(3600) }),
  z.object({ kind: z.literal('insufficient') }),
  z.object({ kind: z.literal('expired') }),
  z.object({ kind: z.literal('invalid') }),
  z.object({ kind: z.literal('walkaway') }),
]);
export type Behaviour = z.infer<typeof behaviourSchema>;

/** Last three digits of a code that select a behaviour. `8NN` is a password of NN seconds. */
export const BEHAVIOUR_SUFFIX = { insufficient: '901', expired: '902', invalid: '903', walkaway: '904' } as const;
/** WeChat asks for the password above 1000.00; so does the simulator, for 10 seconds. */
export const LARGE_AMOUNT = 100_000;
export const LARGE_AMOUNT_PASSWORD_SECONDS = 10;

type Reason = keyof typeof REASONS;
type PayInput = z.output<typeof payRequest>;
type RefundInput = z.output<typeof refundRequest>;

/** What a code's suffix and the amount ask for, before any override. */
export function behaviourFor(code: string, amount: number): Behaviour {
  const suffix = code.slice(-3);
  for (const [kind, s] of Object.entries(BEHAVIOUR_SUFFIX)) {
    if (suffix === s) return { kind } as Behaviour;
  }
  if (/^8\d\d$/.test(suffix)) return { kind: 'password', seconds: Number(suffix.slice(1)) };
  if (amount >= LARGE_AMOUNT) return { kind: 'password', seconds: LARGE_AMOUNT_PASSWORD_SECONDS };
  return { kind: 'instant' };
}

function suffixFor(b: Behaviour): string {
  if (b.kind === 'password' && b.seconds <= 99) return `8${String(b.seconds).padStart(2, '0')}`;
  if (b.kind in BEHAVIOUR_SUFFIX) return BEHAVIOUR_SUFFIX[b.kind as keyof typeof BEHAVIOUR_SUFFIX];
  // Instant, or a password too long for two digits (the override carries it): 000–799.
  return String(randomInt(800)).padStart(3, '0');
}

/** Wallet prefix and body length (before the three-digit suffix) of generated codes. */
const CODE_SHAPE: Record<Wallet, { prefix: string; body: number }> = {
  wechat: { prefix: '13', body: 13 }, // 18 digits
  alipay: { prefix: '28', body: 13 }, // 18 digits
  unionpay: { prefix: '62', body: 14 }, // 19 digits
  ecny: { prefix: '01', body: 14 }, // 19 digits
};

function randomDigits(n: number): string {
  let s = '';
  while (s.length < n) s += String(randomInt(1_000_000)).padStart(6, '0');
  return s.slice(0, n);
}

interface CodeRecord {
  wallet: Wallet;
  issuedAt: number;
  expiresAt: number;
  /** Set by issueCode or setBehaviour: beats the suffix and the amount rule. */
  behaviour?: Behaviour;
  /** The first order that presented the code: codes are single use, even when that payment failed. */
  usedBy?: string;
}

interface OrderDetail {
  code: string;
  wallet: Wallet;
  amount: number;
  currency: string;
  behaviour: Behaviour;
}

interface Order {
  orderNo: string;
  /** Undefined for a tombstone: an order reversed before any pay was seen. */
  detail: OrderDetail | undefined;
  state: TradeState;
  reason?: Reason;
  createdAt: number;
  /** When a customer entering the password confirms. */
  confirmAt?: number;
  /** When a walk-away customer gives up. */
  abandonAt?: number;
  paidAt?: number;
  refundedAmount: number;
  acquirerTradeNo: string;
  history: Array<{ at: number; event: string }>;
}

export interface OrderView {
  orderNo: string;
  state: TradeState;
  /** True when the order was recorded by a reverse that arrived before any pay. */
  tombstone: boolean;
  wallet?: Wallet;
  /** Masked payment code. */
  code?: string;
  amount?: number;
  currency?: string;
  behaviour?: Behaviour;
  reason?: string;
  createdAt: number;
  paidAt?: number;
  charged: number;
  refunded: number;
  net: number;
  history: Array<{ at: number; event: string }>;
  /** Refunds that succeeded, in the order they were made. */
  refunds: Array<{ refundNo: string; amount: number; at: number }>;
}

/**
 * The acquirer's own rules, where real acquirers differ (agent/backend/acquirer-profile.ts).
 * The defaults are protocol v1's; simulator/backend/rule-profiles.ts derives a set from
 * each acquirer profile so the property test and the chaos run meet every one of them.
 */
export interface WalletRules {
  /** A reverse of an unseen order leaves a tombstone (v1); otherwise it answers FAIL + ORDER_NOT_FOUND and a later pay still lands. */
  tombstone: boolean;
  /** A reverse sooner than this after the order arrived is refused (RETRY) and counted as a breach of the acquirer's rule. */
  earliestReverseMs: number;
  /** A reverse while the customer enters the password is refused: RETRY, recall, reasonCode USER_PAYING. */
  refuseReverseWhilePaying: boolean;
  /** The acquirer closes an order still unpaid this long after it arrived; null: never. */
  revokeUnpaidAfterMs: number | null;
  /** How long a reverse is accepted (FAIL + REVERSE_EXPIRED after); default: `reverseWindowMs`. */
  reverseWindow?: ReverseWindow;
}

export const V1_RULES: WalletRules = { tombstone: true, earliestReverseMs: 0, refuseReverseWhilePaying: true, revokeUnpaidAfterMs: null };

export interface WalletModelOptions {
  clock: Clock;
  codeTtlMs: number;
  passwordAbandonMs: number;
  reverseWindowMs: number;
  rules?: Partial<WalletRules>;
  /** Where orders, codes, refunds and the ledger live (backend-store.ts); an in-memory database when absent. */
  store?: BackendStore | undefined;
}

interface RefundRecord {
  orderNo: string;
  amount: number;
  at?: number;
}

export class WalletModel {
  readonly #o: WalletModelOptions;
  readonly #rules: WalletRules;
  readonly #ledger: Ledger;
  readonly #breaches: string[] = [];
  readonly #store: BackendStore;
  readonly #codes: RecordTable<CodeRecord>;
  readonly #orders: RecordTable<Order>;
  readonly #refunds: RecordTable<RefundRecord>;
  #tradeSeq: number;

  constructor(options: WalletModelOptions) {
    this.#o = options;
    this.#rules = { ...V1_RULES, ...options.rules };
    // device-faults hook (issue 12): the model's memory comes from a store that may outlive the process.
    // Nothing that grows with payments stays on the heap: each call reads the records it touches.
    const store = options.store ?? memoryStore();
    this.#store = store;
    this.#codes = store.table('codes');
    this.#orders = store.table('orders', (o: Order) => ({ due: this.#dueAt(o) }));
    this.#refunds = store.table('refunds', (r: RefundRecord) => ({ ref: r.orderNo }));
    this.#ledger = new Ledger(store.ledgerRows());
    this.#tradeSeq = this.#orders.count();
  }

  get clock(): Clock {
    return this.#o.clock;
  }

  /** Calls that broke an acquirer rule a well-behaved terminal keeps (e.g. a reverse sooner than allowed). */
  breaches(): string[] {
    return [...this.#breaches];
  }

  /** A fresh code for `wallet` whose suffix encodes `behaviour`; it expires codeTtlMs from now. */
  issueCode(wallet: Wallet, behaviour: Behaviour): { code: string; expiresAt: number } {
    return this.#store.unit(() => {
      const shape = CODE_SHAPE[wallet];
      let code: string;
      do code = shape.prefix + randomDigits(shape.body) + suffixFor(behaviour);
      while (this.#codes.has(code));
      const record = this.#register(code, wallet);
      record.behaviour = behaviour;
      return { code, expiresAt: record.expiresAt };
    });
  }

  setBehaviour(code: string, behaviour: Behaviour): void {
    return this.#store.unit(() => {
      const c = classifyCode(code);
      if (c.kind !== 'payment') {
        throw new ScanpayError('SIM_CONTROL_INVALID', { message: 'code: not a wallet payment code', detail: { code: maskCode(code) } });
      }
      const record = this.#codes.get(code) ?? this.#register(code, c.wallet);
      record.behaviour = behaviour;
    });
  }

  pay(req: PayInput): PayResponse {
    return this.#store.unit(() => {
      const now = this.#settle();
      const existing = this.#orders.get(req.orderNo);
      if (existing) return this.#repeatPay(existing, req);

      const c = classifyCode(req.paymentCode);
      // Not a wallet's code at all: refused without an order, as the wallets do.
      if (c.kind !== 'payment') return { result: 'FAIL', orderNo: req.orderNo, ...reason('AUTH_CODE_INVALID') };

      const record = this.#codes.get(req.paymentCode) ?? this.#register(req.paymentCode, c.wallet);
      const behaviour = record.behaviour ?? behaviourFor(req.paymentCode, req.amount);
      const order = this.#create(req.orderNo, { code: req.paymentCode, wallet: c.wallet, amount: req.amount, currency: req.currency, behaviour });
      this.#log(order, `pay received (${describe(behaviour)})`);

      if (record.usedBy !== undefined) return this.#decline(order, 'AUTH_CODE_USED');
      record.usedBy = order.orderNo;
      if (now >= record.expiresAt) return this.#decline(order, 'AUTH_CODE_EXPIRED');

      switch (behaviour.kind) {
        case 'instant':
          this.#charge(order, now);
          return { result: 'SUCCESS', orderNo: order.orderNo, trade: tradeOf(order) };
        case 'password':
          order.state = 'USERPAYING';
          order.confirmAt = now + behaviour.seconds * 1000;
          this.#log(order, `customer entering the password, confirms at ${order.confirmAt}`);
          return { result: 'USER_PAYING', orderNo: order.orderNo, trade: tradeOf(order) };
        case 'walkaway':
          order.state = 'USERPAYING';
          order.abandonAt = now + this.#o.passwordAbandonMs;
          this.#log(order, `customer walked away, gives up at ${order.abandonAt}`);
          return { result: 'USER_PAYING', orderNo: order.orderNo, trade: tradeOf(order) };
        case 'insufficient':
          return this.#decline(order, 'NOT_ENOUGH');
        case 'expired':
          return this.#decline(order, 'AUTH_CODE_EXPIRED');
        case 'invalid':
          return this.#decline(order, 'AUTH_CODE_INVALID');
      }
    });
  }

  query(orderNo: string): QueryResponse {
    return this.#store.unit(() => {
      this.#settle();
      const order = this.#orders.get(orderNo);
      if (!order) return { result: 'FAIL', orderNo, ...reason('ORDER_NOT_FOUND') };
      // A tombstone has no amount or wallet, so no trade: the reason says what it is.
      if (!order.detail) return { result: 'SUCCESS', orderNo, ...reason('ORDER_REVERSED') };
      // Like WeChat's trade_state_desc: a failed trade says why, so a terminal that lost the pay's answer still learns it.
      return { result: 'SUCCESS', orderNo, trade: tradeOf(order), ...(order.state === 'PAYERROR' && order.reason ? reason(order.reason) : {}) };
    });
  }

  /**
   * When the order's state will next change on its own, for a held (long-poll) query: the
   * customer's decision while USERPAYING; never while NOTPAY (only a reverse moves it);
   * now when there is nothing to wait for (unknown, tombstone or final).
   */
  changesAt(orderNo: string): number {
    return this.#store.unit(() => {
      const now = this.#settle();
      const o = this.#orders.get(orderNo);
      const revokes = o && this.#rules.revokeUnpaidAfterMs !== null ? o.createdAt + this.#rules.revokeUnpaidAfterMs : Number.POSITIVE_INFINITY;
      if (o?.detail && o.state === 'USERPAYING') return Math.min(o.confirmAt ?? o.abandonAt ?? Number.POSITIVE_INFINITY, revokes);
      if (o?.detail && o.state === 'NOTPAY') return revokes;
      return now;
    });
  }

  reverse(orderNo: string): ReverseResponse {
    return this.#store.unit(() => {
      const now = this.#settle();
      const order = this.#orders.get(orderNo);
      if (!order) {
        // Without a tombstone a pay still on its way lands later: the terminal must not take this as final.
        if (!this.#rules.tombstone) return { result: 'FAIL', orderNo, recall: false, ...reason('ORDER_NOT_FOUND') };
        // Principle 3: the pay may still be on its way; it must find the order reversed.
        const tomb = this.#create(orderNo, undefined);
        tomb.state = 'REVOKED';
        this.#log(tomb, 'reversed before any pay was seen (tombstone)');
        return { result: 'SUCCESS', orderNo, recall: false };
      }
      const done = (): ReverseResponse => ({ result: 'SUCCESS', orderNo, recall: false, ...tradeField(order) });
      if (order.state === 'REVOKED' || order.state === 'CLOSED') return done();
      if (order.detail && now < order.createdAt + this.#rules.earliestReverseMs) {
        this.#breaches.push(`${orderNo}: reverse ${now - order.createdAt} ms after the pay arrived (earliest ${this.#rules.earliestReverseMs} ms)`);
        this.#log(order, 'reverse refused: too soon after the pay');
        return { result: 'RETRY', orderNo, recall: true, trade: tradeOf(order), reasonMessage: 'too soon after the pay: reverse again later' };
      }
      if (!this.#reversible(order, now)) {
        this.#log(order, 'reverse refused: older than the reversal window');
        return { result: 'FAIL', orderNo, recall: false, trade: tradeOf(order), ...reason('REVERSE_EXPIRED') };
      }
      if (order.state === 'USERPAYING' && this.#rules.refuseReverseWhilePaying) {
        this.#log(order, 'reverse refused: customer still paying');
        return { result: 'RETRY', orderNo, recall: true, trade: tradeOf(order), reasonCode: 'USER_PAYING', reasonMessage: 'the customer is still entering the password: reverse again later' };
      }
      if ((order.state === 'SUCCESS' || order.state === 'REFUND') && order.detail) {
        const rest = order.detail.amount - order.refundedAmount;
        if (rest > 0) this.#move(order, 'reversal', rest, now);
        order.refundedAmount = order.detail.amount;
      }
      order.state = 'REVOKED';
      this.#log(order, 'reversed');
      return done();
    });
  }

  #reversible(order: Order, now: number): boolean {
    const w = this.#rules.reverseWindow ?? { kind: 'duration', ms: this.#o.reverseWindowMs };
    return now < reverseWindowEnd(w, order.createdAt);
  }

  refund(req: RefundInput): RefundResponse {
    return this.#store.unit(() => {
      const now = this.#settle();
      const { orderNo, refundNo, amount } = req;
      const previous = this.#refunds.get(refundNo);
      if (previous) {
        if (previous.orderNo !== orderNo || previous.amount !== amount) {
          return { result: 'FAIL', orderNo, refundNo, reasonCode: 'ORDER_NO_USED', reasonMessage: 'the refund number was used with other details' };
        }
        const order = this.#orders.get(orderNo);
        return { result: 'SUCCESS', orderNo, refundNo, refundedAmount: amount, ...(order ? tradeField(order) : {}) };
      }
      const order = this.#orders.get(orderNo);
      if (!order) return { result: 'FAIL', orderNo, refundNo, ...reason('ORDER_NOT_FOUND') };
      if (!order.detail || (order.state !== 'SUCCESS' && order.state !== 'REFUND')) {
        return { result: 'FAIL', orderNo, refundNo, ...tradeField(order), ...reason('REFUND_NOT_PAID') };
      }
      if (amount > order.detail.amount - order.refundedAmount) {
        return { result: 'FAIL', orderNo, refundNo, trade: tradeOf(order), ...reason('REFUND_EXCEEDS') };
      }
      this.#refunds.put(refundNo, { orderNo, amount, at: now });
      order.refundedAmount += amount;
      order.state = 'REFUND';
      this.#move(order, 'refund', amount, now, refundNo);
      this.#log(order, `refund ${refundNo} of ${amount}`);
      return { result: 'SUCCESS', orderNo, refundNo, refundedAmount: amount, trade: tradeOf(order) };
    });
  }

  order(orderNo: string): OrderView | undefined {
    return this.#store.unit(() => {
      this.#settle();
      const o = this.#orders.get(orderNo);
      return o && this.#view(o);
    });
  }

  orders(): OrderView[] {
    return this.#store.unit(() => {
      this.#settle();
      return Array.from(this.#orders.all(), ([, o]) => this.#view(o));
    });
  }

  /** The whole ledger, or its newest `last` entries (oldest first). */
  ledger(last?: number): LedgerEntry[] {
    return this.#store.unit(() => {
      this.#settle();
      return last === undefined ? this.#ledger.entries() : this.#ledger.last(last);
    });
  }

  audit(): LedgerAudit {
    return this.#store.unit(() => {
      this.#settle();
      return this.#ledger.audit(this.#orders.count());
    });
  }

  reset(): void {
    return this.#store.unit(() => {
      this.#codes.clear();
      this.#orders.clear();
      this.#refunds.clear();
      this.#ledger.clear();
    });
  }

  #register(code: string, wallet: Wallet): CodeRecord {
    const now = this.#o.clock.now();
    const record: CodeRecord = { wallet, issuedAt: now, expiresAt: now + this.#o.codeTtlMs };
    this.#codes.put(code, record);
    return record;
  }

  #create(orderNo: string, detail: OrderDetail | undefined): Order {
    const order: Order = {
      orderNo,
      detail,
      state: 'NOTPAY',
      createdAt: this.#o.clock.now(),
      refundedAmount: 0,
      acquirerTradeNo: `SIM${String(++this.#tradeSeq).padStart(10, '0')}`,
      history: [],
    };
    this.#orders.put(orderNo, order);
    return order;
  }

  #repeatPay(order: Order, req: PayInput): PayResponse {
    const { orderNo } = order;
    const d = order.detail;
    this.#log(order, 'pay repeated');
    if (!d) return { result: 'FAIL', orderNo, ...reason('ORDER_REVERSED') };
    if (d.code !== req.paymentCode || d.amount !== req.amount || d.currency !== req.currency) {
      return { result: 'FAIL', orderNo, trade: tradeOf(order), ...reason('ORDER_NO_USED') };
    }
    const trade = tradeOf(order);
    switch (order.state) {
      case 'SUCCESS':
      case 'REFUND':
        return { result: 'SUCCESS', orderNo, trade };
      case 'USERPAYING':
        return { result: 'USER_PAYING', orderNo, trade };
      case 'NOTPAY':
        return { result: 'UNKNOWN', orderNo, trade, reasonMessage: 'the customer did not confirm; the order is open and unpaid: query, then reverse' };
      case 'PAYERROR':
        return { result: 'FAIL', orderNo, trade, ...reason(order.reason ?? 'AUTH_CODE_INVALID') };
      case 'REVOKED':
        return { result: 'FAIL', orderNo, trade, ...reason('ORDER_REVERSED') };
      case 'CLOSED':
        return { result: 'FAIL', orderNo, trade, ...reason('ORDER_CLOSED') };
    }
  }

  #decline(order: Order, why: Reason): PayResponse {
    order.state = 'PAYERROR';
    order.reason = why;
    this.#log(order, `declined: ${why}`);
    return { result: 'FAIL', orderNo: order.orderNo, trade: tradeOf(order), ...reason(why) };
  }

  #charge(order: Order, at: number): void {
    const d = order.detail;
    if (!d || order.paidAt !== undefined) return; // a charge happens once per order, whatever asks twice
    order.state = 'SUCCESS';
    order.paidAt = at;
    this.#move(order, 'charge', d.amount, at);
    this.#log(order, 'paid', at);
  }

  #move(order: Order, kind: LedgerEntry['kind'], amount: number, at: number, refundNo?: string): void {
    const d = order.detail;
    if (!d) return;
    this.#ledger.append({ at, kind, orderNo: order.orderNo, amount, currency: d.currency, wallet: d.wallet, code: maskCode(d.code), ...(refundNo ? { refundNo } : {}) }, d.code);
  }

  /**
   * When #settle must next look at the order (its `due` key on disk): the customer's
   * decision or the acquirer's revoke, whichever comes first; never for a final order.
   */
  #dueAt(o: Order): number | undefined {
    if (!o.detail || (o.state !== 'USERPAYING' && o.state !== 'NOTPAY')) return undefined;
    const revokeAfter = this.#rules.revokeUnpaidAfterMs;
    const revokes = revokeAfter === null ? Number.POSITIVE_INFINITY : o.createdAt + revokeAfter;
    const decides = o.state === 'USERPAYING' ? (o.confirmAt ?? o.abandonAt ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    const at = Math.min(decides, revokes);
    return at === Number.POSITIVE_INFINITY ? undefined : at;
  }

  /**
   * Applies every customer decision and acquirer revoke due by now, earliest first; returns
   * now. Reads only the orders due (an index on disk), however many orders there are.
   */
  #settle(): number {
    const now = this.#o.clock.now();
    const revokeAfter = this.#rules.revokeUnpaidAfterMs;
    const due = this.#orders
      .dueBy(now)
      .map((k) => this.#orders.get(k)!)
      .filter((o) => o.detail && (o.state === 'USERPAYING' || (o.state === 'NOTPAY' && revokeAfter !== null)))
      .map((o) => {
        const decides = o.state === 'USERPAYING' ? (o.confirmAt ?? o.abandonAt ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
        const revokes = revokeAfter === null ? Number.POSITIVE_INFINITY : o.createdAt + revokeAfter;
        return { o, at: Math.min(decides, revokes), revoke: revokes <= decides };
      })
      .filter((x) => x.at <= now)
      .sort((a, b) => a.at - b.at);
    for (const { o, at, revoke } of due) {
      if (revoke) {
        o.state = 'CLOSED';
        this.#log(o, 'closed by the acquirer: unpaid too long', at);
      } else if (o.confirmAt !== undefined) {
        this.#charge(o, at);
      } else {
        o.state = 'NOTPAY';
        this.#log(o, 'customer gave up: unpaid', at);
        // A walk-away order the acquirer later closes itself.
        if (revokeAfter !== null && o.createdAt + revokeAfter <= now) {
          o.state = 'CLOSED';
          this.#log(o, 'closed by the acquirer: unpaid too long', o.createdAt + revokeAfter);
        }
      }
    }
    return now;
  }

  #log(order: Order, event: string, at = this.#o.clock.now()): void {
    order.history.push({ at, event });
  }

  #view(o: Order): OrderView {
    const d = o.detail;
    return {
      orderNo: o.orderNo,
      state: o.state,
      tombstone: !d,
      ...(d ? { wallet: d.wallet, code: maskCode(d.code), amount: d.amount, currency: d.currency, behaviour: d.behaviour } : {}),
      ...(o.reason ? { reason: o.reason } : {}),
      createdAt: o.createdAt,
      ...(o.paidAt !== undefined ? { paidAt: o.paidAt } : {}),
      ...this.#ledger.totals(o.orderNo),
      history: o.history.map((h) => ({ ...h })),
      refunds: this.#refunds.byRef(o.orderNo).map(([refundNo, r]) => ({ refundNo, amount: r.amount, at: r.at ?? o.createdAt })),
    };
  }
}

function reason(code: Reason): { reasonCode: Reason; reasonMessage: string } {
  return { reasonCode: code, reasonMessage: REASONS[code] };
}

function describe(b: Behaviour): string {
  return b.kind === 'password' ? `password, ${b.seconds} s` : b.kind;
}

function tradeOf(o: Order): Trade | undefined {
  const d = o.detail;
  if (!d) return undefined;
  return {
    orderNo: o.orderNo,
    state: o.state,
    amount: d.amount,
    currency: d.currency,
    wallet: d.wallet,
    acquirerTradeNo: o.acquirerTradeNo,
    ...(o.paidAt !== undefined ? { paidAt: o.paidAt } : {}),
    refundedAmount: o.refundedAmount,
  };
}

function tradeField(o: Order): { trade?: Trade } {
  const trade = tradeOf(o);
  return trade ? { trade } : {};
}
