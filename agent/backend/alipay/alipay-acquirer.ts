/**
 * Alipay OpenAPI (alipay.trade.pay in the bar_code scene, query, cancel, refund) behind the
 * engine's `Acquirer` interface. Requests are form POSTs to the gateway signed with the
 * app's private key (RSA2); every answer is verified with Alipay's public key over the raw
 * `*_response` text before a single field is read. Nothing unverified is an answer.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { ScanpayError } from '../../errors.ts';
import type { Operation, PayRequest, QueryRequest, RefundRequest, ReverseRequest } from '../../protocol/messages.ts';
import type { Acquirer, CallResult } from '../acquirer.ts';
import { judgedCall, noAnswer, transportFailure } from '../call-failure.ts';
import { DEFAULT_TIMEOUTS } from '../http-acquirer.ts';
import { createAxiosHttp, type AxiosHttp } from '../axios-http.ts';
import { IDLE_SOCKET_MS, keptAliveAgents, MAX_SOCKETS } from '../gateway-pool.ts';
import { AnswerUnreadable, cancelAnswer, METHODS, payAnswer, queryAnswer, refundAnswer, responseKeyOf } from './alipay-answers.ts';
import { rsa2Sign, signContent, verifyAnswer } from './alipay-sign.ts';
import { beijingTimestamp } from './beijing-time.ts';
import { fenToYuan } from './yuan.ts';

export interface AlipayCredentials {
  appId: string;
  /** The app's private key: signs requests. */
  appPrivateKey: KeyObject;
  /** Alipay's public key: verifies answers. */
  alipayPublicKey: KeyObject;
}

export interface AlipayAcquirerOptions extends AlipayCredentials {
  /** The gateway, e.g. https://openapi.alipay.com/gateway.do */
  gatewayUrl: string;
  clock: Clock;
  /** Sent as biz_content.terminal_id, so Alipay's reports name the lane's device. */
  terminalId?: string;
  timeoutMs?: Partial<Record<Operation, number>>;
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
}

/** The common parameters outside biz_content go in the query string, as the official SDK sends them. */
const URL_PARAMS = ['app_id', 'method', 'format', 'charset', 'sign_type', 'sign', 'timestamp', 'version'];

export class AlipayAcquirer implements Acquirer {
  readonly #o: AlipayAcquirerOptions;
  readonly #http: AxiosHttp;
  readonly #timeouts: Record<Operation, number>;

  constructor(o: AlipayAcquirerOptions) {
    this.#o = o;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeoutMs };
    this.#http = createAxiosHttp(o.gatewayUrl, keptAliveAgents(IDLE_SOCKET_MS, MAX_SOCKETS));
  }

  pay(req: PayRequest) {
    if (req.currency !== 'CNY') {
      const error = new ScanpayError('BACKEND_NOT_SENT', { message: `Alipay bar_code payments are in CNY; this payment is in ${req.currency}`, detail: { op: 'pay' } });
      return Promise.resolve<CallResult<never>>({ kind: 'not_sent', error, latencyMs: 0 });
    }
    const biz = {
      out_trade_no: req.orderNo,
      scene: 'bar_code',
      auth_code: req.paymentCode,
      subject: req.description || 'scanpay',
      total_amount: fenToYuan(req.amount),
      ...(this.#o.terminalId ? { terminal_id: this.#o.terminalId } : {}),
    };
    return this.#call('pay', biz, (d) => payAnswer(d, req));
  }

  query(req: QueryRequest) {
    // Alipay has no long-poll: waitMs is not sent, the engine's schedule does the waiting.
    return this.#call('query', { out_trade_no: req.orderNo }, (d) => queryAnswer(d, req.orderNo));
  }

  reverse(req: ReverseRequest) {
    return this.#call('reverse', { out_trade_no: req.orderNo }, (d) => cancelAnswer(d, req.orderNo));
  }

  refund(req: RefundRequest) {
    const biz = { out_trade_no: req.orderNo, out_request_no: req.refundNo, refund_amount: fenToYuan(req.amount) };
    return this.#call('refund', biz, (d) => refundAnswer(d, req));
  }

  /** The signed form parameters of one call (exported shape for the tests and the simulator). */
  signedParams(op: Operation, biz: Record<string, string>): Record<string, string> {
    const params: Record<string, string> = {
      app_id: this.#o.appId,
      method: METHODS[op],
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: beijingTimestamp(this.#o.clock.now()),
      version: '1.0',
      biz_content: JSON.stringify(biz),
    };
    params.sign = rsa2Sign(signContent(params), this.#o.appPrivateKey);
    return params;
  }

  #call<T>(op: Operation, biz: Record<string, string>, read: (d: Record<string, unknown>) => T): Promise<CallResult<T>> {
    const params = this.signedParams(op, biz);
    const query = new URLSearchParams(URL_PARAMS.map((k) => [k, params[k]!]));
    const form = new URLSearchParams({ biz_content: params.biz_content! });
    return judgedCall({
      op,
      acquirer: 'Alipay',
      exchange: async () => {
        try {
          const res = await this.#http.post('', form.toString(), {
            params: query,
            timeout: this.#timeouts[op],
            headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
          });
          return { kind: 'answer', status: res.status, body: Buffer.from(res.data as ArrayBuffer).toString('utf8') };
        } catch (e) {
          return transportFailure(op, e);
        }
      },
      read: (body) => {
        const verified = verifyAnswer(body, responseKeyOf(METHODS[op]), this.#o.alipayPublicKey);
        if (!verified.ok) throw noAnswer('BACKEND_SIGNATURE_INVALID', op, `answer to ${op} not verified (${verified.why}): treated as no answer`, body);
        return read(verified.data);
      },
      unreadable: (e) => e instanceof AnswerUnreadable,
      onCall: this.#o.onCall,
    });
  }
}
