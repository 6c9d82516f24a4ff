/**
 * Shouqianba Upay v2 (/upay/v2/pay, query, cancel, refund) behind the engine's `Acquirer`
 * interface. Signed with the terminal's current key, read from `credentials()` at each call
 * so a check-in's new key applies to the next request (the previous key stays valid for
 * requests already under way). Order numbers are Upay's `client_sn`.
 */
import type { Clock } from '../../clock.ts';
import type { Operation, PayRequest, QueryRequest, RefundRequest, ReverseRequest } from '../../protocol/messages.ts';
import type { Acquirer, CallResult } from '../acquirer.ts';
import { judgedCall } from '../call-failure.ts';
import { DEFAULT_TIMEOUTS } from '../http-acquirer.ts';
import { cancelAnswer, envelope, payAnswer, queryAnswer, refundAnswer, UpayUnreadable, type Envelope } from './upay-answers.ts';
import { UpayHttp } from './upay-http.ts';

export interface UpayCredentials {
  terminalSn: string;
  terminalKey: string;
}

export interface UpayAcquirerOptions {
  baseUrl: string;
  credentials: () => UpayCredentials;
  clock: Clock;
  /** Upay's `operator`: who took the payment (the lane's device by default). */
  operator?: string;
  timeoutMs?: Partial<Record<Operation, number>>;
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
}

export const UPAY_PATHS = { pay: '/upay/v2/pay', query: '/upay/v2/query', reverse: '/upay/v2/cancel', refund: '/upay/v2/refund' } as const;

export class UpayAcquirer implements Acquirer {
  readonly #o: UpayAcquirerOptions;
  readonly #http: UpayHttp;
  readonly #timeouts: Record<Operation, number>;

  constructor(o: UpayAcquirerOptions) {
    this.#o = o;
    this.#http = new UpayHttp(o.baseUrl);
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeoutMs };
  }

  pay(req: PayRequest) {
    const biz = {
      client_sn: req.orderNo,
      total_amount: String(req.amount),
      dynamic_id: req.paymentCode,
      subject: (req.description || 'scanpay').slice(0, 64),
      operator: this.#operator(),
    };
    return this.#call('pay', biz, (e) => payAnswer(e, req));
  }

  query(req: QueryRequest) {
    return this.#call('query', { client_sn: req.orderNo }, (e) => queryAnswer(e, req.orderNo));
  }

  reverse(req: ReverseRequest) {
    return this.#call('reverse', { client_sn: req.orderNo }, (e) => cancelAnswer(e, req.orderNo));
  }

  refund(req: RefundRequest) {
    // refund_request_no is at most 20 characters: the refund number's tail, unique per order.
    const biz = { client_sn: req.orderNo, refund_request_no: req.refundNo.slice(-20), refund_amount: String(req.amount), operator: this.#operator() };
    return this.#call('refund', biz, (e) => refundAnswer(e, req));
  }

  #operator(): string {
    return (this.#o.operator ?? this.#o.credentials().terminalSn).slice(0, 32);
  }

  #call<T>(op: Operation, fields: Record<string, string>, read: (e: Envelope) => T): Promise<CallResult<T>> {
    const { terminalSn, terminalKey } = this.#o.credentials();
    const body = Buffer.from(JSON.stringify({ terminal_sn: terminalSn, ...fields }));
    return judgedCall({
      op,
      acquirer: 'Upay',
      exchange: () => this.#http.post(UPAY_PATHS[op], body, terminalSn, terminalKey, this.#timeouts[op]),
      read: (text) => read(envelope(JSON.parse(text))),
      unreadable: (e) => e instanceof UpayUnreadable || e instanceof SyntaxError,
      onCall: this.#o.onCall,
    });
  }
}
