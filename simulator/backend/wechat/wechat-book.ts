/**
 * The simulated wallets (simulator/backend/wallet-model.ts) as WeChat's wire layers see
 * them. The model enforces WeChat's rules (wechatWire gives it them: no tombstone, reverse
 * refused while the customer pays, unpaid orders revoked at 45 s); the book only tells a
 * reverse sooner than the earliest apart, since WeChat answers it with its own message
 * ("try again in N seconds") rather than as a refused reverse of a paying customer, and
 * names an order the acquirer closed for want of payment as WeChat does: REVOKED.
 */
import type { Clock } from '../../../agent/clock.ts';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse, Trade } from '../../../agent/protocol/messages.ts';
import type { WalletModel } from '../wallet-model.ts';

export type WechatReverse = { kind: 'not-found' } | { kind: 'too-soon'; waitMs: number } | { kind: 'done'; answer: ReverseResponse };

export class WechatBook {
  readonly #model: WalletModel;
  readonly #clock: Clock;
  readonly #earliestReverseMs: number;

  constructor(model: WalletModel, earliestReverseMs: number) {
    this.#model = model;
    this.#clock = model.clock;
    this.#earliestReverseMs = earliestReverseMs;
  }

  pay(req: { orderNo: string; paymentCode: string; amount: number; currency: string; description: string }): PayResponse {
    return revoked(this.#model.pay(req));
  }

  query(orderNo: string): QueryResponse {
    return revoked(this.#model.query(orderNo));
  }

  reverse(orderNo: string): WechatReverse {
    const order = this.#model.order(orderNo);
    if (!order) return { kind: 'not-found' };
    const age = this.#clock.now() - order.createdAt;
    if (age < this.#earliestReverseMs) return { kind: 'too-soon', waitMs: this.#earliestReverseMs - age };
    return { kind: 'done', answer: this.#model.reverse(orderNo) };
  }

  refund(req: { orderNo: string; refundNo: string; amount: number }): RefundResponse {
    return this.#model.refund(req);
  }
}

/** WeChat revokes an unpaid micropay order itself (the model's CLOSED): its trade_state is REVOKED. */
function revoked<T extends { trade?: Trade | undefined }>(answer: T): T {
  return answer.trade?.state === 'CLOSED' ? { ...answer, trade: { ...answer.trade, state: 'REVOKED' } } : answer;
}
