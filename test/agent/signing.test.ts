import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import { DEFAULT_NONCE_CAPACITY, DEFAULT_SKEW_MS, HEADER, NonceCache, signRequest, signResponse, verifyRequest, verifyResponse } from '../../agent/protocol/signing.ts';

const key = Buffer.from('k'.repeat(32));
const req = { method: 'POST', path: '/v1/pay', terminalId: 'T1', body: Buffer.from('{"orderNo":"A1"}') };
const now = 1_800_000_000_000;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('protocol signing', () => {
  it('verifies a genuine request once, and refuses its replay', () => {
    const nonces = new NonceCache();
    const h = signRequest(req, key, now);
    expect(verifyRequest(req, h, key, { now, nonces })).toBe(h[HEADER.nonce]);
    expect(codeOf(() => verifyRequest(req, h, key, { now, nonces }))).toBe('PROTO_NONCE_REUSED');
  });

  it('refuses a tampered body, path, terminal or key', () => {
    const h = signRequest(req, key, now);
    const v = (p: typeof req, k = key) => codeOf(() => verifyRequest(p, h, k, { now, nonces: new NonceCache() }));
    expect(v({ ...req, body: Buffer.from('{"orderNo":"A2"}') })).toBe('PROTO_SIGNATURE_INVALID');
    expect(v({ ...req, path: '/v1/refund' })).toBe('PROTO_SIGNATURE_INVALID');
    expect(v({ ...req, terminalId: 'T2' })).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(req, Buffer.from('x'.repeat(32)))).toBe('PROTO_SIGNATURE_INVALID');
  });

  it('refuses missing headers and timestamps outside the window', () => {
    expect(codeOf(() => verifyRequest(req, {}, key, { now, nonces: new NonceCache() }))).toBe('PROTO_SIGNATURE_MISSING');
    const h = signRequest(req, key, now - 6 * 60_000);
    expect(codeOf(() => verifyRequest(req, h, key, { now, nonces: new NonceCache() }))).toBe('PROTO_TIMESTAMP_SKEW');
  });

  it('binds a response to the request it answers', () => {
    const res = { ...req, status: 200, requestNonce: 'a'.repeat(32), body: Buffer.from('{"result":"SUCCESS"}') };
    const h = signResponse(res, key, now);
    expect(codeOf(() => verifyResponse(res, h, key, { now, nonces: new NonceCache() }))).toBeUndefined();
    // The same genuine answer presented for another request does not verify.
    expect(codeOf(() => verifyResponse({ ...res, requestNonce: 'b'.repeat(32) }, h, key, { now, nonces: new NonceCache() }))).toBe('PROTO_SIGNATURE_INVALID');
    expect(codeOf(() => verifyResponse({ ...res, status: 500 }, h, key, { now, nonces: new NonceCache() }))).toBe('PROTO_SIGNATURE_INVALID');
  });

  it('forgets nonces only after they could no longer pass the skew check', () => {
    const cache = new NonceCache(1000);
    expect(cache.add('t', 'n1', 0, 0)).toBe('added');
    expect(cache.add('t', 'n1', 0, 1500)).toBe('reused');
    expect(cache.add('t', 'n2', 2500, 2500)).toBe('added');
    expect(cache.size).toBe(1);
  });
});

// Test vectors from a second implementation: the canonical strings as docs/protocol.md
// ("Signing") writes them, signed by the openssl command line, e.g. for the request:
//   printf 'SCANPAY-V1-REQ\nPOST\n/v1/pay\nT1\n1800000000000\n0123…cdef\n<sha256 of body>' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf k%.0s {1..32} | xxd -p) -binary | base64
const OPENSSL_REQUEST_SIGNATURE = 'v1=fii/0Ej3xemi122Vz18Hvgwfic9ANSZ/T9AZGvTQCtY=';
// …and the response line by line: SCANPAY-V1-RES, 200, POST, /v1/pay, T1, 1800000000000, 0123…cdef, f×32, sha256 of body.
const OPENSSL_RESPONSE_SIGNATURE = 'v1=XNyMLis6ZugUV/QvxoshVXCP81Wre2OAliLHlWq7aKQ=';
/** The same canonical request string, HMAC'd here: to sign headers the agent would never produce. */
function hmacRequest(ts: string, n: string): string {
  const digest = createHash('sha256').update(req.body).digest('hex');
  return `v1=${createHmac('sha256', key).update(['SCANPAY-V1-REQ', 'POST', '/v1/pay', 'T1', ts, n, digest].join('\n')).digest('base64')}`;
}

