/**
 * One exchange with WeChat Pay over HTTPS, classified the way every adapter must: a failure
 * before a byte of the request could have left (refused connection, the server's certificate
 * rejected by us, our client certificate expired) is `not_sent`; everything after is
 * `unknown`. Raw answer bytes come back for the caller to verify before it reads them.
 */
import type { AxiosRequestConfig } from 'axios';
import https from 'node:https';
import type { X509Certificate } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { ScanpayError } from '../../errors.ts';
import type { Operation, RefundRequest, RefundResponse } from '../../protocol/messages.ts';
import type { Acquirer, CallResult } from '../acquirer.ts';
import { DEFAULT_TIMEOUTS } from '../http-acquirer.ts';
import { createAxiosHttp, type AxiosHttp } from '../axios-http.ts';
import { IDLE_SOCKET_MS, keptAliveOptions, MAX_SOCKETS } from '../gateway-pool.ts';
import { transportFailure } from '../call-failure.ts';
import type { ClientCert, WechatCredentials } from './credentials.ts';

export interface Exchange {
  status: number;
  headers: Record<string, string>;
  raw: Buffer;
}

export type Sent = { ok: true; exchange: Exchange; elapsed: () => number } | { ok: false; result: CallResult<never> };

export interface WechatHttpOptions {
  baseUrl: string;
  credentials: WechatCredentials;
  clock: Clock;
  timeoutMs?: Partial<Record<Operation, number>> | undefined;
  onCall?: ((op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void) | undefined;
}

/** What a WeChat adapter (v2 or v3) is built with. */
export interface WechatAcquirerOptions extends WechatHttpOptions {
  /** The terminal's id: v2's device_info, v3's scene_info.device_id, shown in the merchant platform's records. */
  terminalId: string;
  /** v3: called with every trusted platform certificate after a fetch learnt new ones (to keep them across restarts). */
  onPlatformCerts?: (certs: ReadonlyMap<string, X509Certificate>) => void;
}

export class WechatHttp {
  readonly #o: WechatHttpOptions;
  readonly #plain: AxiosHttp;
  readonly #timeouts: Record<Operation, number>;
  #secure: { cert: ClientCert; http: AxiosHttp } | undefined;

  constructor(o: WechatHttpOptions) {
    this.#o = o;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeoutMs };
    this.#plain = this.#client(undefined);
  }

  #client(cert: ClientCert | undefined): AxiosHttp {
    const ca = this.#o.credentials.ca;
    const agent = new https.Agent(keptAliveOptions(IDLE_SOCKET_MS, MAX_SOCKETS, { ...(ca ? { ca } : {}), ...(cert ? cert.tls : {}) }));
    return createAxiosHttp(this.#o.baseUrl, { httpsAgent: agent });
  }

  /** The client with the merchant certificate, rebuilt when the certificate file changed. */
  #withCert(): AxiosHttp | ScanpayError {
    const load = this.#o.credentials.clientCert;
    if (!load) return new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: 'no merchant API certificate configured (backend.wechat.clientCertFile): reverse and refund need it' });
    let cert: ClientCert;
    try {
      cert = load();
    } catch (e) {
      return e instanceof ScanpayError ? e : new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: (e as Error).message, cause: e });
    }
    const now = this.#o.clock.now();
    if (Date.parse(cert.cert.validTo) <= now || Date.parse(cert.cert.validFrom) > now) {
      return new ScanpayError('BACKEND_CLIENT_CERT_EXPIRED', { detail: { validFrom: cert.cert.validFrom, validTo: cert.cert.validTo, serial: cert.cert.serialNumber } });
    }
    if (this.#secure?.cert !== cert) this.#secure = { cert, http: this.#client(cert) };
    return this.#secure.http;
  }

  finish<T>(op: Operation, r: CallResult<T>): CallResult<T> {
    this.#o.onCall?.(op, r.kind, r.latencyMs);
    return r;
  }

  async send(op: Operation, req: AxiosRequestConfig & { url: string }, mutualTls: boolean): Promise<Sent> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const http = mutualTls ? this.#withCert() : this.#plain;
    if (http instanceof ScanpayError) return { ok: false, result: this.finish(op, { kind: 'not_sent', error: http, latencyMs: elapsed() }) };
    try {
      const res = await http.request({ ...req, timeout: this.#timeouts[op] });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      return { ok: true, exchange: { status: res.status, headers, raw: Buffer.from(res.data as ArrayBuffer) }, elapsed };
    } catch (e) {
      const { kind, error } = transportFailure(op, e, 'WeChat Pay');
      return { ok: false, result: this.finish(op, { kind, error, latencyMs: elapsed() }) };
    }
  }

  unknown<T>(op: Operation, code: 'BACKEND_SIGNATURE_INVALID' | 'BACKEND_MALFORMED' | 'BACKEND_UNKNOWN' | 'BACKEND_HTTP_STATUS', message: string, x: Exchange, elapsed: () => number): CallResult<T> {
    const error = new ScanpayError(code, { message, detail: { op, status: x.status, body: x.raw.subarray(0, 512).toString('utf8') } });
    return this.finish(op, { kind: 'unknown', error, latencyMs: elapsed() });
  }
}

/**
 * A WeChat refund must state the order's total, which only the order knows: it is read by a
 * query first. Without a verified query answer the refund is not sent at all (`not_sent`,
 * the outbox tries again); an order WeChat does not know is not refundable.
 */
export async function refundWithTotal(
  acquirer: Pick<Acquirer, 'query'>,
  req: RefundRequest,
  send: (total: number, currency: string) => Promise<CallResult<RefundResponse>>,
): Promise<CallResult<RefundResponse>> {
  const q = await acquirer.query({ orderNo: req.orderNo });
  if (q.kind !== 'answer') return { kind: 'not_sent', error: q.error, latencyMs: q.latencyMs };
  const b = q.body;
  if (b.result === 'UNKNOWN') {
    return { kind: 'not_sent', latencyMs: q.latencyMs, error: new ScanpayError('BACKEND_UNKNOWN', { message: `refund not sent: the order's total could not be read (${b.reasonCode ?? 'UNKNOWN'})` }) };
  }
  if (!b.trade) return { kind: 'answer', latencyMs: q.latencyMs, body: { result: 'FAIL', orderNo: req.orderNo, refundNo: req.refundNo, reasonCode: b.reasonCode ?? 'ORDER_NOT_FOUND', reasonMessage: b.reasonMessage ?? 'no such order' } };
  return send(b.trade.amount, b.trade.currency);
}
