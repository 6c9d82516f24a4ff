/**
 * Protocol v1's transport (agent/backend/protocol-http.ts) against real node servers on
 * loopback: the answer's bytes untouched, every status handed back, no redirect, the 64 KiB
 * cap, one wall-clock deadline, the kept-alive pool, and failures that say whether the
 * connection was open, read by call-failure.ts as "not sent" or "unknown" (money rule 2).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { transportFailure } from '../../agent/backend/call-failure.ts';
import { keptAliveAgents, keptAliveOptions, type KeptAliveAgents } from '../../agent/backend/gateway-pool.ts';
import { createProtocolHttp, MAX_ANSWER_BYTES, TransportError } from '../../agent/backend/protocol-http.ts';
import { DEMO_FILES } from '../../simulator/backend/wechat/demo-merchant.ts';
import { closeNewest, listenOnLoopback, newestServer } from '../support/loopback.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A server that records each request (path and body) and, once it is read, answers with `answer`. */
async function serve(answer: Handler, server: http.Server | https.Server = http.createServer()) {
  const seen: Array<{ path: string; body: string }> = [];
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url!, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await listenOnLoopback(server);
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return { url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, connections: () => connections };
}

const answer = (status: number, body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Handler => (_, res) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
const post = (url: string, o: { deadlineMs?: number; agents?: KeptAliveAgents; path?: string } = {}) =>
  createProtocolHttp(url, o.agents ?? keptAliveAgents(4_000)).post(o.path ?? '/v1/pay', Buffer.from('{"orderNo":"A1"}'), { deadlineMs: o.deadlineMs ?? 2_000, headers: { 'content-type': 'application/json' } });
/** The call's rejection, which must be a TransportError. */
const failure = async (p: Promise<unknown>): Promise<TransportError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TransportError);
  return e as TransportError;
};