describe('protocol signing: the wire format as docs/protocol.md writes it', () => {
  const nonce = '0123456789abcdef0123456789abcdef';

  it('signs a request over the documented canonical string (an openssl vector), method in upper case', () => {
    const h = signRequest({ ...req, method: 'post' }, key, now, nonce);
    expect(Object.keys(h).sort()).toEqual(['x-scanpay-nonce', 'x-scanpay-signature', 'x-scanpay-timestamp']);
    expect(h['x-scanpay-timestamp']).toBe(String(now));
    expect(h['x-scanpay-nonce']).toBe(nonce);
    expect(h['x-scanpay-signature']).toBe(OPENSSL_REQUEST_SIGNATURE);
    expect(HEADER).toEqual({
      terminal: 'x-scanpay-terminal',
      timestamp: 'x-scanpay-timestamp',
      nonce: 'x-scanpay-nonce',
      signature: 'x-scanpay-signature',
      trace: 'x-scanpay-trace',
    });
  });

  it('signs a response over status, request method and path, both nonces and the body (an openssl vector)', () => {
    const requestNonce = 'f'.repeat(32);
    const body = Buffer.from('{"result":"SUCCESS"}');
    const h = signResponse({ ...req, method: 'post', status: 200, requestNonce, body }, key, now, nonce);
    expect(h['x-scanpay-signature']).toBe(OPENSSL_RESPONSE_SIGNATURE);
  });

  it('draws a fresh 32-hex-digit nonce for every message', () => {
    const a = signRequest(req, key, now)[HEADER.nonce];
    const b = signRequest(req, key, now)[HEADER.nonce];
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).not.toBe(a);
    expect(signResponse({ ...req, status: 200, requestNonce: a }, key, now)[HEADER.nonce]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses a message missing any one of the three headers', () => {
    const h = signRequest(req, key, now);
    for (const name of [HEADER.timestamp, HEADER.nonce, HEADER.signature]) {
      const without: Record<string, string> = { ...h };
      delete without[name];
      expect(codeOf(() => verifyRequest(req, without, key, { now, nonces: new NonceCache() })), name).toBe('PROTO_SIGNATURE_MISSING');
    }
  });

  it('refuses a malformed timestamp or nonce even when the signature over it is genuine', () => {
    const forge = (ts: string, n: string) => ({
      [HEADER.timestamp]: ts,
      [HEADER.nonce]: n,
      [HEADER.signature]: hmacRequest(ts, n),
    });
    const v = (ts: string, n: string) => codeOf(() => verifyRequest(req, forge(ts, n), key, { now, nonces: new NonceCache() }));
    expect(v(String(now), nonce)).toBeUndefined();
    expect(v(` ${now}`, nonce)).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(`${now}.0`, nonce)).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(String(now), nonce.toUpperCase())).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(String(now), 'ab'.repeat(7))).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(String(now), `${nonce}!`)).toBe('PROTO_SIGNATURE_INVALID');
    expect(v(String(now), `!${nonce}`)).toBe('PROTO_SIGNATURE_INVALID');
  });

  it('refuses a truncated or over-long signature as invalid (not a crash of the constant-time compare)', () => {
    const h = signRequest(req, key, now);
    const sig = h[HEADER.signature];
    for (const s of [sig.slice(0, -1), `${sig}=`, 'v1=']) {
      expect(codeOf(() => verifyRequest(req, { ...h, [HEADER.signature]: s }, key, { now, nonces: new NonceCache() }))).toBe('PROTO_SIGNATURE_INVALID');
    }
  });

  it('takes the first value when a header arrives twice', () => {
    const h = signRequest(req, key, now);
    const doubled = { [HEADER.timestamp]: [h[HEADER.timestamp], '1'], [HEADER.nonce]: [h[HEADER.nonce], 'ab'], [HEADER.signature]: [h[HEADER.signature], 'x'] };
    expect(verifyRequest(req, doubled, key, { now, nonces: new NonceCache() })).toBe(h[HEADER.nonce]);
  });

  it('accepts a clock exactly 5 minutes off either way, refuses one millisecond more, and reports the skew', () => {
    const at = (t: number, o: { skewMs?: number } = {}) => {
      try {
        verifyRequest(req, signRequest(req, key, t), key, { now, nonces: new NonceCache(), ...o });
        return 'ok';
      } catch (e) {
        return e as { code: string; detail: { skewMs: number } };
      }
    };
    expect(at(now - 5 * 60_000)).toBe('ok');
    expect(at(now + 5 * 60_000)).toBe('ok');
    expect(at(now - 5 * 60_000 - 1)).toMatchObject({ code: 'PROTO_TIMESTAMP_SKEW', detail: { skewMs: 5 * 60_000 + 1 } });
    expect(at(now + 5 * 60_000 + 1)).toMatchObject({ code: 'PROTO_TIMESTAMP_SKEW', detail: { skewMs: -(5 * 60_000 + 1) } });
    expect(at(now - 1001, { skewMs: 1000 })).toMatchObject({ code: 'PROTO_TIMESTAMP_SKEW' });
    expect(at(now - 1000, { skewMs: 1000 })).toBe('ok');
    expect(DEFAULT_SKEW_MS).toBe(5 * 60_000);
  });

  it('refuses a replayed signed answer through the nonce cache, and a forged one never burns a genuine nonce', () => {
    const res = { ...req, status: 200, requestNonce: 'a'.repeat(32), body: Buffer.from('{"result":"SUCCESS"}') };
    const h = signResponse(res, key, now);
    const nonces = new NonceCache();
    expect(codeOf(() => verifyResponse(res, h, key, { now, nonces }))).toBeUndefined();
    expect(codeOf(() => verifyResponse(res, h, key, { now, nonces }))).toBe('PROTO_NONCE_REUSED');

    const fresh = new NonceCache();
    const g = signRequest(req, key, now);
    expect(codeOf(() => verifyRequest(req, { ...g, [HEADER.signature]: `v1=${'A'.repeat(43)}=` }, key, { now, nonces: fresh }))).toBe('PROTO_SIGNATURE_INVALID');
    expect(codeOf(() => verifyRequest(req, g, key, { now, nonces: fresh }))).toBeUndefined();
  });

  it('keeps request and response nonces, and each terminal\'s, apart', () => {
    const n = 'c'.repeat(32);
    const nonces = new NonceCache();
    const h = signRequest(req, key, now, n);
    expect(codeOf(() => verifyRequest(req, h, key, { now, nonces }))).toBeUndefined();
    const other = { ...req, terminalId: 'T2' };
    expect(codeOf(() => verifyRequest(other, signRequest(other, key, now, n), key, { now, nonces }))).toBeUndefined();
    const res = { ...req, status: 200, requestNonce: n };
    expect(codeOf(() => verifyResponse(res, signResponse(res, key, now, n), key, { now, nonces }))).toBeUndefined();
    expect(nonces.size).toBe(3);
    const otherRes = { ...other, status: 200, requestNonce: n };
    expect(codeOf(() => verifyResponse(otherRes, signResponse(otherRes, key, now, n), key, { now, nonces }))).toBeUndefined();
    expect(nonces.size).toBe(4);
  });

  it('keeps a nonce for twice the skew window, counted from when it was seen', () => {
    const cache = new NonceCache(1000);
    expect(cache.add('t', 'n1', 0, 0)).toBe('added');
    expect(cache.add('t', 'n1', 0, 2000)).toBe('reused');
    expect(cache.add('t', 'n2', 2001, 2001)).toBe('added');
    expect(cache.size).toBe(1);
    const byDefault = new NonceCache();
    byDefault.add('t', 'n1', 0, 0);
    expect(byDefault.add('t', 'n1', 0, 2 * DEFAULT_SKEW_MS)).toBe('reused');
    // Forgotten by time, not by count: no low-water mark (the skew check refuses such a replay).
    expect(byDefault.add('t', 'n1', 0, 2 * DEFAULT_SKEW_MS + 1)).toBe('added');
  });
});

