/**
 * Message authentication for protocol v1 (docs/protocol.md, "Signing").
 *
 * Requests and responses carry an HMAC-SHA256 over a canonical string built from the
 * method, path, terminal, timestamp, nonce and a digest of the exact body bytes. A
 * response's string also contains the nonce of the request it answers, so a genuine
 * answer to one request cannot be replayed as the answer to another.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ScanpayError } from '../errors.ts';

export const HEADER = {
  terminal: 'x-scanpay-terminal',
  timestamp: 'x-scanpay-timestamp',
  nonce: 'x-scanpay-nonce',
  signature: 'x-scanpay-signature',
  trace: 'x-scanpay-trace',
} as const;

/** How far a peer's clock may be from ours before its messages are refused. */
export const DEFAULT_SKEW_MS = 5 * 60_000;

export interface SignedHeaders {
  [HEADER.timestamp]: string;
  [HEADER.nonce]: string;
  [HEADER.signature]: string;
}

export interface RequestParts {
  method: string;
  path: string;
  terminalId: string;
  body: Buffer;
}

export interface ResponseParts extends RequestParts {
  status: number;
  requestNonce: string;
}

export function bodyDigest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

function requestString(p: RequestParts, timestamp: string, nonce: string): string {
  return ['SCANPAY-V1-REQ', p.method.toUpperCase(), p.path, p.terminalId, timestamp, nonce, bodyDigest(p.body)].join('\n');
}

function responseString(p: ResponseParts, timestamp: string, nonce: string): string {
  return [
    'SCANPAY-V1-RES',
    String(p.status),
    p.method.toUpperCase(),
    p.path,
    p.terminalId,
    timestamp,
    nonce,
    p.requestNonce,
    bodyDigest(p.body),
  ].join('\n');
}

function mac(key: Buffer, text: string): string {
  return `v1=${createHmac('sha256', key).update(text).digest('base64')}`;
}

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function signRequest(p: RequestParts, key: Buffer, now: number, nonce = newNonce()): SignedHeaders {
  const ts = String(now);
  return { [HEADER.timestamp]: ts, [HEADER.nonce]: nonce, [HEADER.signature]: mac(key, requestString(p, ts, nonce)) };
}

export function signResponse(p: ResponseParts, key: Buffer, now: number, nonce = newNonce()): SignedHeaders {
  const ts = String(now);
  return { [HEADER.timestamp]: ts, [HEADER.nonce]: nonce, [HEADER.signature]: mac(key, responseString(p, ts, nonce)) };
}

/**
 * Remembers nonces for as long as their timestamps could pass the skew check, so a
 * replayed message is refused; older entries are dropped as time moves on.
 */
export class NonceCache {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;

  constructor(windowMs = DEFAULT_SKEW_MS) {
    this.#windowMs = windowMs;
  }

  /** Records the nonce; returns false if it was already seen. */
  add(scope: string, nonce: string, now: number): boolean {
    this.#prune(now);
    const key = `${scope}\n${nonce}`;
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    // Map keeps insertion order, and insertion times only grow, so stop at the first young one.
    for (const [key, at] of this.#seen) {
      if (now - at <= 2 * this.#windowMs) break;
      this.#seen.delete(key);
    }
  }
}

export interface VerifyOptions {
  now: number;
  skewMs?: number;
  nonces: NonceCache;
}

type HeaderBag = Readonly<Record<string, string | string[] | undefined>> | SignedHeaders;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkEnvelope(headers: HeaderBag, o: VerifyOptions): { ts: string; nonce: string; sig: string } {
  const ts = header(headers, HEADER.timestamp);
  const nonce = header(headers, HEADER.nonce);
  const sig = header(headers, HEADER.signature);
  if (!ts || !nonce || !sig) throw new ScanpayError('PROTO_SIGNATURE_MISSING');
  if (!/^\d{1,16}$/.test(ts) || !/^[0-9a-f]{16,64}$/.test(nonce)) throw new ScanpayError('PROTO_SIGNATURE_INVALID', { message: 'malformed timestamp or nonce header' });
  const skew = Math.abs(o.now - Number(ts));
  if (skew > (o.skewMs ?? DEFAULT_SKEW_MS)) {
    throw new ScanpayError('PROTO_TIMESTAMP_SKEW', { detail: { skewMs: o.now - Number(ts) } });
  }
  return { ts, nonce, sig };
}

/** Verifies a request; returns its nonce (the response must echo it into its signature). */
export function verifyRequest(p: RequestParts, headers: HeaderBag, key: Buffer, o: VerifyOptions): string {
  const { ts, nonce, sig } = checkEnvelope(headers, o);
  if (!sameSignature(sig, mac(key, requestString(p, ts, nonce)))) throw new ScanpayError('PROTO_SIGNATURE_INVALID');
  // Only a verified message may consume a nonce, or a forger could burn genuine ones.
  if (!o.nonces.add(p.terminalId, nonce, o.now)) throw new ScanpayError('PROTO_NONCE_REUSED');
  return nonce;
}

export function verifyResponse(p: ResponseParts, headers: HeaderBag, key: Buffer, o: VerifyOptions): void {
  const { ts, nonce, sig } = checkEnvelope(headers, o);
  if (!sameSignature(sig, mac(key, responseString(p, ts, nonce)))) throw new ScanpayError('PROTO_SIGNATURE_INVALID');
  if (!o.nonces.add(`response:${p.terminalId}`, nonce, o.now)) throw new ScanpayError('PROTO_NONCE_REUSED');
}
