/**
 * How every acquirer adapter classifies a failed exchange (agent/backend/call-failure.ts):
 * provably not sent only when the connection never opened; everything else, and every
 * answer that cannot be believed or read, is unknown, never a failure.
 */
import { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { judgedCall, noAnswer, transportFailure, type Exchange } from '../../agent/backend/call-failure.ts';
import { ScanpayError } from '../../agent/errors.ts';

/** Errors as node's http stack raises them: a code on the error, or on its cause (AggregateError of happy eyeballs). */
const axiosError = (code: string | undefined, cause?: { code: string }) => Object.assign(new AxiosError('request failed', code), cause ? { cause } : {});

describe('transportFailure', () => {
  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN'])(
    '%s (no connection was ever opened) is provably not sent',
    (code) => {
      const r = transportFailure('pay', axiosError(code));
      expect(r.kind).toBe('not_sent');
      expect(r.error).toMatchObject({ code: 'BACKEND_NOT_SENT', detail: { op: 'pay' } });
      expect(r.error.message).toContain(code);
      expect(transportFailure('pay', axiosError(undefined, { code })).kind).toBe('not_sent');
    },
  );

  it.each(['ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ERR_CANCELED', 'ERR_BAD_RESPONSE'])('%s (the request may have arrived) is unknown', (code) => {
    const r = transportFailure('query', axiosError(code));
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', detail: { op: 'query' } } });
    expect(r.error.message).toContain(code);
  });

  it('an error that is not axios\'s is unknown and keeps its message', () => {
    const e = new Error('socket hang up');
    const r = transportFailure('reverse', e);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', cause: e } });
    expect(r.error.message).toContain('socket hang up');
    // A code on a non-axios error is not trusted for "not sent" (only the cause's is).
    expect(transportFailure('pay', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).kind).toBe('unknown');
    expect(transportFailure('pay', Object.assign(new Error('x'), { cause: { code: 'ECONNREFUSED' } })).kind).toBe('not_sent');
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
