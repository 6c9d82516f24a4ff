/**
 * The command line's client of the running agent's POS API: finds it through
 * `$SCANPAY_HOME/agent.json` (or SCANPAY_AGENT_URL), has the agent prove it holds the
 * token (agent-proof.ts) before sending it, authenticates with the token file, and turns
 * API errors back into catalog errors, a dead socket into API_AGENT_UNREACHABLE and an
 * impostor or another home's agent into API_AGENT_MISMATCH.
 */
import { readAgentFile } from '../agent-file.ts';
import { loadConfig } from '../config.ts';
import { ERRORS, ScanpayError, type ErrorCode } from '../errors.ts';
import { tokenPath } from '../token.ts';
import type { PosPayment } from '../pos-payment.ts';
import type { RefundView } from '../payment/engine.ts';
import { readFileSync } from 'node:fs';
import { newChallenge, PROOF_PATH, proofMatches } from '../agent-proof.ts';

/** Exit statuses of the commands that talk to the agent (docs/pos-api.md). */
export const EXIT = { ok: 0, other: 1, declined: 2, notCharged: 3, unreachable: 4 } as const;

/** Prints a command's failure and returns its exit status. */
export function failure(e: unknown, err: (line: string) => void): number {
  if (e instanceof ScanpayError) {
    err(`scanpay: ${e.code}: ${e.message}`);
    return e.code === 'API_AGENT_UNREACHABLE' || e.code === 'API_AGENT_MISMATCH' ? EXIT.unreachable : EXIT.other;
  }
  throw e;
}

export interface SseEvent {
  event: string;
  data: unknown;
}

function unreachable(url: string, cause: unknown): ScanpayError {
  return new ScanpayError('API_AGENT_UNREACHABLE', { message: `the scanpay agent at ${url} is not reachable: is \`scanpay run\` running with the same SCANPAY_HOME?`, cause });
}

function mismatch(url: string, home: string | undefined, why: string): ScanpayError {
  const where = home ? `the one for ${home}` : 'the one this token belongs to';
  const fix = home ? `start \`scanpay run\` with SCANPAY_HOME=${home}, or set SCANPAY_AGENT_URL to its address` : 'check the address and the token';
  return new ScanpayError('API_AGENT_MISMATCH', { message: `the agent at ${url} is not ${where} (${why}); nothing was sent to it: ${fix}` });
}

export class PosClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #home: string | undefined;
  #proven: Promise<void> | undefined;

  constructor(o: { baseUrl: string; token: string; home?: string }) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#token = o.token;
    this.#home = o.home;
  }

  /** Once per client: the agent proves it holds the token, else the token is never sent. */
  #prove(): Promise<void> {
    this.#proven ??= (async () => {
      const challenge = newChallenge();
      const url = new URL(this.baseUrl);
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl}${PROOF_PATH}?challenge=${challenge}`, { redirect: 'error' });
      } catch (e) {
        this.#proven = undefined;
        throw unreachable(this.baseUrl, e);
      }
      const body = (await res.json().catch(() => undefined)) as { proof?: unknown } | undefined;
      if (!res.ok) throw mismatch(this.baseUrl, this.#home, `it answered the identity check with HTTP ${res.status}`);
      if (!proofMatches(this.#token, challenge, port, body?.proof)) throw mismatch(this.baseUrl, this.#home, 'it does not hold this home\'s API token');
    })();
    return this.#proven;
  }

  /** The agent of this `$SCANPAY_HOME`: its address and token. */
  static forHome(home: string, env: NodeJS.ProcessEnv = process.env): PosClient {
    const configured = () => {
      const { host, port } = loadConfig(home).api;
      return `http://${host}:${port}`;
    };
    const baseUrl = env.SCANPAY_AGENT_URL ?? readAgentFile(home)?.apiUrl ?? configured();
    let token: string;
    try {
      token = readFileSync(tokenPath(home), 'utf8').trim();
    } catch (e) {
      throw new ScanpayError('API_AGENT_UNREACHABLE', { message: `no API token in ${home}: has \`scanpay run\` ever started with this SCANPAY_HOME?`, cause: e });
    }
    return new PosClient({ baseUrl, token, home });
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    await this.#prove();
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw unreachable(this.baseUrl, e);
    }
    const json = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; detail?: Record<string, unknown> } } | undefined;
    if (res.ok) return json as T;
    const code = json?.error?.code;
    if (code && Object.hasOwn(ERRORS, code)) throw new ScanpayError(code as ErrorCode, { message: json!.error!.message, ...(json!.error!.detail ? { detail: json!.error!.detail } : {}) });
    throw new ScanpayError('API_INTERNAL', { message: `the agent answered HTTP ${res.status}` });
  }

  create(req: { id: string; amount: number; lane?: string | undefined; paymentCode?: string | undefined; description?: string | undefined }): Promise<PosPayment> {
    return this.request('POST', '/v1/payments', req);
  }

  get(id: string): Promise<PosPayment> {
    return this.request('GET', `/v1/payments/${encodeURIComponent(id)}`);
  }

  list(): Promise<{ payments: PosPayment[] }> {
    return this.request('GET', '/v1/payments');
  }

  cancel(id: string): Promise<PosPayment> {
    return this.request('POST', `/v1/payments/${encodeURIComponent(id)}/cancel`);
  }

  refund(id: string, req: { refundId: string; amount?: number }): Promise<RefundView> {
    return this.request('POST', `/v1/payments/${encodeURIComponent(id)}/refunds`, req);
  }

  /**
   * Reads the event stream until `signal` aborts; `onEvent` is called for each event. Resolves
   * when aborted; rejects with API_AGENT_UNREACHABLE when the agent goes away. `hold`: the
   * POS id of the payment this client creates and waits for (the agent ends it, if nothing
   * was sent yet, when this stream closes: the client was killed or gave up).
   */
  async events(onEvent: (e: SseEvent) => void, signal: AbortSignal, options: { hold?: string } = {}): Promise<void> {
    await this.#prove();
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/v1/events${options.hold === undefined ? '' : `?hold=${encodeURIComponent(options.hold)}`}`, { headers: { authorization: `Bearer ${this.#token}` }, signal });
    } catch (e) {
      if (signal.aborted) return;
      throw unreachable(this.baseUrl, e);
    }
    if (!res.ok || !res.body) throw new ScanpayError(res.status === 401 ? 'API_UNAUTHORIZED' : 'API_INTERNAL', { message: `event stream refused: HTTP ${res.status}` });
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) onEvent({ event, data: JSON.parse(data) });
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      throw unreachable(this.baseUrl, e);
    }
    if (!signal.aborted) throw unreachable(this.baseUrl, new Error('the event stream ended'));
  }
}
