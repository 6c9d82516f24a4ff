/**
 * The POS API over real HTTP: the whole agent (startAgent) on port 0 against the simulated
 * backend, both on one manual clock, so a customer's 10-second password takes no real time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { startAgent, type RunningAgent } from '../../agent/daemon.ts';
import { silentLogger } from '../../agent/log.ts';
import type { PosPayment } from '../../agent/pos-payment.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

let clock: ManualClock;
let backend: RunningBackend;
let agent: RunningAgent;
let home: string;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  backend = await startBackend({ clock });
  home = mkdtempSync(join(tmpdir(), 'scanpay-api-'));
  agent = await startAgent({ home, logger: silentLogger, demo: true, backendUrl: backend.url, port: 0, clock });
});

afterEach(async () => {
  await agent.stop();
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown, o: { token?: string | null; contentType?: string; raw?: string } = {}) {
  const token = o.token === undefined ? agent.token : o.token;
  const res = await fetch(`${agent.apiUrl}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body !== undefined || o.raw !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}) },
    ...(o.raw !== undefined ? { body: o.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

const code = (behaviour: Parameters<RunningBackend['sim']['issueCode']>[1] = { kind: 'instant' }) => backend.sim.issueCode('wechat', behaviour);

/** Polls the payment (real I/O) and moves the manual clock timer by timer until it is final. */
async function final(id: string): Promise<PosPayment> {
  for (let i = 0; i < 500; i++) {
    const { body } = await api('GET', `/v1/payments/${id}`);
    if (body.result !== null) return body as PosPayment;
    clock.advanceToNext();
  }
  throw new Error(`payment ${id} never ended`);
}

/** Collects the event stream until stopped. */
function listen() {
  const events: Array<{ event: string; data: any }> = [];
  const abort = new AbortController();
  const ready = (async () => {
    const res = await fetch(`${agent.apiUrl}/v1/events`, { headers: { authorization: `Bearer ${agent.token}` }, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let buffer = '';
    const decoder = new TextDecoder();
    let resolveHello!: () => void;
    const hello = new Promise<void>((r) => (resolveHello = r));
    void (async () => {
      try {
        for await (const chunk of res.body!) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
            if (event === 'hello') resolveHello();
          }
        }
      } catch {
        // aborted by the test
      }
    })();
    await hello;
  })();
  return { events, ready, stop: () => abort.abort() };
}

describe('authentication', () => {
  it('refuses every endpoint without the right bearer token', async () => {
    for (const [method, path] of [['GET', '/v1/payments'], ['POST', '/v1/payments'], ['GET', '/v1/events'], ['GET', '/metrics'], ['GET', '/openapi.json'], ['GET', '/nowhere']]) {
      for (const token of [null, 'wrong', `${agent.token}x`]) {
        const r = await api(method!, path!, undefined, { token });
        expect(r.status, `${method} ${path} with ${token}`).toBe(401);
        expect(r.body.error.code).toBe('API_UNAUTHORIZED');
      }
    }
    const basic = await fetch(`${agent.apiUrl}/v1/payments`, { headers: { authorization: `Basic ${agent.token}` } });
    expect(basic.status).toBe(401);
  });
});

