/**
 * WeChat Pay API v3 behind the `Acquirer` interface: codepay, query, reverse and refund in
 * JSON (pay.weixin.qq.com/docs/merchant/apis/code-payment-v3/direct/code-pay.html, reverse.html;
 * request model in wechatpay-apiv3/wechatpay-go services/payments/code). Every request is
 * signed with the merchant key; every answer, whatever its status, must carry a valid
 * platform signature over `TIMESTAMP\nNONCE\nBODY\n`, or it is no answer at all.
 */
import type { Operation, PayRequest, PayResponse, QueryRequest, QueryResponse, RefundRequest, RefundResponse, ReverseRequest, ReverseResponse } from '../../protocol/messages.ts';
import type { Acquirer, CallResult } from '../acquirer.ts';
import type { Mapped } from './v2-answers.ts';
import type { X509Certificate } from 'node:crypto';
import { CERTIFICATES_PATH, readCertificatesAnswer } from './platform-certs.ts';
import { mapCodepay, mapQueryV3, mapRefundV3, mapReverseV3 } from './v3-answers.ts';
import { newNonce, rsaVerify, v3AnswerMessage, v3Authorization, V3_HEADERS } from './v3-signing.ts';
import { localIp } from './wechat-v2-acquirer.ts';
import { refundWithTotal, WechatHttp, type WechatAcquirerOptions } from './wechat-http.ts';

export const V3_PATHS = {
  pay: '/v3/pay/transactions/codepay',
  query: '/v3/pay/transactions/out-trade-no/{out_trade_no}',
  reverse: '/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse',
  refund: '/v3/refund/domestic/refunds',
} as const satisfies Record<Operation, string>;

/** How far the platform's timestamp may stray from our clock before an answer is refused (WeChat's SDKs use 5 minutes). */
const ANSWER_SKEW_S = 300;

export class WechatV3Acquirer implements Acquirer {
  readonly #o: WechatAcquirerOptions;
  readonly #http: WechatHttp;
  #refreshing: Promise<void> | undefined;

  constructor(o: WechatAcquirerOptions) {
    this.#o = o;
    const c = o.credentials;
    if (!c.merchantKey || !c.serialNo || !c.platformCerts?.size) throw new Error('WechatV3Acquirer needs the merchant key, its serial and a platform certificate');
    this.#http = new WechatHttp(o);
  }

