import { describe, expect, it } from 'vitest';
import { HEADER, NonceCache, signRequest, signResponse, verifyRequest, verifyResponse } from '../../agent/protocol/signing.ts';

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
    expect(cache.add('t', 'n1', 0)).toBe(true);
    expect(cache.add('t', 'n1', 1500)).toBe(false);
    expect(cache.add('t', 'n2', 2500)).toBe(true);
    expect(cache.size).toBe(1);
  });
});
