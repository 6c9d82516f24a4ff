/**
 * The acquirer client's classification of everything that can come back, against small
 * real HTTP servers on loopback: only a verified answer for this very request counts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock } from '../../agent/clock.ts';
import type { ClockOffset } from '../../agent/clock-offset.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { HEADER, NonceCache, signResponse, verifyRequest } from '../../agent/protocol/signing.ts';
import { closeNewest, listenOnLoopback, newestServer } from '../support/loopback.ts';

const key = Buffer.from('test-terminal-key-0123456789');
const terminalId = 'T9';
async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await listenOnLoopback(s);
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
    const server = newestServer();
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
    await closeNewest();
    const r = await client(url).pay(payReq);
    expect(r).toMatchObject({ kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', detail: { op: 'pay' }, message: expect.stringContaining('ECONNREFUSED') } });
  });

  it('a timeout is unknown, never a failure', async () => {
    const r = await client(await serve(() => {}), 100).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', detail: { op: 'pay' } } });
  });

  it('a connection cut after the request is unknown', async () => {
    const r = await client(await serve((req) => req.socket.destroy())).pay(payReq);
    // The technician sees the errno, not a deadline that never passed.
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', detail: { op: 'pay' }, message: expect.stringContaining('ECONNRESET') } });
  });

  it('a body changed after signing is unknown', async () => {
    const url = await serve(signedAnswer(success, (_, b) => Buffer.from(b.toString().replace('SUCCESS', 'SUCCESS '))));
    expect(await client(url).pay(payReq)).toMatchObject({
      kind: 'unknown',
      error: { code: 'BACKEND_SIGNATURE_INVALID', detail: { op: 'pay', status: 200, body: '{"result":"SUCCESS ","orderNo":"ORDER0001"}' } },
    });
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
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED', detail: { op: 'pay' } } });
  });

  it('a verified answer of the wrong shape is unknown', async () => {
    const r = await client(await serve(signedAnswer((orderNo) => ({ result: 'PAID!', orderNo })))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
    // The technician reads which fields were wrong, each by its path.
    const q = await client(await serve(signedAnswer((orderNo) => ({ result: 'NOPE', orderNo, trade: { orderNo, state: 'SUCCESS', amount: 'ten' } })))).query({ orderNo: 'ORDER0001' });
    expect(q.kind === 'unknown' && q.error.message).toMatch(/^answer to query is malformed \(result: [^;]+; trade\.amount: [^;]+/);
  });

  it('an unsigned HTTP 500 is unknown, and says the status first', async () => {
    const r = await client(await serve((_, res) => res.writeHead(500).end('oops'))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS' } });
    expect(r.kind === 'unknown' && r.error.message).toBe('backend answered pay with HTTP 500 (unverified: PROTO_SIGNATURE_MISSING)');
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
    expect(r.kind === 'unknown' && r.error.message).toBe('answer to pay failed verification (PROTO_SIGNATURE_MISSING): treated as no answer');
  });

  it('an answer larger than the protocol allows is unknown', async () => {
    const r = await client(await serve(signedAnswer((orderNo) => ({ ...success(orderNo), pad: 'x'.repeat(100_000) })))).pay(payReq);
    expect(r.kind).toBe('unknown');
  });

  /** Records each request, verifies it as the gateway would with `keyOf()`, and answers signed (or as `answer` says). */
  function gateway(o: { keyOf?: () => Buffer; status?: number; answer?: (orderNo: string) => string; delayMs?: number } = {}) {
    const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string; verified: string | undefined }> = [];
    const nonces = new NonceCache();
    const handler: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const k = o.keyOf?.() ?? key;
        let verified: string | undefined;
        try {
          verifyRequest({ method: req.method!, path: req.url!, terminalId: String(req.headers[HEADER.terminal]), body }, req.headers, k, { now: Date.now(), nonces });
          verified = 'ok';
        } catch (e) {
          verified = (e as ScanpayError).code;
        }
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: body.toString(), verified });
        const { orderNo } = JSON.parse(body.toString()) as { orderNo: string };
        const raw = Buffer.from(o.answer ? o.answer(orderNo) : JSON.stringify(success(orderNo)));
        const status = verified === 'ok' ? (o.status ?? 200) : 401;
        const headers = verified === 'ok' ? (signResponse({ method: 'POST', path: req.url!, terminalId, body: raw, status, requestNonce: String(req.headers[HEADER.nonce]) }, k, Date.now()) as unknown as Record<string, string>) : {};
        setTimeout(() => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(raw), o.delayMs ?? 0);
      });
    };
    return { seen, handler };
  }

  it('sends each operation signed to its documented path, with the terminal and, when given, the trace header', async () => {
    const g = gateway({ answer: (orderNo) => JSON.stringify({ result: 'SUCCESS', orderNo, recall: false, refundNo: 'REFUND0001' }) });
    const c = client(await serve(g.handler));
    expect((await c.pay({ ...payReq, traceId: 'trace-1' })).kind).toBe('answer');
    expect((await c.query({ orderNo: 'ORDER0001' })).kind).toBe('answer');
    expect((await c.reverse({ orderNo: 'ORDER0001', traceId: 'trace-2' })).kind).toBe('answer');
    expect((await c.refund({ orderNo: 'ORDER0001', refundNo: 'REFUND0001', amount: 100 })).kind).toBe('answer');
    expect(g.seen.map((r) => [r.method, r.url, r.verified, r.headers[HEADER.terminal], r.headers[HEADER.trace]])).toEqual([
      ['POST', '/v1/pay', 'ok', terminalId, 'trace-1'],
      ['POST', '/v1/query', 'ok', terminalId, undefined],
      ['POST', '/v1/reverse', 'ok', terminalId, 'trace-2'],
      ['POST', '/v1/refund', 'ok', terminalId, undefined],
    ]);
    expect(g.seen[0]!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(g.seen[0]!.body)).toEqual({ ...payReq, traceId: 'trace-1' });
  });

  it('signs new calls with a rotated key and takes answers signed with it', async () => {
    const rotated = Buffer.from('rotated-terminal-key-987654321');
    let gatewayKey = key;
    const g = gateway({ keyOf: () => gatewayKey });
    const c = client(await serve(g.handler));
    expect((await c.pay(payReq)).kind).toBe('answer');
    gatewayKey = rotated;
    c.setKey(rotated);
    expect((await c.pay({ ...payReq, orderNo: 'ORDER0002' })).kind).toBe('answer');
    expect(g.seen.map((r) => r.verified)).toEqual(['ok', 'ok']);
  });

  it('reports every finished call for metrics: operation, outcome, latency', async () => {
    const calls: Array<[string, string, number]> = [];
    const url = await serve(gateway().handler);
    const c = new HttpAcquirer({ baseUrl: url, terminalId, key, clock: systemClock, onCall: (...a) => calls.push(a) });
    const before = performance.now();
    await c.pay(payReq);
    await c.query({ orderNo: 'ORDER0001' });
    const waited = Math.ceil(performance.now() - before);
    expect(calls.map(([op, kind]) => [op, kind])).toEqual([
      ['pay', 'answer'],
      ['query', 'answer'],
    ]);
    // Each call's own latency: never more than the test waited for both.
    expect(calls.every(([, , ms]) => Number.isInteger(ms) && ms >= 0 && ms <= waited)).toBe(true);
  });

  it('a held (long-poll) query may take its waitMs on top of the timeout', async () => {
    const url = await serve(gateway({ delayMs: 300 }).handler);
    expect((await client(url, 100).query({ orderNo: 'ORDER0001', waitMs: 1_000 })).kind).toBe('answer');
    expect(await client(url, 100).query({ orderNo: 'ORDER0001' })).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN' } });
  });

  it('a peer dripping its body past the deadline is unknown (one wall-clock deadline, not per byte)', async () => {
    const url = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const drip = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(drip));
    });
    expect(await client(url, 200).pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', message: 'no answer to pay (DEADLINE)' } });
  });

  it('a verified refusal (HTTP 401) is no answer, with its status', async () => {
    const r = await client(await serve(gateway({ status: 401, answer: () => '{"error":{"code":"PROTO_X","message":"no"}}' }).handler)).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS', detail: { op: 'pay', status: 401, body: '{"error":{"code":"PROTO_X","message":"no"}}' } } });
    expect(r.kind === 'unknown' && r.error.message).toBe('backend answered pay with HTTP 401');
  });

  it('a verified answer that is not JSON is unknown', async () => {
    const r = await client(await serve(gateway({ answer: () => 'SUCCESS' }).handler)).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED', detail: { op: 'pay', body: 'SUCCESS' } } });
    expect(r.kind === 'unknown' && r.error.message).toMatch(/^answer to pay is malformed \(.*JSON/);
  });

  it('an unsigned 500 keeps the status and the start of the body for the technician', async () => {
    const r = await client(await serve((_, res) => res.writeHead(503).end('x'.repeat(600)))).pay(payReq);
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS', detail: { op: 'pay', status: 503, body: 'x'.repeat(512) } } });
  });

  it('a tighter skew window refuses an answer the default would take', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        const raw = Buffer.from(JSON.stringify(success('ORDER0001')));
        const headers = signResponse({ method: 'POST', path: req.url!, terminalId, body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, key, Date.now() - 20_000);
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(raw);
      });
    });
    expect((await client(url).pay(payReq)).kind).toBe('answer');
    const strict = new HttpAcquirer({ baseUrl: url, terminalId, key, clock: systemClock, skewMs: 10_000 });
    expect(await strict.pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
  });

  it('signs and verifies with the corrected clock, and tells it every answer; its skew refusal is the error', async () => {
    const noted: boolean[] = [];
    const answers: Array<{ status: number; body: Buffer; headers: Record<string, unknown>; sentAt: number }> = [];
    const g = gateway();
    const url = await serve(g.handler);
    let refusal: ScanpayError | undefined;
    // A device clock an hour behind, corrected by the offset: the gateway sees a fresh timestamp.
    const deviceClock = { ...systemClock, now: () => Date.now() - 3_600_000 };
    const offset = { now: () => Date.now(), noteAnswer: (a: (typeof answers)[number] & { verified: boolean }) => (answers.push(a), noted.push(a.verified), a.verified ? undefined : refusal) } as unknown as ClockOffset;
    const c = new HttpAcquirer({ baseUrl: url, terminalId, key, clock: deviceClock, clockOffset: offset });
    expect((await c.pay(payReq)).kind).toBe('answer');
    expect(g.seen[0]!.verified).toBe('ok');
    refusal = new ScanpayError('BACKEND_CLOCK_SKEW');
    const unsigned = await serve((_, res) => res.writeHead(401).end('{}'));
    const d = new HttpAcquirer({ baseUrl: unsigned, terminalId, key, clock: deviceClock, clockOffset: offset });
    expect(await d.pay(payReq)).toMatchObject({ kind: 'unknown', error: refusal });
    expect(noted).toEqual([true, false]);
    // What the offset measures from: the status, the signed headers, and when the request left by the device clock.
    expect(answers[0]).toMatchObject({ status: 200, body: Buffer.from(JSON.stringify(success('ORDER0001'))), headers: { [HEADER.nonce]: expect.any(String) } });
    expect(Math.abs(answers[0]!.sentAt - (Date.now() - 3_600_000))).toBeLessThan(60_000);
    expect(answers[1]).toMatchObject({ status: 401 });
  });

  it('takes a base URL with trailing slashes as the same gateway', async () => {
    const g = gateway();
    const url = await serve(g.handler);
    expect((await client(`${url}///`).pay(payReq)).kind).toBe('answer');
    expect(g.seen.map((r) => r.url)).toEqual(['/v1/pay']);
  });

  it('never follows a redirect: the request may have been processed where it was sent', async () => {
    const g = gateway();
    const target = await serve(g.handler);
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${target}/v1/pay` }).end();
    });
    expect(await client(url).pay(payReq)).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_HTTP_STATUS', detail: { status: 307 } } });
    expect(g.seen).toEqual([]);
  });

  it('talks to the gateway directly whatever proxy the environment names', async () => {
    const url = await serve(gateway().handler);
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    Object.assign(process.env, { HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9' });
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      expect((await client(url).pay(payReq)).kind).toBe('answer');
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('keeps connections alive: consecutive calls share one, held queries another of their own', async () => {
    const g = gateway();
    const url = await serve(g.handler);
    let connections = 0;
    newestServer().on('connection', () => connections++);
    const c = client(url);
    await c.pay(payReq);
    await c.pay({ ...payReq, orderNo: 'ORDER0002' });
    await c.query({ orderNo: 'ORDER0001', waitMs: 1 });
    await c.query({ orderNo: 'ORDER0002', waitMs: 1 });
    expect(g.seen.map((r) => r.verified)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(connections).toBe(2);
  });

  it('opens at most 8 connections to the gateway: a ninth call waits for a free one', async () => {
    const held: Array<() => void> = [];
    const g = gateway();
    const url = await serve((req, res) => {
      // Nothing is answered until eight requests are in: the eight sockets are all busy.
      held.push(() => g.handler(req, res));
      if (held.length === 8) for (const answer of held.splice(0)) answer();
    });
    let connections = 0;
    newestServer().on('connection', () => connections++);
    const c = client(url);
    const calls = Array.from({ length: 9 }, (_, i) => c.pay({ ...payReq, orderNo: `ORDER00${10 + i}` }));
    const results = await Promise.all(calls.slice(0, 8));
    expect(results.map((r) => r.kind)).toEqual(Array(8).fill('answer'));
    // The ninth went out on a socket the first eight freed, and is held alone: answer it.
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    held.splice(0).forEach((answer) => answer());
    expect((await calls[8]!).kind).toBe('answer');
    expect(connections).toBe(8);
  });

  it('verifies the exact bytes the gateway signed, even bytes that are not UTF-8', async () => {
    const raw = (orderNo: string) => Buffer.concat([Buffer.from(`{"result":"FAIL","orderNo":"${orderNo}","reasonMessage":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (ch) => chunks.push(ch));
      req.on('end', () => {
        const body = raw((JSON.parse(Buffer.concat(chunks).toString()) as { orderNo: string }).orderNo);
        const headers = signResponse({ method: 'POST', path: req.url!, terminalId, body, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, key, Date.now());
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body);
      });
    });
    expect(await client(url).pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'FAIL', orderNo: 'ORDER0001' } });
  });
});
