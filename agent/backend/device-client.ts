/**
 * The device operations of protocol v1 (activate, params, heartbeat, rotate-key, upload,
 * settle) over HTTP. Unlike payments, these are all safe to repeat, so every failure is
 * just a typed error; the caller retries on its own schedule.
 */
import type { z } from 'zod';
import type { Clock } from '../clock.ts';
import { ScanpayError, isScanpayError } from '../errors.ts';
import { activateHelloResponse, DEVICE_PATHS, DEVICE_REQUESTS, DEVICE_RESPONSES, type ActivateHelloResponse, type DeviceOperation } from '../protocol/device-messages.ts';
import { HEADER, NonceCache, signRequest, verifyResponse } from '../protocol/signing.ts';
import { transportFailure } from './call-failure.ts';
import { IDLE_SOCKET_MS, keptAliveAgents } from './gateway-pool.ts';
import { createProtocolHttp, type ProtocolHttp } from './protocol-http.ts';

export interface Credentials {
  terminalId: string;
  key: Buffer;
}

export interface DeviceClientOptions {
  baseUrl: string;
  clock: Clock;
  /** Read at each call: a rotated key is used from the next call on. */
  credentials: () => Credentials;
  /** Each call's wall-clock deadline, from the send to the last byte of the answer. */
  timeoutMs?: number;
}

export interface DeviceAnswer<T> {
  body: T;
  latencyMs: number;
}

type Answer<Op extends DeviceOperation> = z.output<(typeof DEVICE_RESPONSES)[Op]>;

export class DeviceClient {
  readonly #o: DeviceClientOptions;
  readonly #http: ProtocolHttp;
  readonly #deadlineMs: number;
  readonly #nonces = new NonceCache();

  constructor(o: DeviceClientOptions) {
    this.#o = o;
    this.#http = createProtocolHttp(o.baseUrl, keptAliveAgents(IDLE_SOCKET_MS));
    this.#deadlineMs = o.timeoutMs ?? 10_000;
  }

  /**
   * Step 1 of an activation, the one unsigned exchange (docs/protocol.md): its answer
   * cannot be verified, so nothing in it is trusted beyond what the signed step 2 proves.
   */
  async hello(body: z.input<typeof DEVICE_REQUESTS.activateHello>): Promise<ActivateHelloResponse> {
    const path = DEVICE_PATHS.activateHello;
    const sentAt = this.#o.clock.now();
    let res;
    try {
      res = await this.#http.post(path, Buffer.from(JSON.stringify(body)), { deadlineMs: this.#deadlineMs, headers: { 'content-type': 'application/json; charset=utf-8' } });
    } catch (e) {
      throw transportError('activateHello', this.#o.baseUrl, e);
    }
    const bytes = res.body;
    if (res.status !== 200) throw refusal('activateHello', res.status, bytes, sentAt);
    try {
      return activateHelloResponse.parse(JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      throw new ScanpayError('BACKEND_MALFORMED', { message: `answer to activateHello is malformed (${(e as Error).message})`, cause: e, detail: { op: 'activateHello' } });
    }
  }

  /** Throws a ScanpayError; a refusal for clock skew carries `detail.skewMs` (device minus backend). */
  async call<Op extends DeviceOperation>(op: Op, body: unknown, credentials = this.#o.credentials()): Promise<DeviceAnswer<Answer<Op>>> {
    const path = DEVICE_PATHS[op];
    const raw = Buffer.from(JSON.stringify(body));
    const { terminalId, key } = credentials;
    const sentAt = this.#o.clock.now();
    const signed = signRequest({ method: 'POST', path, terminalId, body: raw }, key, sentAt);
    const started = performance.now();
    let res;
    try {
      res = await this.#http.post(path, raw, { deadlineMs: this.#deadlineMs, headers: { 'content-type': 'application/json; charset=utf-8', [HEADER.terminal]: terminalId, ...signed } });
    } catch (e) {
      throw transportError(op, this.#o.baseUrl, e);
    }
    const latencyMs = Math.round(performance.now() - started);
    const bytes = res.body;
    if (res.status !== 200) throw refusal(op, res.status, bytes, sentAt);
    try {
      verifyResponse({ method: 'POST', path, terminalId, body: bytes, status: res.status, requestNonce: signed[HEADER.nonce] }, res.headers as Record<string, string>, key, { now: this.#o.clock.now(), nonces: this.#nonces });
    } catch (e) {
      throw new ScanpayError('BACKEND_SIGNATURE_INVALID', { message: `answer to ${op} failed verification (${isScanpayError(e) ? e.code : (e as Error).message})`, cause: e, detail: { op } });
    }
    try {
      const parsed = DEVICE_RESPONSES[op].safeParse(JSON.parse(bytes.toString('utf8')));
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      return { body: parsed.data as Answer<Op>, latencyMs };
    } catch (e) {
      throw new ScanpayError('BACKEND_MALFORMED', { message: `answer to ${op} is malformed (${(e as Error).message})`, cause: e, detail: { op } });
    }
  }
}

/** Not sent or unknown by the rule every backend client follows (call-failure.ts). */
function transportError(op: DeviceOperation, baseUrl: string, e: unknown): ScanpayError {
  return transportFailure(op, e, `the backend at ${baseUrl}`).error;
}

/** A non-200 answer, unsigned or not: named by its protocol code when it has one. */
function refusal(op: DeviceOperation, status: number, bytes: Buffer, sentAt: number): ScanpayError {
  let body: { error?: { code?: string; message?: string }; serverTime?: number } = {};
  try {
    body = JSON.parse(bytes.toString('utf8')) as typeof body;
  } catch {
    // Not JSON: a proxy's error page; the status says enough.
  }
  const code = body.error?.code;
  const detail = { op, status, code, ...(typeof body.serverTime === 'number' ? { serverTime: body.serverTime, skewMs: sentAt - body.serverTime } : {}) };
  if (code === 'PROTO_TIMESTAMP_SKEW') return new ScanpayError('PROTO_TIMESTAMP_SKEW', { message: `the backend refused ${op}: this device's clock is off by about ${Math.round((detail.skewMs ?? 0) / 1000)} s`, detail });
  // At step 2 a signature that does not verify means the code was wrong.
  if ((op === 'activate' && status === 401) || (op === 'activateHello' && code === 'PROTO_UNKNOWN_TERMINAL')) {
    return new ScanpayError('CONFIG_ACTIVATION_REFUSED', { message: `the backend refused the activation code (${body.error?.message ?? 'unknown code'}): check it, or ask the acquirer for a new one`, detail });
  }
  return new ScanpayError('BACKEND_HTTP_STATUS', { message: `the backend answered ${op} with HTTP ${status}${code ? ` (${code}: ${body.error?.message ?? ''})` : ''}`, detail });
}
