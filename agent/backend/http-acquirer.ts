/**
 * Protocol v1 over HTTP (docs/protocol.md), on node's own client (protocol-http.ts). Signs
 * every request, verifies every answer against the request it answers, and classifies every
 * failure as either "provably not sent" or "unknown". Nothing here ever turns a failure into
 * a decline.
 */
import type { z } from 'zod';
import type { Clock } from '../clock.ts';
import { ScanpayError } from '../errors.ts';
import { PATHS, RESPONSE_SCHEMAS, type Operation } from '../protocol/messages.ts';
import { HEADER, NonceCache, signRequest, verifyResponse, DEFAULT_SKEW_MS } from '../protocol/signing.ts';
import type { Acquirer, CallResult } from './acquirer.ts';
import { IDLE_SOCKET_MS, keptAliveAgents, MAX_SOCKETS } from './gateway-pool.ts';
import { createProtocolHttp, type ProtocolHttp } from './protocol-http.ts';
import { transportFailure } from './call-failure.ts';
import type { ClockOffset } from '../clock-offset.ts';

export interface HttpAcquirerOptions {
  baseUrl: string;
  terminalId: string;
  key: Buffer;
  clock: Clock;
  /** Per-operation deadlines, wall-clock, from the send to the last byte of the answer; a timeout is an unknown outcome. */
  timeoutMs?: Partial<Record<Operation, number>>;
  skewMs?: number;
  /** How long an idle kept-alive connection is kept; see IDLE_SOCKET_MS. */
  idleSocketMs?: number;
  /** Called with each finished call, for metrics. */
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
  /** Issue 12 (agent/clock-offset.ts): signs with the backend's time when the device clock is off, and names a skew refusal. */
  clockOffset?: ClockOffset;
  /** Answers' nonces held against replay (agent/protocol/signing.ts, DEFAULT_NONCE_CAPACITY). */
  nonceCapacity?: number;
}

export const DEFAULT_TIMEOUTS: Record<Operation, number> = { pay: 15_000, query: 5_000, reverse: 10_000, refund: 10_000 };


export class HttpAcquirer implements Acquirer {
  readonly #http: ProtocolHttp;
  /**
   * Held (long-poll) queries get their own sockets: on the shared pool of 8, eight
   * payments waiting for their customers would make every other request, pays included,
   * queue behind them for up to waitMs.
   */
  readonly #hold: ProtocolHttp;
  readonly #o: HttpAcquirerOptions;
  readonly #timeouts: Record<Operation, number>;
  readonly #nonces: NonceCache;
  #key: Buffer;

  constructor(o: HttpAcquirerOptions) {
    this.#o = o;
    this.#key = o.key;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeoutMs };
    this.#nonces = new NonceCache(o.skewMs ?? DEFAULT_SKEW_MS, o.nonceCapacity);
    const idle = o.idleSocketMs ?? IDLE_SOCKET_MS;
    this.#http = createProtocolHttp(o.baseUrl, keptAliveAgents(idle, MAX_SOCKETS));
    this.#hold = createProtocolHttp(o.baseUrl, keptAliveAgents(idle));
  }

  /**
   * Signs new requests with `key` (a backend-requested rotation). A call already under
   * way keeps the key it signed with and verifies its answer with it: the backend accepts
   * the old key for a grace window, so nothing in flight is lost in the switch.
   */
  setKey(key: Buffer): void {
    this.#key = key;
  }

  pay(req: Parameters<Acquirer['pay']>[0]) {
    return this.#call('pay', req, RESPONSE_SCHEMAS.pay);
  }

  query(req: Parameters<Acquirer['query']>[0]) {
    return this.#call('query', req, RESPONSE_SCHEMAS.query);
  }

  reverse(req: Parameters<Acquirer['reverse']>[0]) {
    return this.#call('reverse', req, RESPONSE_SCHEMAS.reverse);
  }

  refund(req: Parameters<Acquirer['refund']>[0]) {
    return this.#call('refund', req, RESPONSE_SCHEMAS.refund);
  }

