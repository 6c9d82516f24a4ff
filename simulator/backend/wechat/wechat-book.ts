/**
 * The simulated wallets (simulator/backend/wallet-model.ts: ledger, customers, codes) under
 * WeChat's own rules where protocol v1 differs:
 * - a reverse of an order WeChat has never seen leaves nothing behind ("order does not
 *   exist"): a pay that arrives later is taken like any other;
 * - no reverse sooner than `earliestReverseMs` after the order (about 15 s);
 * - an order still unpaid `revokeUnpaidAfterMs` after it was created is revoked by WeChat
 *   (45 s): a customer who would confirm later never gets to.
 * Pure logic on the same Clock as the model; nothing here runs on its own.
 */
import type { Clock } from '../../../agent/clock.ts';
import type { Wallet } from '../../../agent/payment-code.ts';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse } from '../../../agent/protocol/messages.ts';
import { behaviourFor, WalletModel, type Behaviour } from '../wallet-model.ts';

export interface WechatRules {
  earliestReverseMs: number;
  revokeUnpaidAfterMs: number;
}

export const WECHAT_RULES: WechatRules = { earliestReverseMs: 15_000, revokeUnpaidAfterMs: 45_000 };

export type WechatReverse = { kind: 'not-found' } | { kind: 'too-soon'; waitMs: number } | { kind: 'done'; answer: ReverseResponse };

export class WechatBook {
  readonly model: WalletModel;
  readonly #clock: Clock;
  readonly #rules: WechatRules;
  /** Behaviours set by issue/setBehaviour, which the model keeps to itself: needed to see a late confirmer coming. */
  #overrides = new Map<string, Behaviour>();
  /** Orders that may still be unpaid, to revoke on time. */
  #open = new Set<string>();

  constructor(o: { clock: Clock; codeTtlMs: number; reverseWindowMs: number; rules?: Partial<WechatRules> }) {
    this.#clock = o.clock;
    this.#rules = { ...WECHAT_RULES, ...o.rules };
    // A walk-away customer's order turns unpaid when WeChat revokes it.
    this.model = new WalletModel({ clock: o.clock, codeTtlMs: o.codeTtlMs, passwordAbandonMs: this.#rules.revokeUnpaidAfterMs, reverseWindowMs: o.reverseWindowMs });
  }

  issue(wallet: Wallet, behaviour: Behaviour): { code: string; expiresAt: number } {
    const issued = this.model.issueCode(wallet, behaviour);
    this.#overrides.set(issued.code, behaviour);
    return issued;
  }

  setBehaviour(code: string, behaviour: Behaviour): void {
    this.model.setBehaviour(code, behaviour);
    this.#overrides.set(code, behaviour);
  }

  pay(req: { orderNo: string; paymentCode: string; amount: number; currency: string; description: string }): PayResponse {
    this.#revokeDue();
    const fresh = this.model.order(req.orderNo) === undefined;
    if (fresh) {
      const b = this.#overrides.get(req.paymentCode) ?? behaviourFor(req.paymentCode, req.amount);
      // Confirming after the revoke is never confirming: WeChat has closed the order by then.
      if (b.kind === 'password' && b.seconds * 1000 >= this.#rules.revokeUnpaidAfterMs) this.model.setBehaviour(req.paymentCode, { kind: 'walkaway' });
    }
    const answer = this.model.pay(req);
    if (fresh && (answer.result === 'USER_PAYING' || answer.result === 'UNKNOWN')) this.#open.add(req.orderNo);
    return answer;
  }

  query(orderNo: string): QueryResponse {
    this.#revokeDue();
    return this.model.query(orderNo);
  }

  reverse(orderNo: string): WechatReverse {
    this.#revokeDue();
    const order = this.model.order(orderNo);
    if (!order) return { kind: 'not-found' };
    const age = this.#clock.now() - order.createdAt;
    if (age < this.#rules.earliestReverseMs) return { kind: 'too-soon', waitMs: this.#rules.earliestReverseMs - age };
    return { kind: 'done', answer: this.model.reverse(orderNo) };
  }

  refund(req: { orderNo: string; refundNo: string; amount: number }): RefundResponse {
    this.#revokeDue();
    return this.model.refund(req);
  }

  reset(): void {
    this.model.reset();
    this.#overrides = new Map();
    this.#open = new Set();
  }

  /** WeChat closes what is still unpaid at the revoke age. */
  #revokeDue(): void {
    const now = this.#clock.now();
    for (const orderNo of this.#open) {
      const o = this.model.order(orderNo);
      if (!o || (o.state !== 'USERPAYING' && o.state !== 'NOTPAY')) {
        this.#open.delete(orderNo);
        continue;
      }
      if (o.state === 'NOTPAY' && now - o.createdAt >= this.#rules.revokeUnpaidAfterMs) {
        this.model.reverse(orderNo);
        this.#open.delete(orderNo);
      }
    }
  }
}
