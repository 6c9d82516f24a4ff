/**
 * The axios client the WeChat, Alipay and Upay adapters share (agent/backend/axios-http.ts),
 * through both of its calls, against small real servers on loopback: the base URL as
 * configured, the answer's bytes untouched, every status handed back, no redirect followed,
 * and the `isAxiosError` test a failed call is classified by.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createAxiosHttp, isAxiosError } from '../../agent/backend/axios-http.ts';
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

describe('createAxiosHttp', () => {
  it('joins the path to a base URL written with any number of trailing slashes', async () => {
    const gw = await serve(json(200, '{}'));
    for (const base of [gw.url, `${gw.url}/`, `${gw.url}////`]) await createAxiosHttp(base).post('/upay/v2/pay', Buffer.from('{}'));
    expect(gw.paths).toEqual(['/upay/v2/pay', '/upay/v2/pay', '/upay/v2/pay']);
  });

  it('post gives up at its timeout', async () => {
    const gw = await serve((req, res) => setTimeout(() => json(200, '{}')(req, res), 300));
    const c = createAxiosHttp(gw.url);
    await expect(c.post('/upay/v2/query', Buffer.from('{}'))).resolves.toMatchObject({ status: 200 });
    await expect(c.post('/upay/v2/query', Buffer.from('{}'), { timeout: 50 })).rejects.toMatchObject({ code: 'ECONNABORTED' });
  });

  it('request sends with the same settings: the answer\'s raw bytes, every status handed back, no redirect followed', async () => {
    const body = '{"result":"FAIL", "note":"spaced as sent"}';
    const gw = await serve((req, res) => (req.url === '/moved' ? res.writeHead(302, { location: '/elsewhere' }).end() : json(503, body)(req, res)));
    const c = createAxiosHttp(gw.url);
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
    const failed = await createAxiosHttp(gw.url).post('/upay/v2/query', Buffer.from('{}'), { timeout: 20 }).catch((e: unknown) => e);
    expect(isAxiosError(failed)).toBe(true);
    for (const other of [undefined, null, 'ECONNRESET', 0, new Error('x'), { isAxiosError: 'yes' }]) expect(isAxiosError(other)).toBe(false);
  });
});
