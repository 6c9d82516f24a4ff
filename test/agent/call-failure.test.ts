/**
 * How every acquirer adapter classifies a failed exchange (agent/backend/call-failure.ts):
 * provably not sent only when the connection never opened; everything else, and every
 * answer that cannot be believed or read, is unknown, never a failure.
 */
import { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { judgedCall, neverSent, noAnswer, NOT_SENT_CODES, transportFailure, type Exchange } from '../../agent/backend/call-failure.ts';
import { TransportError } from '../../agent/backend/protocol-http.ts';
import { ScanpayError } from '../../agent/errors.ts';

/** A socket error as node raises it under axios: the code on the cause, with the system call that failed. */
const socketError = (code: string, syscall?: string) => Object.assign(new AxiosError(`${syscall ?? 'tls'} ${code}`, code), { cause: Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) }) });

/**
 * Money rule 2 as a table: not sent only when the request provably never left; a timeout,
 * a reset or a cancel after it may have left is unknown. [code, syscall, outcome, named by].
 */
const TABLE: [string, string | undefined, 'not_sent' | 'unknown', string][] = [
  ['ECONNREFUSED', 'connect', 'not_sent', 'ECONNREFUSED'],
  ['ENOTFOUND', 'getaddrinfo', 'not_sent', 'ENOTFOUND'],
  ['EAI_AGAIN', 'getaddrinfo', 'not_sent', 'EAI_AGAIN'],
  ['EHOSTUNREACH', 'connect', 'not_sent', 'EHOSTUNREACH'],
  ['ENETUNREACH', 'connect', 'not_sent', 'ENETUNREACH'],
  ['ENETDOWN', 'connect', 'not_sent', 'ENETDOWN'],
  ['EHOSTDOWN', 'connect', 'not_sent', 'EHOSTDOWN'],
  // Our check of the server's certificate, in the handshake: no request byte written yet.
  ['DEPTH_ZERO_SELF_SIGNED_CERT', undefined, 'not_sent', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  ['SELF_SIGNED_CERT_IN_CHAIN', undefined, 'not_sent', 'SELF_SIGNED_CERT_IN_CHAIN'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', undefined, 'not_sent', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', undefined, 'not_sent', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  ['CERT_HAS_EXPIRED', undefined, 'not_sent', 'CERT_HAS_EXPIRED'],
  ['CERT_NOT_YET_VALID', undefined, 'not_sent', 'CERT_NOT_YET_VALID'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', undefined, 'not_sent', 'ERR_TLS_CERT_ALTNAME_INVALID'],
  // On an open connection a "not sent" code proves nothing: the request may be out.
  ['EHOSTUNREACH', 'read', 'unknown', 'EHOSTUNREACH'],
  ['ENETUNREACH', 'write', 'unknown', 'ENETUNREACH'],
  ['ECONNRESET', 'read', 'unknown', 'ECONNRESET'],
  ['EPIPE', 'write', 'unknown', 'EPIPE'],
  ['ETIMEDOUT', 'read', 'unknown', 'ETIMEDOUT'],
  ['ECONNABORTED', undefined, 'unknown', 'ECONNABORTED'],
  // Our own deadline's abort: named DEADLINE.
  ['ERR_CANCELED', undefined, 'unknown', 'DEADLINE'],
  ['ERR_BAD_RESPONSE', undefined, 'unknown', 'ERR_BAD_RESPONSE'],
  ['ERR_FR_MAX_BODY_LENGTH_EXCEEDED', undefined, 'unknown', 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED'],
  // A server refusing our client certificate: under TLS 1.3 the request may already be out.
  ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', undefined, 'unknown', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'],
];

describe('transportFailure', () => {
  it.each(TABLE)('%s (syscall %s) is %s, named %s', (code, syscall, kind, named) => {
    const e = socketError(code, syscall);
    const r = transportFailure('pay', e);
    expect(neverSent(e)).toBe(kind === 'not_sent');
    expect(r).toMatchObject({ kind, error: { code: kind === 'not_sent' ? 'BACKEND_NOT_SENT' : 'BACKEND_UNKNOWN', detail: { op: 'pay' }, cause: e } });
    expect(r.error.message).toBe(kind === 'not_sent' ? `backend unreachable (${named})` : `no answer to pay (${named})`);
    // Axios's own code alone (no cause, so no system call to doubt it) is read the same way.
    const onOpenSocket = syscall === 'read' || syscall === 'write';
    expect(transportFailure('pay', new AxiosError('x', code)).kind).toBe(onOpenSocket && ['EHOSTUNREACH', 'ENETUNREACH'].includes(code) ? 'not_sent' : kind);
  });

  it.each(TABLE)('protocol v1\'s transport: %s (syscall %s) before the connection opened is %s, named %s; after, unknown', (code, syscall, kind, named) => {
    const cause = Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) });
    const before = new TransportError(code, `${code} x`, { connected: false, syscall, cause });
    expect(neverSent(before)).toBe(kind === 'not_sent');
    expect(transportFailure('pay', before)).toMatchObject({ kind, error: { code: kind === 'not_sent' ? 'BACKEND_NOT_SENT' : 'BACKEND_UNKNOWN', detail: { op: 'pay' }, cause: before } });
    // Our own deadline is named DEADLINE by the transport itself, not translated here.
    const name = code === 'ERR_CANCELED' ? code : named;
    expect(transportFailure('pay', before).error.message).toBe(kind === 'not_sent' ? `backend unreachable (${name})` : `no answer to pay (${name})`);
    // On an open connection no code proves the request did not leave.
    const after = new TransportError(code, 'x', { connected: true, syscall, cause });
    expect(neverSent(after)).toBe(false);
    expect(transportFailure('pay', after)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', message: `no answer to pay (${name})` } });
  });

  it('protocol v1\'s transport: its own failures are unknown and named by their code; one without a code by its words', () => {
    for (const code of ['DEADLINE', 'ANSWER_TOO_LARGE']) {
      expect(transportFailure('query', new TransportError(code, 'x', { connected: false }))).toMatchObject({ kind: 'unknown', error: { message: `no answer to query (${code})` } });
    }
    expect(transportFailure('pay', new TransportError(undefined, 'Parse Error', { connected: true })).error.message).toBe('no answer to pay (Parse Error)');
    // The code alone proves nothing when a system call after the connect raised it.
    expect(neverSent(new TransportError('ECONNREFUSED', 'x', { connected: false, syscall: 'write' }))).toBe(false);
    expect(neverSent(new TransportError('ECONNREFUSED', 'x', { connected: false, syscall: 'connect' }))).toBe(true);
  });

  it('names the acquirer a request never reached', () => {
    expect(transportFailure('reverse', socketError('ECONNREFUSED', 'connect'), 'WeChat Pay').error).toMatchObject({ message: 'WeChat Pay unreachable (ECONNREFUSED)', detail: { op: 'reverse' } });
  });

  it('names a not-sent failure by the socket\'s code when there is one, else by axios\'s', () => {
    const causeOnly = Object.assign(new AxiosError('lookup failed'), { cause: { code: 'ENOTFOUND', syscall: 'getaddrinfo' } });
    expect(transportFailure('pay', causeOnly).error.message).toBe('backend unreachable (ENOTFOUND)');
    expect(transportFailure('pay', new AxiosError('refused', 'ECONNREFUSED')).error.message).toBe('backend unreachable (ECONNREFUSED)');
    // An axios error with no code at all is unknown, named by its own words.
    expect(transportFailure('pay', new AxiosError('boom')).error.message).toBe('no answer to pay (boom)');
  });

  it('every not-sent code of the table is in NOT_SENT_CODES, and nothing else', () => {
    expect([...NOT_SENT_CODES].sort()).toEqual([...new Set(TABLE.filter((t) => t[2] === 'not_sent').map((t) => t[0]))].sort());
  });

  it('a not-sent code from a system call other than connect or the name lookup is unknown, on the error or its cause', () => {
    const onError = Object.assign(new AxiosError('x', 'ECONNREFUSED'), { syscall: 'write' });
    expect(transportFailure('pay', onError).kind).toBe('unknown');
    expect(transportFailure('pay', Object.assign(new AxiosError('x', 'ECONNREFUSED'), { syscall: 'connect' })).kind).toBe('not_sent');
    expect(neverSent(Object.assign(new Error('x'), { cause: { code: 'ENOTFOUND', syscall: 'getaddrinfo' } }))).toBe(true);
    expect(neverSent(Object.assign(new Error('x'), { cause: { code: 'ENOTFOUND', syscall: 'queryA' } }))).toBe(false);
  });

  it('an error that is not axios\'s is unknown and keeps its message', () => {
    const e = new Error('socket hang up');
    const r = transportFailure('reverse', e);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', cause: e, message: 'no answer to reverse (socket hang up)' } });
    // A code on a non-axios error is not trusted for "not sent" (only the cause's is).
    expect(transportFailure('pay', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).kind).toBe('unknown');
    expect(transportFailure('pay', Object.assign(new Error('x'), { code: 'ERR_CANCELED' })).error.message).toBe('no answer to pay (x)');
    expect(transportFailure('pay', Object.assign(new Error('x'), { cause: { code: 'ECONNREFUSED' } })).kind).toBe('not_sent');
    expect(transportFailure('pay', Object.assign(new Error('x'), { cause: { code: 42 } })).kind).toBe('unknown');
    // A promise rejected with no value or a bare string is still an unknown outcome, not a crash of the classifier.
    expect(transportFailure('pay', undefined).error.message).toBe('no answer to pay (undefined)');
    expect(transportFailure('query', 'reset')).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', message: 'no answer to query (reset)' } });
    expect(neverSent(null)).toBe(false);
    expect(neverSent('ECONNREFUSED')).toBe(false);
  });
});

describe('noAnswer', () => {
  it('keeps the first 512 characters of the body, and no body key without one', () => {
    const e = noAnswer('BACKEND_MALFORMED', 'pay', 'bad', 'x'.repeat(600));
    expect(e).toMatchObject({ code: 'BACKEND_MALFORMED', message: 'bad', detail: { op: 'pay', body: 'x'.repeat(512) } });
    expect(noAnswer('BACKEND_HTTP_STATUS', 'query', 'bad').detail).toEqual({ op: 'query' });
  });
});

describe('judgedCall', () => {
  const calls: unknown[][] = [];
  const judge = (exchange: Exchange, read: (body: string) => unknown = JSON.parse, unreadable = (e: unknown) => e instanceof SyntaxError) =>
    judgedCall({ op: 'pay', acquirer: 'Alipay', exchange: async () => exchange, read, unreadable, onCall: (...a) => calls.push(a) });

  it('takes a 200 answer the wire reads, and reports the call', async () => {
    calls.length = 0;
    const before = performance.now();
    const r = await judge({ kind: 'answer', status: 200, body: '{"ok":true}' });
    expect(r).toMatchObject({ kind: 'answer', body: { ok: true } });
    // The latency of the call, not a time since some origin: at most the time the test waited.
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.latencyMs).toBeLessThanOrEqual(Math.ceil(performance.now() - before));
    expect(calls).toEqual([['pay', 'answer', r.latencyMs]]);
  });

  it('passes a transport failure on as it was classified', async () => {
    calls.length = 0;
    const error = new ScanpayError('BACKEND_NOT_SENT');
    expect(await judge({ kind: 'not_sent', error })).toMatchObject({ kind: 'not_sent', error });
    expect(await judge({ kind: 'unknown', error })).toMatchObject({ kind: 'unknown', error });
    expect(calls.map((c) => c[1])).toEqual(['not_sent', 'unknown']);
  });

  it('a status other than 200 is no answer, whatever the body says', async () => {
    const r = await judge({ kind: 'answer', status: 502, body: '{"ok":true}' });
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS', detail: { op: 'pay', body: '{"ok":true}' } } });
    expect(r.kind === 'unknown' && r.error.message).toBe('Alipay answered pay with HTTP 502');
  });

  it('an answer the wire refuses to believe (its ScanpayError) is unknown with that error', async () => {
    const refused = new ScanpayError('BACKEND_SIGNATURE_INVALID');
    const r = await judge({ kind: 'answer', status: 200, body: '{}' }, () => {
      throw refused;
    });
    expect(r).toMatchObject({ kind: 'unknown', error: refused });
  });

  it('an unreadable answer is unknown (BACKEND_MALFORMED), never a failure', async () => {
    const r = await judge({ kind: 'answer', status: 200, body: '<html>' });
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED', detail: { op: 'pay', body: '<html>' } } });
    expect(r.kind === 'unknown' && r.error.message).toMatch(/^answer to pay is unreadable \(.+\): treated as no answer$/);
  });

  it('a bug in the reader is not hidden as an unknown outcome', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    await expect(
      judge({ kind: 'answer', status: 200, body: '{}' }, () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
  });

  it('needs no metrics callback', async () => {
    const r = await judgedCall({ op: 'query', acquirer: 'Upay', exchange: async () => ({ kind: 'answer', status: 200, body: '1' }), read: JSON.parse, unreadable: () => false });
    expect(r).toMatchObject({ kind: 'answer', body: 1 });
  });
});
