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
 * Entries a NonceCache holds by default: the agent's cache, which holds its backend's
 * answers. A lane pays at most about once every 2 s with one to three signed answers per
 * payment (pay, the query or held query that settles it, a reversal), at most 1.5 a
 * second; over the 10 minutes an answer is held, 8 such lanes at full speed hold 7,200.
 * At the rates a cashier reaches nothing is forgotten before its time; past them the
 * low-water mark below keeps replays out. About 36 bytes an entry, 0.3 MB in all.
 */
export const DEFAULT_NONCE_CAPACITY = 8_192;

/** What {@link NonceCache.add} found. */
export type NonceCheck = 'added' | 'reused' | 'too-old';

/** 64 bits of the nonce's SHA-256: equal nonces always agree; distinct ones clash about once in 2^64. */
function nonceDigest(nonce: string): [number, number] {
  const d = createHash('sha256').update(nonce).digest();
  return [d.readUInt32LE(0), d.readUInt32LE(4)];
}

/**
 * Remembers nonces for as long as their timestamps could pass the skew check, so a
 * replayed message is refused; older entries are dropped as time moves on.
 *
 * Bounded by count as well as by time, in typed arrays allocated once at construction:
 * its memory is the same after one message as after millions. When it is full before the
 * oldest entry has expired, that entry is forgotten and its message timestamp becomes its
 * peer's low-water mark: any later message from that peer timestamped at or before it is
 * refused ('too-old'), since it could be the replay of a forgotten one. A peer's clock only
 * moves on, so its fresh messages pass; what it refuses is an answer signed before the
 * newest forgotten one (delayed in transit past `capacity` others, or a peer clock set
 * back), which the agent treats as no answer (unknown) and settles by query.
 */
export class NonceCache {
  readonly #windowMs: number;
  readonly #capacity: number;
  // The entries, a ring in order of arrival: 64 bits of the nonce, its peer (scope) id,
  // when it arrived (our clock) and the message's timestamp (the peer's clock).
  readonly #hi: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #scope: Uint32Array;
  readonly #seenAt: Float64Array;
  readonly #stamp: Float64Array;
  #oldest = 0;
  #count = 0;
  // Lookup: a chain of slots per bucket, newest first (-1 ends a chain).
  readonly #heads: Int32Array;
  readonly #next: Int32Array;
  // Peers by scope, and each peer's low-water mark: as many as there are peers, not messages.
  readonly #scopes = new Map<string, number>();
  readonly #marks: number[] = [];

  constructor(windowMs = DEFAULT_SKEW_MS, capacity = DEFAULT_NONCE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`nonce cache capacity must be a positive integer, not ${capacity}`);
    this.#windowMs = windowMs;
    this.#capacity = capacity;
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#scope = new Uint32Array(capacity);
    this.#seenAt = new Float64Array(capacity);
    this.#stamp = new Float64Array(capacity);
    this.#next = new Int32Array(capacity);
    // A power of two at least `capacity`, so a bucket is a mask of the digest and chains stay about one long.
    this.#heads = new Int32Array(2 ** Math.ceil(Math.log2(capacity))).fill(-1);
  }

  /**
   * Records the nonce of a verified message timestamped `timestamp` (the peer's clock)
   * and received at `now` (ours): 'added', or why it is refused.
   */
  add(scope: string, nonce: string, timestamp: number, now: number): NonceCheck {
    this.#expire(now);
    const peer = this.#peer(scope);
    const [hi, lo] = nonceDigest(nonce);
    const bucket = lo & (this.#heads.length - 1);
    for (let s = this.#heads[bucket]!; s !== -1; s = this.#next[s]!) {
      if (this.#lo[s] === lo && this.#hi[s] === hi && this.#scope[s] === peer) return 'reused';
    }
    if (timestamp <= this.#marks[peer]!) return 'too-old';
    if (this.#count === this.#capacity) {
      const s = this.#oldest;
      this.#marks[this.#scope[s]!] = Math.max(this.#marks[this.#scope[s]!]!, this.#stamp[s]!);
      this.#dropOldest();
    }
    const slot = (this.#oldest + this.#count) % this.#capacity;
    this.#hi[slot] = hi;
    this.#lo[slot] = lo;
    this.#scope[slot] = peer;
    this.#seenAt[slot] = now;
    this.#stamp[slot] = timestamp;
    this.#next[slot] = this.#heads[bucket]!;
    this.#heads[bucket] = slot;
    this.#count++;
    return 'added';
  }

  get size(): number {
    return this.#count;
  }

  get capacity(): number {
    return this.#capacity;
  }

  #peer(scope: string): number {
    let id = this.#scopes.get(scope);
    if (id === undefined) {
      id = this.#marks.push(-Infinity) - 1;
      this.#scopes.set(scope, id);
    }
    return id;
  }

  #expire(now: number): void {
    // Arrival times only grow along the ring, so stop at the first young one.
    while (this.#count > 0 && now - this.#seenAt[this.#oldest]! > 2 * this.#windowMs) this.#dropOldest();
  }

  #dropOldest(): void {
    const s = this.#oldest;
    // Entries join their chain at its head, so the oldest of all is the last of its chain.
    const bucket = this.#lo[s]! & (this.#heads.length - 1);
    if (this.#heads[bucket] === s) {
      this.#heads[bucket] = -1;
    } else {
      let p = this.#heads[bucket]!;
      while (this.#next[p] !== s) p = this.#next[p]!;
      this.#next[p] = -1;
    }
    this.#oldest = (s + 1) % this.#capacity;
    this.#count--;
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

// Only a verified message may consume a nonce, or a forger could burn genuine ones.
function consume(o: VerifyOptions, scope: string, nonce: string, ts: string): void {
  const check = o.nonces.add(scope, nonce, Number(ts), o.now);
  if (check === 'reused') throw new ScanpayError('PROTO_NONCE_REUSED');
  if (check === 'too-old') throw new ScanpayError('PROTO_NONCE_TOO_OLD', { detail: { timestamp: Number(ts) } });
}

/** Verifies a request; returns its nonce (the response must echo it into its signature). */
export function verifyRequest(p: RequestParts, headers: HeaderBag, key: Buffer, o: VerifyOptions): string {
  const { ts, nonce, sig } = checkEnvelope(headers, o);
  if (!sameSignature(sig, mac(key, requestString(p, ts, nonce)))) throw new ScanpayError('PROTO_SIGNATURE_INVALID');
  consume(o, p.terminalId, nonce, ts);
  return nonce;
}

export function verifyResponse(p: ResponseParts, headers: HeaderBag, key: Buffer, o: VerifyOptions): void {
  const { ts, nonce, sig } = checkEnvelope(headers, o);
  if (!sameSignature(sig, mac(key, responseString(p, ts, nonce)))) throw new ScanpayError('PROTO_SIGNATURE_INVALID');
  consume(o, `response:${p.terminalId}`, nonce, ts);
}
