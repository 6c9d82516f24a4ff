/**
 * The Upay exchange (agent/backend/upay/upay-http.ts) against a real HTTP server on loopback:
 * the signed request as Upay documents it (`Authorization: sn MD5(body + key)`), the raw
 * answer back, transport failures classified by the one rule, and plain HTTP refused off
 * loopback (Upay answers are unsigned).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertSafeGateway, isLoopbackUrl, UpayHttp } from '../../agent/backend/upay/upay-http.ts';
import { closeNewest, listenOnLoopback } from '../support/loopback.ts';

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await listenOnLoopback(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('UpayHttp.post', () => {
  it('sends the body signed as Upay documents it and hands back the status and body', async () => {
    const seen: { url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        Object.assign(seen, { url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200).end('{"result_code":"200"}');
      });
    });
    const body = Buffer.from('{"terminal_sn":"T1","client_sn":"O1"}');
    const r = await new UpayHttp(url).post('/upay/v2/pay', body, 'T1', 'k3y', 2_000);
    expect(r).toEqual({ kind: 'answer', status: 200, body: '{"result_code":"200"}' });
    const md5 = createHash('md5').update(Buffer.concat([body, Buffer.from('k3y')])).digest('hex');
    expect(seen).toMatchObject({ url: '/upay/v2/pay', body: body.toString(), headers: { 'content-type': 'application/json', authorization: `T1 ${md5}` } });
    // Another content type when asked (the gzipped log upload).
    await new UpayHttp(url).post('/terminal/uploadLog', Buffer.from('x'), 'T1', 'k3y', 2_000, 'application/octet-stream');
    expect(seen.headers?.['content-type']).toBe('application/octet-stream');
  });

  it('connection refused: not sent; no answer in time: unknown', async () => {
    const url = await serve((req) => req.resume());
    expect(await new UpayHttp(url).post('/upay/v2/query', Buffer.from('{}'), 'T1', 'k', 200)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN' } });
    await closeNewest();
    expect(await new UpayHttp(url).post('/upay/v2/pay', Buffer.from('{}'), 'T1', 'k', 2_000)).toMatchObject({ kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', message: 'backend unreachable (ECONNREFUSED)' } });
  });
});

describe('only TLS vouches for an unsigned Upay answer', () => {
  it('loopback names the simulator; nothing else, and no non-URL, does', () => {
    for (const u of ['http://127.0.0.1:8470', 'http://localhost:1', 'http://[::1]:8470/']) expect(isLoopbackUrl(u), u).toBe(true);
    for (const u of ['http://127.0.0.2', 'http://api.shouqianba.com', 'localhost', '']) expect(isLoopbackUrl(u), u).toBe(false);
  });

  it('refuses plain HTTP off loopback and a base URL that is not a URL, with CONFIG_INVALID', () => {
    expect(() => assertSafeGateway('http://[::1]:8470')).not.toThrow();
    expect(() => assertSafeGateway('http://vsi-api.shouqianba.com')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/use https \(got http:\/\/vsi-api\.shouqianba\.com\)/) }));
    expect(() => assertSafeGateway('api.shouqianba.com')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: 'backend.url: api.shouqianba.com is not a URL' }));
    expect(() => new UpayHttp('http://vsi-api.shouqianba.com')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
