/**
 * One signed Upay v2 exchange: JSON (or gzip, for logs) body, `Authorization: sn MD5(body+key)`,
 * the raw answer back for the caller to judge. Upay answers are not signed, so a plain-HTTP
 * gateway would let anyone on the path forge "PAY_SUCCESS": only https is accepted, except
 * on loopback (the simulator).
 */
import { ScanpayError } from '../../errors.ts';
import { createAxiosHttp, type AxiosHttp } from '../axios-http.ts';
import { IDLE_SOCKET_MS, keptAliveAgents, MAX_SOCKETS } from '../gateway-pool.ts';
import { transportFailure, type Exchange } from '../call-failure.ts';
import { authorization } from './upay-sign.ts';

export type { Exchange };

export function isLoopbackUrl(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

export function assertSafeGateway(baseUrl: string): void {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new ScanpayError('CONFIG_INVALID', { message: `backend.url: ${baseUrl} is not a URL` });
  }
  if (u.protocol !== 'https:' && !isLoopbackUrl(baseUrl)) {
    throw new ScanpayError('CONFIG_INVALID', { message: `backend.url: Upay answers are unsigned, so only TLS vouches for them: use https (got ${u.protocol}//${u.host})` });
  }
}

export class UpayHttp {
  readonly #http: AxiosHttp;

  constructor(baseUrl: string) {
    assertSafeGateway(baseUrl);
    this.#http = createAxiosHttp(baseUrl, keptAliveAgents(IDLE_SOCKET_MS, MAX_SOCKETS));
  }

  async post(path: string, body: Buffer, sn: string, key: string, timeoutMs: number, contentType = 'application/json'): Promise<Exchange> {
    try {
      const res = await this.#http.post(path, body, { timeout: timeoutMs, headers: { 'content-type': contentType, authorization: authorization(sn, body, key) } });
      return { kind: 'answer', status: res.status, body: Buffer.from(res.data as ArrayBuffer).toString('utf8') };
    } catch (e) {
      return transportFailure(path, e);
    }
  }
}