describe('an answer', () => {
  it('comes back as the exact bytes sent, with its status and headers, whatever the status', async () => {
    const bytes = Buffer.concat([Buffer.from('{"note":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const gw = await serve(answer(503, bytes, { 'X-Scanpay-Nonce': 'n1' }));
    const r = await post(gw.url);
    expect(r.status).toBe(503);
    expect(r.body.equals(bytes)).toBe(true);
    expect(r.headers['x-scanpay-nonce']).toBe('n1');
    expect(gw.seen).toEqual([{ path: '/v1/pay', body: '{"orderNo":"A1"}' }]);
  });

  it('goes to the path after the base URL\'s own, written with any number of trailing slashes', async () => {
    const gw = await serve(answer(200, '{}'));
    for (const base of [gw.url, `${gw.url}/`, `${gw.url}///`, `${gw.url}/gw`, `${gw.url}/gw//`]) await post(base, { path: '/v1/params' });
    expect(gw.seen.map((s) => s.path)).toEqual(['/v1/params', '/v1/params', '/v1/params', '/gw/v1/params', '/gw/v1/params']);
  });

  it('a redirect is handed back, never followed: the request may have been processed where it was sent', async () => {
    const target = await serve(answer(200, '{}'));
    const gw = await serve((_, res) => res.writeHead(307, { location: `${target.url}/v1/pay` }).end());
    expect(await post(gw.url)).toMatchObject({ status: 307, headers: { location: `${target.url}/v1/pay` } });
    expect(target.seen).toEqual([]);
  });

  it('of exactly 64 KiB is taken; one byte more is an error, read as unknown, whether its length is declared or not', async () => {
    const gw = await serve((req, res) => {
      const size = Number.parseInt(req.url!.slice(1), 10);
      if (req.url!.endsWith('chunked')) {
        // No content-length: the cap must hold while the bytes arrive.
        res.writeHead(200);
        for (let sent = 0; sent < size; sent += 1_000) res.write('x'.repeat(Math.min(1_000, size - sent)));
        return void res.end();
      }
      res.writeHead(200, { 'content-length': size }).end('x'.repeat(size));
    });
    expect((await post(gw.url, { path: `/${MAX_ANSWER_BYTES}` })).body.length).toBe(65_536);
    expect((await post(gw.url, { path: `/${MAX_ANSWER_BYTES}/chunked` })).body.length).toBe(65_536);
    for (const path of [`/${MAX_ANSWER_BYTES + 1}`, `/${MAX_ANSWER_BYTES + 1}/chunked`]) {
      const e = await failure(post(gw.url, { path }));
      expect(e).toMatchObject({ code: 'ANSWER_TOO_LARGE', connected: true, message: 'answer larger than 65536 bytes' });
      expect(transportFailure('pay', e)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', message: 'no answer to pay (ANSWER_TOO_LARGE)' } });
    }
  });
});

describe('the deadline', () => {
  it('a gateway that never answers: DEADLINE, unknown, and the connection is dropped, not left to a late answer', async () => {
    const gw = await serve(() => {});
    const closed = new Promise<void>((r) => newestServer().once('connection', (s) => s.once('close', () => r())));
    const e = await failure(post(gw.url, { deadlineMs: 100 }));
    expect(e).toMatchObject({ code: 'DEADLINE', connected: true, message: 'no complete answer within 100 ms' });
    expect(transportFailure('pay', e).error.message).toBe('no answer to pay (DEADLINE)');
    await closed;
  });

  it('covers the whole exchange: a body dripping a byte at a time past it is cut', async () => {
    const gw = await serve((_, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(drip));
    });
    expect(await failure(post(gw.url, { deadlineMs: 200 }))).toMatchObject({ code: 'DEADLINE' });
  });

  it('counts from the send, waiting for a socket of a full pool included', async () => {
    const held: Array<() => void> = [];
    const gw = await serve((_, res) => held.push(() => res.end('{}')));
    const agents = keptAliveAgents(4_000, 1);
    const first = post(gw.url, { agents, deadlineMs: 2_000 });
    // The only socket is busy until the first answer, which comes after the second's deadline.
    expect(await failure(post(gw.url, { agents, deadlineMs: 100 }))).toMatchObject({ code: 'DEADLINE', connected: false });
    held.splice(0).forEach((a) => a());
    expect((await first).status).toBe(200);
  });

  it('a call slower than the pool\'s idle timeout is not cut by it: only the deadline ends a call', async () => {
    const gw = await serve((_, res) => setTimeout(() => res.end('{}'), 200));
    expect((await post(gw.url, { agents: keptAliveAgents(30), deadlineMs: 2_000 })).status).toBe(200);
  });
});

describe('failures, as call-failure.ts reads them', () => {
  it('a refused connection: not connected, so provably not sent', async () => {
    const gw = await serve(() => {});
    await closeNewest();
    const e = await failure(post(gw.url));
    expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', connected: false });
    expect(transportFailure('pay', e)).toMatchObject({ kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', message: 'backend unreachable (ECONNREFUSED)' } });
    // Node's own error is kept as the cause, for the log's stack; the name says which kind it is.
    expect(e.name).toBe('TransportError');
    expect(e.cause).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', port: Number(new URL(gw.url).port) });
    expect(e.message).toBe((e.cause as Error).message);
  });

  it('a base URL without a port goes to the scheme\'s own (80), not to port 0', async () => {
    const e = await failure(post('http://127.0.0.1'));
    expect(e.cause).toMatchObject({ address: '127.0.0.1', port: 80 });
  });

  it('an IPv6 literal in the base URL is connected to without its brackets', async () => {
    const server = http.createServer((_, res) => res.end('{"v6":true}'));
    await new Promise<void>((r) => server.listen(0, '::1', r));
    try {
      const r = await post(`http://[::1]:${(server.address() as AddressInfo).port}`);
      expect(r.body.toString()).toBe('{"v6":true}');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a connection cut after the request arrived: connected, so unknown', async () => {
    const gw = await serve((req) => req.socket.destroy());
    const e = await failure(post(gw.url));
    expect(e).toMatchObject({ code: 'ECONNRESET', connected: true });
    expect(transportFailure('pay', e)).toMatchObject({ kind: 'unknown', error: { message: 'no answer to pay (ECONNRESET)' } });
  });

  it('a reset in the middle of the answer: unknown', async () => {
    const gw = await serve((_, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('{"result":"SUCC', () => setTimeout(() => res.socket!.destroy(), 20));
    });
    const e = await failure(post(gw.url));
    expect(e).toMatchObject({ code: 'ECONNRESET', connected: true });
    expect(transportFailure('pay', e).kind).toBe('unknown');
  });

  it('a cut on a socket from the pool, handed to a call that waited for it: connected, so unknown', async () => {
    let n = 0;
    const gw = await serve((req, res) => (++n === 1 ? res.end('{}') : req.socket.destroy()));
    const agents = keptAliveAgents(4_000, 1);
    const [first, second] = await Promise.allSettled([post(gw.url, { agents }), post(gw.url, { agents })]);
    expect(first).toMatchObject({ status: 'fulfilled' });
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'ECONNRESET', connected: true } });
    expect(gw.connections()).toBe(1);
  });

  it('over https, our rejection of the server\'s certificate is before the request: not sent; with the CA trusted, an answer', async () => {
    const server = https.createServer({ cert: readFileSync(DEMO_FILES.server.cert), key: readFileSync(DEMO_FILES.server.key) });
    const gw = await serve(answer(200, '{"ok":true}'), server);
    const e = await failure(post(gw.url));
    expect(e).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', connected: false });
    expect(transportFailure('pay', e).kind).toBe('not_sent');
    expect(gw.seen).toEqual([]);
    const trusting = new https.Agent(keptAliveOptions(4_000, 8, { ca: readFileSync(DEMO_FILES.ca) }));
    const r = await post(gw.url, { agents: { httpAgent: new http.Agent(), httpsAgent: trusting } });
    expect(r.body.toString()).toBe('{"ok":true}');
  });

  it('a failure after the handshake over https is unknown', async () => {
    const server = https.createServer({ cert: readFileSync(DEMO_FILES.server.cert), key: readFileSync(DEMO_FILES.server.key) });
    const gw = await serve((req) => req.socket.destroy(), server);
    const trusting = new https.Agent(keptAliveOptions(4_000, 8, { ca: readFileSync(DEMO_FILES.ca) }));
    const e = await failure(post(gw.url, { agents: { httpAgent: new http.Agent(), httpsAgent: trusting } }));
    expect(e).toMatchObject({ code: 'ECONNRESET', connected: true });
    expect(transportFailure('pay', e).kind).toBe('unknown');
  });
});

describe('the kept-alive pool', () => {
  it('consecutive calls share one connection; an idle one is closed by the client after idleMs', async () => {
    const gw = await serve(answer(200, '{}'));
    const server = newestServer() as http.Server;
    server.keepAliveTimeout = 10_000;
    const closedByClient = new Promise<void>((r) => server.once('connection', (s) => s.once('end', () => r())));
    const c = createProtocolHttp(gw.url, keptAliveAgents(100));
    for (let i = 0; i < 3; i++) expect((await c.post('/v1/pay', Buffer.from('{}'), { deadlineMs: 2_000, headers: {} })).status).toBe(200);
    expect(gw.connections()).toBe(1);
    // The client's FIN, long before the server's own 10 s.
    await closedByClient;
    expect((await c.post('/v1/pay', Buffer.from('{}'), { deadlineMs: 2_000, headers: {} })).status).toBe(200);
    expect(gw.connections()).toBe(2);
  });
});

describe('keptAliveAgents', () => {
  it('makes one https pool, when first read, and hands back the same one after: its connections are kept', () => {
    const agents = keptAliveAgents(4_000, 8);
    const pool = agents.httpsAgent;
    expect(pool).toBeInstanceOf(https.Agent);
    expect(pool.options).toMatchObject({ keepAlive: true, timeout: 4_000 });
    expect(pool.maxSockets).toBe(8);
    expect(agents.httpsAgent).toBe(pool);
  });
});

describe('keptAliveOptions', () => {
  it('keeps connections alive, closes an idle one after idleMs, caps the pool, and adds the TLS settings', () => {
    expect(keptAliveOptions(4_000, 8, { ca: 'CA' })).toEqual({ keepAlive: true, timeout: 4_000, maxSockets: 8, ca: 'CA' });
    expect(keptAliveOptions(50)).toEqual({ keepAlive: true, timeout: 50, maxSockets: Infinity });
  });
});