  pay(req: PayRequest): Promise<CallResult<PayResponse>> {
    const c = this.#o.credentials;
    const body = {
      appid: c.appId,
      mchid: c.mchId,
      description: (req.description || 'scanpay').slice(0, 127),
      out_trade_no: req.orderNo,
      payer: { auth_code: req.paymentCode },
      amount: { total: req.amount, currency: req.currency },
      scene_info: { device_ip: c.deviceIp ?? localIp(), store_info: { out_id: this.#o.terminalId.slice(0, 32) } },
    };
    return this.#call('pay', 'POST', V3_PATHS.pay, body, (s, t) => mapCodepay(s, t, req.orderNo));
  }

  query(req: QueryRequest): Promise<CallResult<QueryResponse>> {
    const url = `${orderPath('query', req.orderNo)}?mchid=${encodeURIComponent(this.#o.credentials.mchId)}`;
    return this.#call('query', 'GET', url, undefined, (s, t) => mapQueryV3(s, t, req.orderNo));
  }

  reverse(req: ReverseRequest): Promise<CallResult<ReverseResponse>> {
    const c = this.#o.credentials;
    return this.#call('reverse', 'POST', orderPath('reverse', req.orderNo), { appid: c.appId, mchid: c.mchId }, (s, t) => mapReverseV3(s, t, req.orderNo));
  }

  refund(req: RefundRequest): Promise<CallResult<RefundResponse>> {
    return refundWithTotal(this, req, (total, currency) =>
      this.#call('refund', 'POST', V3_PATHS.refund, { out_trade_no: req.orderNo, out_refund_no: req.refundNo, amount: { refund: req.amount, total, currency } }, (s, t) =>
        mapRefundV3(s, t, req.orderNo, req.refundNo),
      ),
    );
  }

  async #call<T>(op: Operation, method: 'GET' | 'POST', url: string, body: unknown, map: (status: number, text: string) => Mapped<T>): Promise<CallResult<T>> {
    const c = this.#o.credentials;
    const text = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(Math.floor(this.#o.clock.now() / 1000));
    const authorization = v3Authorization({ mchid: c.mchId, serialNo: c.serialNo!, key: c.merchantKey!, method, url, body: text, timestamp, nonce: newNonce() });
    const sent = await this.#http.send(
      op,
      { method, url, ...(body === undefined ? {} : { data: text }), headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) } },
      false,
    );
    if (!sent.ok) return sent.result;
    const { exchange: x, elapsed } = sent;
    const raw = x.raw.toString('utf8');
    const h = x.headers;
    const serial = (h[V3_HEADERS.serial] ?? '').toUpperCase();
    // A serial we do not know yet: WeChat has rotated its certificate; fetch the new list once.
    if (serial && !c.platformCerts!.has(serial) && c.apiV3Key) await this.#refreshPlatformCerts();
    const cert = c.platformCerts!.get(serial);
    const ts = Number(h[V3_HEADERS.timestamp]);
    const signature = h[V3_HEADERS.signature];
    if (!signature || !cert || !h[V3_HEADERS.nonce] || !Number.isInteger(ts)) {
      return this.#http.unknown(op, 'BACKEND_SIGNATURE_INVALID', `answer to ${op} (HTTP ${x.status}) is unsigned or names an unknown platform certificate: treated as no answer`, x, elapsed);
    }
    if (Math.abs(ts - Number(timestamp)) > ANSWER_SKEW_S) {
      return this.#http.unknown(op, 'BACKEND_SIGNATURE_INVALID', `answer to ${op} is timestamped ${ts}, more than ${ANSWER_SKEW_S} s from our clock: a replay, or the device clock is wrong`, x, elapsed);
    }
    if (!rsaVerify(v3AnswerMessage(h[V3_HEADERS.timestamp]!, h[V3_HEADERS.nonce]!, raw), signature, cert)) {
      return this.#http.unknown(op, 'BACKEND_SIGNATURE_INVALID', `answer to ${op} (HTTP ${x.status}) is badly signed: treated as no answer`, x, elapsed);
    }
    if (x.status >= 500 && !raw) return this.#http.unknown(op, 'BACKEND_HTTP_STATUS', `WeChat answered ${op} with HTTP ${x.status}`, x, elapsed);
    const m = map(x.status, raw);
    if ('malformed' in m) return this.#http.unknown(op, 'BACKEND_MALFORMED', `answer to ${op}: ${m.malformed}`, x, elapsed);
    return this.#http.finish(op, { kind: 'answer', body: m.body, latencyMs: elapsed() });
  }
  /**
   * Fetches /v3/certificates and keeps every certificate in it, by serial, beside those
   * already known. The list is encrypted under the APIv3 key (AEAD: only WeChat and the
   * merchant can have made it), and its answer must verify with a certificate we already
   * trust or one it delivers, as WeChat's certificate downloader checks it. Concurrent
   * calls share one fetch; a failed fetch changes nothing (the answer stays unverified).
   */
  #refreshPlatformCerts(): Promise<void> {
    this.#refreshing ??= (async () => {
      const c = this.#o.credentials;
      const timestamp = String(Math.floor(this.#o.clock.now() / 1000));
      const authorization = v3Authorization({ mchid: c.mchId, serialNo: c.serialNo!, key: c.merchantKey!, method: 'GET', url: CERTIFICATES_PATH, body: '', timestamp, nonce: newNonce() });
      // Timed and counted as a query: it is a read, with a query's timeout.
      const sent = await this.#http.send('query', { method: 'GET', url: CERTIFICATES_PATH, headers: { authorization, accept: 'application/json' } }, false);
      if (!sent.ok || sent.exchange.status !== 200) return;
      const x = sent.exchange;
      const raw = x.raw.toString('utf8');
      let fetched: Map<string, X509Certificate>;
      try {
        fetched = readCertificatesAnswer(raw, c.apiV3Key!);
      } catch {
        return;
      }
      const h = x.headers;
      const serial = (h[V3_HEADERS.serial] ?? '').toUpperCase();
      const signer = c.platformCerts!.get(serial) ?? fetched.get(serial);
      const signature = h[V3_HEADERS.signature];
      if (!signer || !signature || !rsaVerify(v3AnswerMessage(h[V3_HEADERS.timestamp] ?? '', h[V3_HEADERS.nonce] ?? '', raw), signature, signer)) return;
      const now = this.#o.clock.now();
      const known = c.platformCerts!.size;
      for (const [s, cert] of fetched) if (Date.parse(cert.validTo) > now) c.platformCerts!.set(s, cert);
      if (c.platformCerts!.size > known) this.#o.onPlatformCerts?.(c.platformCerts!);
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }
}

function orderPath(op: 'query' | 'reverse', orderNo: string): string {
  return V3_PATHS[op].replace('{out_trade_no}', encodeURIComponent(orderNo));
}