  async #call<S extends z.ZodType>(op: Operation, req: { orderNo: string; traceId?: string | undefined; waitMs?: number | undefined }, schema: S): Promise<CallResult<z.infer<S>>> {
    const path = PATHS[op];
    const body = Buffer.from(JSON.stringify(req));
    const { terminalId, clock } = this.#o;
    const key = this.#key;
    const sentAt = clock.now();
    const signed = signRequest({ method: 'POST', path, terminalId, body }, key, this.#o.clockOffset?.now() ?? sentAt);
    const started = performance.now();
    const finish = (r: CallResult<z.infer<S>>): CallResult<z.infer<S>> => {
      this.#o.onCall?.(op, r.kind, r.latencyMs);
      return r;
    };
    const elapsed = () => Math.round(performance.now() - started);

    // A long-poll query may be held up to waitMs: the timeout is the margin on top.
    const deadlineMs = this.#timeouts[op] + (req.waitMs ?? 0);
    let res;
    try {
      // One wall-clock deadline over the whole exchange: a peer dripping the body must not
      // hold the call (and a cashier's cancel behind it) for minutes.
      res = await (req.waitMs ? this.#hold : this.#http).post(path, body, {
        deadlineMs,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          [HEADER.terminal]: terminalId,
          ...signed,
          ...(req.traceId ? { [HEADER.trace]: req.traceId } : {}),
        },
      });
    } catch (e) {
      return finish({ ...transportFailure(op, e), latencyMs: elapsed() });
    }

    const raw = res.body;
    const answered = { status: res.status, body: raw, headers: res.headers as Record<string, unknown>, sentAt };
    try {
      verifyResponse(
        { method: 'POST', path, terminalId, body: raw, status: res.status, requestNonce: signed[HEADER.nonce] },
        res.headers as Record<string, string>,
        key,
        { now: this.#o.clockOffset?.now() ?? clock.now(), nonces: this.#nonces, skewMs: this.#o.skewMs },
      );
      this.#o.clockOffset?.noteAnswer({ ...answered, verified: true }); // issue 12 hook
    } catch (e) {
      const skew = this.#o.clockOffset?.noteAnswer({ ...answered, verified: false }); // issue 12 hook
      if (skew) return finish({ kind: 'unknown', latencyMs: elapsed(), error: skew });
      // A gateway's 5xx page carries no signature: the status is the first cause, the
      // missing signature only follows from it. Either way the answer counts as none.
      if (res.status !== 200) {
        return finish({
          kind: 'unknown',
          latencyMs: elapsed(),
          error: new ScanpayError('BACKEND_HTTP_STATUS', {
            message: `backend answered ${op} with HTTP ${res.status} (unverified: ${(e as ScanpayError).code ?? (e as Error).message})`,
            cause: e,
            detail: { op, status: res.status, body: raw.subarray(0, 512).toString('utf8') },
          }),
        });
      }
      return finish({
        kind: 'unknown',
        latencyMs: elapsed(),
        error: new ScanpayError('BACKEND_SIGNATURE_INVALID', {
          message: `answer to ${op} failed verification (${(e as ScanpayError).code ?? (e as Error).message}): treated as no answer`,
          cause: e,
          detail: { op, status: res.status, body: raw.subarray(0, 512).toString('utf8') },
        }),
      });
    }
    if (res.status !== 200) {
      return finish({
        kind: 'unknown',
        latencyMs: elapsed(),
        error: new ScanpayError('BACKEND_HTTP_STATUS', { message: `backend answered ${op} with HTTP ${res.status}`, detail: { op, status: res.status, body: raw.subarray(0, 512).toString('utf8') } }),
      });
    }
    let parsed: z.infer<S>;
    try {
      const result = schema.safeParse(JSON.parse(raw.toString('utf8')));
      if (!result.success) throw new Error(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      parsed = result.data;
    } catch (e) {
      return finish({
        kind: 'unknown',
        latencyMs: elapsed(),
        error: new ScanpayError('BACKEND_MALFORMED', { message: `answer to ${op} is malformed (${(e as Error).message})`, cause: e, detail: { op, body: raw.subarray(0, 512).toString('utf8') } }),
      });
    }
    if ((parsed as { orderNo?: string }).orderNo !== req.orderNo) {
      return finish({
        kind: 'unknown',
        latencyMs: elapsed(),
        error: new ScanpayError('BACKEND_MALFORMED', { message: `answer to ${op} names another order`, detail: { op } }),
      });
    }
    return finish({ kind: 'answer', body: parsed, latencyMs: elapsed() });
  }
}