/**
 * The same rules written the plain way (every entry in a list, a mark per peer): what the
 * fixed-size cache must answer, whatever its buckets and chains do.
 */
class ReferenceCache {
  entries: Array<{ scope: string; nonce: string; stamp: number; seenAt: number }> = [];
  marks = new Map<string, number>();
  constructor(
    readonly windowMs: number,
    readonly capacity: number,
  ) {}
  add(scope: string, nonce: string, stamp: number, now: number): string {
    this.entries = this.entries.filter((e) => now - e.seenAt <= 2 * this.windowMs);
    if (this.entries.some((e) => e.scope === scope && e.nonce === nonce)) return 'reused';
    if (stamp <= (this.marks.get(scope) ?? -Infinity)) return 'too-old';
    if (this.entries.length === this.capacity) {
      const gone = this.entries.shift()!;
      this.marks.set(gone.scope, Math.max(this.marks.get(gone.scope) ?? -Infinity, gone.stamp));
    }
    this.entries.push({ scope, nonce, stamp, seenAt: now });
    return 'added';
  }
}

describe('NonceCache: bounded by count, replays still refused', () => {
  it('holds at most its capacity, in memory allocated once', () => {
    const cache = new NonceCache(DEFAULT_SKEW_MS, 4);
    for (let i = 0; i < 100; i++) expect(cache.add('t', `n${i}`, now + i, now + i)).toBe('added');
    expect(cache.size).toBe(4);
    expect(cache.capacity).toBe(4);
    expect(new NonceCache().capacity).toBe(DEFAULT_NONCE_CAPACITY);
    expect(DEFAULT_NONCE_CAPACITY).toBe(8_192);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new NonceCache(DEFAULT_SKEW_MS, bad), String(bad)).toThrow(RangeError);
  });

  it('refuses the replay of a forgotten nonce by its timestamp, and takes fresh messages', () => {
    const cache = new NonceCache(DEFAULT_SKEW_MS, 2);
    expect(cache.add('t', 'a', 1, now)).toBe('added');
    expect(cache.add('t', 'b', 2, now)).toBe('added');
    expect(cache.add('t', 'c', 3, now)).toBe('added'); // full: 'a' is forgotten, the mark is 1
    expect(cache.add('t', 'a', 1, now)).toBe('too-old');
    expect(cache.add('t', 'b', 2, now)).toBe('reused');
    expect(cache.add('t', 'c', 3, now)).toBe('reused');
    // A fresh nonce at the mark cannot be told from a forgotten one; one after it can.
    expect(cache.add('t', 'x', 1, now)).toBe('too-old');
    expect(cache.add('t', 'd', 2, now)).toBe('added'); // forgets 'b': the mark is 2
    expect(cache.add('t', 'b', 2, now)).toBe('too-old');
    expect(cache.add('t', 'y', 2, now)).toBe('too-old');
    expect(cache.add('t', 'e', 4, now)).toBe('added');
    expect(cache.size).toBe(2);
  });

  it('keeps the newest timestamp forgotten, when a peer\'s messages arrive out of order', () => {
    const cache = new NonceCache(DEFAULT_SKEW_MS, 2);
    cache.add('t', 'a', 5, now);
    cache.add('t', 'b', 3, now);
    cache.add('t', 'c', 9, now); // forgets 'a' (5)
    cache.add('t', 'd', 10, now); // forgets 'b' (3): the mark stays 5
    expect(cache.add('t', 'x', 4, now)).toBe('too-old');
    expect(cache.add('t', 'y', 5, now)).toBe('too-old');
    expect(cache.add('t', 'z', 6, now)).toBe('added');
  });

  it('keeps a mark per peer: one peer\'s forgotten nonces do not refuse another whose clock lags', () => {
    const cache = new NonceCache(DEFAULT_SKEW_MS, 2);
    cache.add('ahead', 'a', now + 60_000, now);
    cache.add('ahead', 'b', now + 60_001, now);
    cache.add('behind', 'c', now - 60_000, now); // forgets 'ahead' a
    expect(cache.add('behind', 'd', now - 59_999, now)).toBe('added'); // forgets 'ahead' b
    expect(cache.add('ahead', 'e', now + 60_001, now)).toBe('too-old');
    expect(cache.add('behind', 'e', now - 59_998, now)).toBe('added'); // forgets 'behind' c
    expect(cache.add('behind', 'f', now - 60_000, now)).toBe('too-old');
    expect(cache.add('ahead', 'g', now + 60_002, now)).toBe('added');
  });

  it('answers as the plain reference does over many random messages, replays and peers', () => {
    // Small capacities put many entries in each chain and wrap the ring many times.
    for (const capacity of [1, 2, 3, 5, 8, 13]) {
      let seed = capacity * 7919;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const windowMs = 50;
      const cache = new NonceCache(windowMs, capacity);
      const ref = new ReferenceCache(windowMs, capacity);
      const sent: Array<{ scope: string; nonce: string; stamp: number }> = [];
      let t = 0;
      const got: string[] = [];
      const want: string[] = [];
      for (let i = 0; i < 2_000; i++) {
        t += rand(4);
        // A new message (its peer's clock a little off ours), or a replay of an earlier one.
        const m = sent.length > 0 && rand(3) === 0 ? sent[rand(sent.length)]! : { scope: `p${rand(3)}`, nonce: `n${i}`, stamp: t - rand(20) };
        sent.push(m);
        got.push(`${i} ${cache.add(m.scope, m.nonce, m.stamp, t)} ${cache.size}`);
        want.push(`${i} ${ref.add(m.scope, m.nonce, m.stamp, t)} ${ref.entries.length}`);
      }
      expect(got, `capacity ${capacity}`).toEqual(want);
      expect(new Set(want.map((w) => w.split(' ')[1])), `capacity ${capacity}`).toEqual(new Set(['added', 'reused', 'too-old']));
    }
  });

  it('a legitimate answer signed at or before the mark is refused with its own code; a replay of a forgotten one too', () => {
    const res = { ...req, status: 200, requestNonce: 'a'.repeat(32), body: Buffer.from('{"result":"SUCCESS"}') };
    const nonces = new NonceCache(DEFAULT_SKEW_MS, 2);
    const first = signResponse(res, key, now - 10);
    for (const h of [first, signResponse(res, key, now - 5), signResponse(res, key, now)]) {
      expect(codeOf(() => verifyResponse(res, h, key, { now, nonces }))).toBeUndefined();
    }
    expect(codeOf(() => verifyResponse(res, first, key, { now, nonces }))).toBe('PROTO_NONCE_TOO_OLD');
    const late = signResponse(res, key, now - 10);
    try {
      verifyResponse(res, late, key, { now, nonces });
      expect.unreachable('an answer signed at the mark passed');
    } catch (e) {
      expect(e).toMatchObject({ code: 'PROTO_NONCE_TOO_OLD', detail: { timestamp: now - 10 } });
    }
    expect(codeOf(() => verifyResponse(res, signResponse(res, key, now - 9), key, { now, nonces }))).toBeUndefined();

    const requests = new NonceCache(DEFAULT_SKEW_MS, 1);
    const r1 = signRequest(req, key, now - 1);
    expect(codeOf(() => verifyRequest(req, r1, key, { now, nonces: requests }))).toBeUndefined();
    expect(codeOf(() => verifyRequest(req, signRequest(req, key, now), key, { now, nonces: requests }))).toBeUndefined();
    expect(codeOf(() => verifyRequest(req, r1, key, { now, nonces: requests }))).toBe('PROTO_NONCE_TOO_OLD');
  });
});
