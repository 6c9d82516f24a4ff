/**
 * The acquirer client's classification of everything that can come back, against small
 * real HTTP servers on loopback: only a verified answer for this very request counts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock } from '../../agent/clock.ts';
import { HEADER, signResponse } from '../../agent/protocol/signing.ts';

const key = Buffer.from('test-terminal-key-0123456789');
const terminalId = 'T9';
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** Answers `body` signed for the request it got, optionally bent by `bend`. */
function signedAnswer(body: (orderNo: string) => unknown, bend: (h: Record<string, string>, b: Buffer) => Buffer = (_, b) => b): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { orderNo } = JSON.parse(Buffer.concat(chunks).toString()) as { orderNo: string };
      const raw = Buffer.from(JSON.stringify(body(orderNo)));
      const headers = signResponse(
        { method: 'POST', path: req.url!, terminalId, body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) },
        key,
        Date.now(),
      ) as unknown as Record<string, string>;
      const out = bend(headers, raw);
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(out);
    });
  };
}

const client = (baseUrl: string, timeoutMs = 2_000, idleSocketMs?: number) =>
  new HttpAcquirer({ baseUrl, terminalId, key, clock: systemClock, timeoutMs: { pay: timeoutMs, query: timeoutMs }, ...(idleSocketMs ? { idleSocketMs } : {}) });
const payReq = { orderNo: 'ORDER0001', paymentCode: '134567890123456789', amount: 100, currency: 'CNY' };
const success = (orderNo: string) => ({ result: 'SUCCESS', orderNo });

describe('HTTP acquirer client', () => {
  it('takes a verified answer', async () => {
    const r = await client(await serve(signedAnswer(success))).pay(payReq);
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
  });

  it('closes an idle connection itself, before the gateway would (no reset on a reused socket)', async () => {
    const url = await serve(signedAnswer(success));
    const server = servers.at(-1)!;
    server.keepAliveTimeout = 10_000;
    const closedByClient = new Promise<void>((resolve) => server.once('connection', (socket) => socket.once('end', () => resolve())));
    const c = client(url, 2_000, 50);
    expect((await c.pay(payReq)).kind).toBe('answer');
    // The client's FIN arrives long before the server's own 10 s keep-alive timeout.
    await closedByClient;
    expect((await c.pay({ ...payReq, orderNo: 'ORDER0002' })).kind).toBe('answer');
  });

  it('connection refused: provably not sent', async () => {
    const url = await serve(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    const r = await client(url).pay(payReq);
    expect(r.kind).toBe('not_sent');
  });

  it('a timeout is unknown, never a failure', async () => {
    const r = await client(await serve(() => {}), 100).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN' } });
  });

  it('a connection cut after the request is unknown', async () => {
    const r = await client(await serve((req) => req.socket.destroy())).pay(payReq);
    expect(r.kind).toBe('unknown');
  });

  it('a body changed after signing is unknown', async () => {
    const url = await serve(signedAnswer(success, (_, b) => Buffer.from(b.toString().replace('SUCCESS', 'SUCCESS '))));
    expect(await client(url).pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
  });

  it('a genuine signed answer replayed for another request is unknown', async () => {
    let captured: { headers: Record<string, string>; body: Buffer } | undefined;
    const url = await serve((req, res) => {
      if (captured) {
        res.writeHead(200, { 'content-type': 'application/json', ...captured.headers });
        res.end(captured.body);
        return;
      }
      signedAnswer(success, (h, b) => ((captured = { headers: h, body: b }), b))(req, res);
    });
    const c = client(url);
    expect((await c.pay(payReq)).kind).toBe('answer');
    expect(await c.pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
    // A client whose replay cache has never seen that answer (another process, a restart):
    // only the signature's binding to this request's nonce can refuse it.
    expect(await client(url).pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
  });

  it('a genuine answer signed outside the clock window is unknown', async () => {
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.from(JSON.stringify(success('ORDER0001')));
        const headers = signResponse(
          { method: 'POST', path: req.url!, terminalId, body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) },
          key,
          Date.now() - 10 * 60_000,
        ) as unknown as Record<string, string>;
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(raw);
      });
    });
    expect(await client(url).pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
  });

  it('a verified answer about another order is unknown', async () => {
    const r = await client(await serve(signedAnswer(() => success('SOMEONEELSE')))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
  });

  it('a verified answer of the wrong shape is unknown', async () => {
    const r = await client(await serve(signedAnswer((orderNo) => ({ result: 'PAID!', orderNo })))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
  });

  it('an unsigned HTTP 500 is unknown, and says the status first', async () => {
    const r = await client(await serve((_, res) => res.writeHead(500).end('oops'))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS' } });
  });

  it('an unsigned HTTP 200 with a well-formed success is unknown', async () => {
    const r = await client(await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const { orderNo } = JSON.parse(Buffer.concat(chunks).toString()) as { orderNo: string };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(success(orderNo)));
      });
    })).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
  });

  it('an answer larger than the protocol allows is unknown', async () => {
    const r = await client(await serve(signedAnswer((orderNo) => ({ ...success(orderNo), pad: 'x'.repeat(100_000) })))).pay(payReq);
    expect(r.kind).toBe('unknown');
  });
});