describe('validation', () => {
  it.each([
    [{}, 'amount'],
    [{ amount: '12.34' }, 'amount'],
    [{ amount: 12.5 }, 'amount'],
    [{ amount: 100, currency: 'cny' }, 'currency'],
    [{ amount: 100, id: 'has space' }, 'id'],
    [{ amount: 100, id: 'x'.repeat(65) }, 'id'],
    [{ amount: 100, paymentCode: 7 }, 'paymentCode'],
    [{ amount: 100, surprise: true }, 'surprise'],
  ])('answers 400 API_BAD_REQUEST naming the field for %j', async (body, field) => {
    const r = await api('POST', '/v1/payments', body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('API_BAD_REQUEST');
    expect(r.body.error.message).toContain(field);
  });

  it('maps bodies that are not JSON, too big, or of another type to stable codes', async () => {
    expect((await api('POST', '/v1/payments', undefined, { raw: '{"amount":' })).body.error.code).toBe('API_BAD_REQUEST');
    expect((await api('POST', '/v1/payments', undefined, { raw: '' })).body.error.code).toBe('API_BAD_REQUEST');
    expect((await api('POST', '/v1/payments', undefined, { raw: 'amount=1', contentType: 'text/plain' })).status).toBe(415);
    const big = await api('POST', '/v1/payments', undefined, { raw: JSON.stringify({ amount: 1, description: 'x'.repeat(70_000) }) });
    expect([big.status, big.body.error.code]).toEqual([413, 'API_BODY_TOO_LARGE']);
    expect((await api('POST', '/v1/payments', [1, 2])).body.error.code).toBe('API_BAD_REQUEST');
    expect((await api('GET', '/v1/payments?limit=abc')).body.error.message).toContain('limit');
    expect((await api('GET', '/v1/payments/%00')).body.error.code).toBe('API_BAD_REQUEST');
    expect((await api('GET', '/v2/anything')).body.error.code).toBe('API_NOT_FOUND');
  });

  it('on the wire: a chunked body over the limit, prototype keys, bad percent-encoding, HEAD, and a JSON type with a charset', async () => {
    // No Content-Length: the limit must hold while the chunks arrive, and the answer still reach the client.
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode(' '.repeat(8_192)));
        c.close();
      },
    });
    const chunked = await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' }, body: chunks, duplex: 'half' } as RequestInit);
    expect([chunked.status, ((await chunked.json()) as { error: { code: string } }).error.code]).toEqual([413, 'API_BODY_TOO_LARGE']);
    for (const raw of ['{"__proto__":{"amount":1},"amount":100}', '{"amount":100,"constructor":{"prototype":{}}}']) {
      expect((await api('POST', '/v1/payments', undefined, { raw })).body.error).toMatchObject({ code: 'API_BAD_REQUEST', message: expect.stringContaining('not valid JSON') });
    }
    expect((await api('GET', '/v1/payments/%E0%A4%A')).body.error.code).toBe('API_BAD_REQUEST');
    const head = await fetch(`${agent.apiUrl}/v1/agent`, { method: 'HEAD', headers: { authorization: `Bearer ${agent.token}` } });
    expect([head.status, await head.text()]).toEqual([200, '']);
    const created = await api('POST', '/v1/payments', undefined, { raw: '{"id":"CS","amount":100}', contentType: 'Application/JSON; charset=utf-8' });
    expect([created.status, created.body.id]).toEqual([201, 'CS']);
  });

  it('a waiting payment held by an event stream is cancelled when that client goes away', async () => {
    const abort = new AbortController();
    const res = await fetch(`${agent.apiUrl}/v1/events?hold=H`, { headers: { authorization: `Bearer ${agent.token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect((await api('POST', '/v1/payments', { id: 'H', amount: 100 })).status).toBe(201);
    abort.abort();
    let state = '';
    for (let i = 0; i < 200 && state !== 'cancelled'; i++) {
      state = (await api('GET', '/v1/payments/H')).body.state;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(state).toBe('cancelled');
  });

  it('refuses amounts outside the limit and bad codes with the payment codes (422) and stays up', async () => {
    for (const amount of [0, -5, 500_001]) {
      const r = await api('POST', '/v1/payments', { amount });
      expect([r.status, r.body.error.code]).toEqual([422, 'PAY_AMOUNT_INVALID']);
    }
    expect((await api('POST', '/v1/payments', { amount: 2 ** 60 })).body.error).toMatchObject({ code: 'API_BAD_REQUEST', message: expect.stringContaining('amount') });
    const product = await api('POST', '/v1/payments', { amount: 100, paymentCode: '4006381333931' });
    expect([product.status, product.body.error.code]).toEqual([422, 'PAY_CODE_PRODUCT_BARCODE']);
    expect((await api('POST', '/v1/payments', { amount: 100, lane: 'nine' })).body.error.code).toBe('API_LANE_UNKNOWN');
    expect((await api('GET', '/v1/payments')).status).toBe(200);
  });
});

describe('payments', () => {
  it('waits for the scan, refuses a product barcode with the reason, pays on the right code', async () => {
    const created = await api('POST', '/v1/payments', { id: 'POS-1', amount: 1234, description: 'lane test' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'POS-1', state: 'waiting_scan', status: 'waiting for scan', lane: '1', amount: 1234, currency: 'CNY' });

    expect((await api('POST', '/v1/lanes/1/scan', { text: '4006381333931' })).body).toEqual({ result: 'rejected' });
    expect((await api('GET', '/v1/payments/POS-1')).body).toMatchObject({ state: 'waiting_scan', rejection: { code: 'PAY_CODE_PRODUCT_BARCODE' } });

    expect((await api('POST', '/v1/lanes/1/scan', { text: code() })).body).toEqual({ result: 'accepted' });
    const paid = await final('POS-1');
    expect(paid).toMatchObject({ id: 'POS-1', result: 'paid', status: 'paid', wallet: 'wechat' });
    expect(paid.code).toMatch(/^13\*+\d{4}$/);
    expect(backend.sim.order(paid.orderNo!)?.charged).toBe(1234);

    // By acquirer order number too, and in today's list.
    expect((await api('GET', `/v1/payments/${paid.orderNo}`)).body.id).toBe('POS-1');
    expect((await api('GET', '/v1/payments')).body.payments.map((p: PosPayment) => p.id)).toEqual(['POS-1']);
    expect((await api('GET', '/v1/payments/NOPE')).body.error.code).toBe('PAY_NOT_FOUND');
  });

  it('refuses a second payment while one is active on the lane, and a scan with nothing waiting is reported', async () => {
    await api('POST', '/v1/payments', { id: 'A', amount: 100 });
    const second = await api('POST', '/v1/payments', { id: 'B', amount: 100 });
    expect([second.status, second.body.error.code, second.body.error.detail.activeId]).toEqual([409, 'API_PAYMENT_ACTIVE', 'A']);
    const cancelled = await api('POST', '/v1/payments/A/cancel');
    expect(cancelled.body).toMatchObject({ state: 'cancelled', result: 'not_charged', status: 'not charged: cancelled before the code was scanned' });
    expect((await api('POST', '/v1/payments/A/cancel')).body.error.code).toBe('PAY_ALREADY_FINAL');
    expect((await api('POST', '/v1/lanes/1/scan', { text: code() })).body).toEqual({ result: 'unmatched' });
    expect((await api('POST', '/v1/payments', { id: 'B', amount: 100 })).status).toBe(201);
    expect((await api('POST', '/v1/lanes/2/scan', { text: code() })).body.error.code).toBe('API_LANE_UNKNOWN');
  });

  it('charges once for concurrent creates with the same POS order id; other details conflict', async () => {
    const c = code();
    const answers = await Promise.all(Array.from({ length: 8 }, () => api('POST', '/v1/payments', { id: 'SAME', amount: 500, paymentCode: c })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.orderNo)).size).toBe(1);
    await final('SAME');
    const again = await api('POST', '/v1/payments', { id: 'SAME', amount: 500 });
    expect([again.status, again.body.result]).toEqual([200, 'paid']);
    const conflict = await api('POST', '/v1/payments', { id: 'SAME', amount: 501 });
    expect([conflict.status, conflict.body.error.code]).toEqual([409, 'PAY_ORDER_ID_CONFLICT']);
    expect(backend.sim.ledger().filter((e) => e.kind === 'charge')).toHaveLength(1);
  });

  it('refunds in part and in full, idempotent by refund id under concurrent requests', async () => {
    await api('POST', '/v1/payments', { id: 'R', amount: 1000, paymentCode: code() });
    await final('R');
    const partial = await Promise.all(Array.from({ length: 5 }, () => api('POST', '/v1/payments/R/refunds', { refundId: 'r-1', amount: 300 })));
    expect(new Set(partial.map((p) => p.body.refundNo)).size).toBe(1);
    const conflict = await api('POST', '/v1/payments/R/refunds', { refundId: 'r-1', amount: 400 });
    expect(conflict.body.error.code).toBe('PAY_REFUND_CONFLICT');
    const rest = await api('POST', '/v1/payments/R/refunds', { refundId: 'r-2' });
    expect(rest.body).toMatchObject({ amount: 700, state: 'refunded' });
    expect((await api('POST', '/v1/payments/R/refunds', { refundId: 'r-3', amount: 1 })).body.error.code).toBe('PAY_REFUND_EXCEEDS');
    expect((await api('GET', '/v1/payments/R/refunds')).body.refunds.map((r: { amount: number }) => r.amount).sort()).toEqual([300, 700]);
    expect((await api('GET', '/v1/payments/R')).body.refundedAmount).toBe(1000);
    expect(backend.sim.ledger().filter((e) => e.kind === 'refund').map((e) => e.amount).sort()).toEqual([300, 700]);
  });

  it('cancelling while the customer enters the password reverses: not charged', async () => {
    await api('POST', '/v1/payments', { id: 'PW', amount: 800, paymentCode: code({ kind: 'password', seconds: 30 }) });
    for (let i = 0; i < 50 && !(await api('GET', '/v1/payments/PW')).body.customerPaying; i++) clock.advanceToNext();
    expect((await api('GET', '/v1/payments/PW')).body.status).toBe('customer entering password');
    await api('POST', '/v1/payments/PW/cancel');
    const done = await final('PW');
    expect(done).toMatchObject({ result: 'not_charged', state: 'reversed' });
    expect(backend.sim.audit().doubleCharges).toEqual([]);
    expect(backend.sim.order(done.orderNo!)?.net).toBe(0);
    expect((await api('POST', '/v1/payments/PW/refunds', { refundId: 'x' })).body.error.code).toBe('PAY_NOT_REFUNDABLE');
  });
});

describe('event stream', () => {
  it('streams every state change in words, and scans with nothing waiting', async () => {
    const stream = listen();
    await stream.ready;
    await api('POST', '/v1/lanes/1/scan', { text: '4006381333931' });
    await api('POST', '/v1/payments', { id: 'E', amount: 2000 });
    await api('POST', '/v1/lanes/1/scan', { text: 'hello' });
    await api('POST', '/v1/lanes/1/scan', { text: code({ kind: 'password', seconds: 10 }) });
    await final('E');
    // Let the last event cross the socket (real I/O), then stop listening.
    for (let i = 0; i < 100 && !stream.events.some((e) => e.data.result === 'paid'); i++) await new Promise((r) => setImmediate(r));
    stream.stop();
    expect(stream.events[0]).toEqual({ event: 'hello', data: { lanes: ['1'] } });
    expect(stream.events[1]).toMatchObject({ event: 'scan_unmatched', data: { lane: '1', what: 'product barcode (EAN-13), not a payment code' } });
    const words = stream.events.filter((e) => e.event === 'payment' && e.data.id === 'E').map((e) => e.data.status);
    expect(words[0]).toBe('waiting for scan');
    expect(words[1]).toMatch(/^code rejected: the scanned text is not a payment code/);
    expect(words).toContain('submitting');
    expect(words).toContain('customer entering password');
    expect(words.at(-1)).toBe('paid');
  });
});

describe('metrics and documents', () => {
  it('serves Prometheus metrics and the OpenAPI document', async () => {
    await api('POST', '/v1/payments', { id: 'M', amount: 100, paymentCode: code() });
    await final('M');
    const m = await api('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toContain('scanpay_payments_total{result="paid"} 1');
    expect(m.body).toContain('scanpay_outbox_pending 0');
    expect(m.body).toContain('scanpay_outbox_dead 0');
    expect(m.body).toMatch(/scanpay_backend_request_duration_seconds_count\{op="pay",result="answer"\} 1/);
    expect(m.body).toContain('scanpay_scanner_connected{source="virtual:lane-1"} 1');
    const doc = await api('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/payments', '/v1/payments/{id}', '/v1/payments/{id}/cancel', '/v1/payments/{id}/refunds', '/v1/events']));
  });
});
