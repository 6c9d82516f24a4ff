/**
 * The HTTP settings every protocol v1 call shares (agent/backend/protocol-http.ts), through
 * both of its calls, against small real servers on loopback: the base URL as configured,
 * the answer's bytes untouched, a deadline only when one is asked for, and the
 * `isAxiosError` test a failed call is classified by.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createProtocolHttp, isAxiosError, keptAliveOptions } from '../../agent/backend/protocol-http.ts';
import { listenOnLoopback } from '../support/loopback.ts';

/** A server that records each request's path and answers with `answer`. */
async function serve(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const s = http.createServer((req, res) => {
    paths.push(req.url!);
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await listenOnLoopback(s);
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, paths };
}

const json = (status: number, body: string) => (_: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(body);

describe('createProtocolHttp', () => {
  it('joins the path to a base URL written with any number of trailing slashes', async () => {
    const gw = await serve(json(200, '{}'));
    for (const base of [gw.url, `${gw.url}/`, `${gw.url}////`]) await createProtocolHttp(base).post('/v1/params', Buffer.from('{}'));
    expect(gw.paths).toEqual(['/v1/params', '/v1/params', '/v1/params']);
  });

  it('post without a deadline waits for a slow answer; with one, gives up at it', async () => {
    const gw = await serve((req, res) => setTimeout(() => json(200, '{}')(req, res), 300));
    const c = createProtocolHttp(gw.url);
    await expect(c.post('/v1/heartbeat', Buffer.from('{}'))).resolves.toMatchObject({ status: 200 });
    await expect(c.post('/v1/heartbeat', Buffer.from('{}'), { deadlineMs: 50 })).rejects.toMatchObject({ code: 'ERR_CANCELED' });
  });

  it('request sends with the same settings: the answer\'s raw bytes, every status handed back, no redirect followed', async () => {
    const body = '{"result":"FAIL", "note":"spaced as sent"}';
    const gw = await serve((req, res) => (req.url === '/moved' ? res.writeHead(302, { location: '/elsewhere' }).end() : json(503, body)(req, res)));
    const c = createProtocolHttp(gw.url);
    const r = await c.request({ method: 'POST', url: '/v3/pay/transactions/codepay', data: '{}' });
    expect(r.status).toBe(503);
    expect(Buffer.isBuffer(r.data)).toBe(true);
    expect((r.data as Buffer).toString('utf8')).toBe(body);
    await expect(c.request({ method: 'GET', url: '/moved' })).resolves.toMatchObject({ status: 302 });
    expect(gw.paths).toEqual(['/v3/pay/transactions/codepay', '/moved']);
  });
});

describe('isAxiosError', () => {
  it('is true only for an object axios marked, and answers for any value a promise may reject with', async () => {
    const gw = await serve(() => {});
    const failed = await createProtocolHttp(gw.url).post('/v1/heartbeat', Buffer.from('{}'), { deadlineMs: 20 }).catch((e: unknown) => e);
    expect(isAxiosError(failed)).toBe(true);
    for (const other of [undefined, null, 'ECONNRESET', 0, new Error('x'), { isAxiosError: 'yes' }]) expect(isAxiosError(other)).toBe(false);
  });
});

describe('keptAliveOptions', () => {
  it('keeps connections alive, closes an idle one after idleMs, caps the pool, and adds the TLS settings', () => {
    expect(keptAliveOptions(4_000, 8, { ca: 'CA' })).toEqual({ keepAlive: true, timeout: 4_000, maxSockets: 8, ca: 'CA' });
    expect(keptAliveOptions(50)).toEqual({ keepAlive: true, timeout: 50, maxSockets: Infinity });
  });
});
