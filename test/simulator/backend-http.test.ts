import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { createTestTerminal, type TestTerminal } from '../../simulator/backend/test-terminal.ts';
import type { Behaviour } from '../../simulator/backend/wallet-model.ts';

let clock: ManualClock;
let backend: RunningBackend;
let terminal: TestTerminal;
let seq = 0;

beforeEach(async () => {
  clock = new ManualClock();
  backend = await startBackend({ clock, port: 0 });
  terminal = createTestTerminal({ url: backend.url, terminal: DEMO_TERMINAL, clock });
});

afterEach(async () => {
  await backend.close();
});

function payBody(behaviour: Behaviour = { kind: 'instant' }, amount = 1234) {
  const orderNo = `T0000001-${String(++seq).padStart(6, '0')}`;
  return { orderNo, paymentCode: backend.sim.issueCode('wechat', behaviour), amount, currency: 'CNY' };
}

const charges = () => backend.sim.ledger().filter((e) => e.kind === 'charge');

describe('protocol over HTTP', () => {
  it('pays, signs the answer over the exact bytes, and records the call', async () => {
    const body = payBody();
    const r = await terminal.call('pay', body);
    expect(r).toMatchObject({ status: 200, verified: true, valid: true, body: { result: 'SUCCESS', trade: { state: 'SUCCESS' } } });
    expect(backend.sim.calls()).toEqual([{ op: 'pay', orderNo: body.orderNo, at: clock.now() }]);
    expect((await terminal.call('query', { orderNo: body.orderNo })).body).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS' } });
    expect(charges()).toHaveLength(1);
  });

  it('answers RETRY to a reverse during the password, then reverses once the customer has paid', async () => {
    const body = payBody({ kind: 'password', seconds: 30 });
    expect((await terminal.call('pay', body)).body).toMatchObject({ result: 'USER_PAYING' });
    expect((await terminal.call('reverse', { orderNo: body.orderNo })).body).toMatchObject({ result: 'RETRY', recall: true });
    clock.advance(30_000);
    const r = await terminal.call('reverse', { orderNo: body.orderNo });
    expect(r).toMatchObject({ verified: true, valid: true, body: { result: 'SUCCESS', recall: false, trade: { state: 'REVOKED' } } });
    expect(backend.sim.ledger().map((e) => [e.kind, e.amount])).toEqual([['charge', 1234], ['reversal', 1234]]);
  });
});

describe('request authentication', () => {
  const forged: Array<[string, (t: TestTerminal, body: object) => ReturnType<TestTerminal['call']>, string]> = [
    ['missing signature', (t, b) => t.call('pay', b, { unsigned: true }), 'PROTO_SIGNATURE_MISSING'],
    ['tampered body', (t, b) => t.call('pay', b, { tamper: (x) => Buffer.from(x.toString().replace('1234', '9999')) }), 'PROTO_SIGNATURE_INVALID'],
    ['wrong key', (t, b) => t.call('pay', b, { key: Buffer.from('not-the-demo-terminal-key-000') }), 'PROTO_SIGNATURE_INVALID'],
    ['skewed timestamp', (t, b) => t.call('pay', b, { timestamp: clock.now() - 5 * 60_000 - 1 }), 'PROTO_TIMESTAMP_SKEW'],
  ];

  it.each(forged)('refuses a %s with 401, unsigned, and changes nothing', async (_name, send, code) => {
    const r = await send(terminal, payBody());
    expect(r.status).toBe(401);
    // A skew refusal also says the backend's time, so the device can tell how far off it is (issue 12).
    expect(r.body).toEqual({ error: { code, message: expect.any(String) }, ...(code === 'PROTO_TIMESTAMP_SKEW' ? { serverTime: clock.now() } : {}) });
    expect(r.verified).toBe(false);
    expect(backend.sim.orders()).toEqual([]);
    expect(backend.sim.ledger()).toEqual([]);
    expect(backend.sim.calls()[0]?.error).toBe(code);
  });

  it('refuses an unknown terminal and a replayed nonce', async () => {
    const stranger = createTestTerminal({ url: backend.url, terminal: { terminalId: 'T9999999', key: DEMO_TERMINAL.key }, clock });
    expect((await stranger.call('pay', payBody())).body).toMatchObject({ error: { code: 'PROTO_UNKNOWN_TERMINAL' } });

    const body = payBody();
    const first = await terminal.call('pay', body);
    expect(first.status).toBe(200);
    const replay = await terminal.call('refund', { orderNo: body.orderNo, refundNo: 'R-000001', amount: 1234 }, { nonce: first.nonce });
    expect(replay).toMatchObject({ status: 401, body: { error: { code: 'PROTO_NONCE_REUSED' } } });
    expect(backend.sim.ledger().map((e) => e.kind)).toEqual(['charge']);
  });

  it('refuses a body outside the schema with a signed 400, and an oversized body with 413', async () => {
    const r = await terminal.call('pay', { orderNo: 'x', amount: -1 });
    expect(r).toMatchObject({ status: 400, verified: true, body: { error: { code: 'PROTO_BAD_REQUEST' } } });
    expect((r.body as { error: { message: string } }).error.message).toMatch(/orderNo/);
    const notJson = await terminal.call('pay', undefined, { rawBody: Buffer.from('{"orderNo":') });
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: 'PROTO_BAD_REQUEST', message: 'the body is not JSON' } } });
    const big = await terminal.call('pay', undefined, { rawBody: Buffer.alloc(65 * 1024, 0x20) });
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'PROTO_BAD_REQUEST' } } });
    expect(backend.sim.orders()).toEqual([]);
  });
});

describe('fault injection', () => {
  it('latency: holds the answer until the clock has moved on', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'latency', latencyMs: 2_000, count: 1 });
    let settled = false;
    const pending = terminal.call('pay', payBody()).finally(() => (settled = true));
    await vi.waitFor(() => expect(clock.pending).toBe(1));
    clock.advance(1_999);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await pending).toMatchObject({ status: 200, verified: true, body: { result: 'SUCCESS' } });
    expect(backend.sim.calls()[0]?.fault).toBe('latency');
  });

  it('http5xx: answers the status without processing, for the next N calls only', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'http5xx', count: 1 });
    backend.sim.addFault({ op: 'query', kind: 'http5xx', status: 502 });
    const body = payBody();
    expect(await terminal.call('pay', body)).toMatchObject({ status: 503, verified: false, body: { error: { code: 'SIM_FAULT_INJECTED' } } });
    expect(backend.sim.orders()).toEqual([]);
    expect((await terminal.call('pay', body)).body).toMatchObject({ result: 'SUCCESS' });
    expect((await terminal.call('query', { orderNo: body.orderNo })).status).toBe(502);
    expect((await terminal.call('query', { orderNo: body.orderNo })).status).toBe(502);
    expect(backend.sim.faults().map((f) => [f.op, f.hits])).toEqual([['query', 2]]);
  });

  it.each([
    ['malformed', { status: 200, verified: true, valid: false, body: undefined }],
    ['unsigned', { status: 200, verified: false, verifyError: 'PROTO_SIGNATURE_MISSING', valid: true }],
    ['bad-signature', { status: 200, verified: false, verifyError: 'PROTO_SIGNATURE_INVALID', valid: true }],
  ] as const)('%s: processes the pay (charged), but the answer is no answer', async (kind, seen) => {
    backend.sim.addFault({ op: 'pay', kind, count: 1 });
    const body = payBody();
    expect(await terminal.call('pay', body)).toMatchObject(seen);
    expect(charges().map((e) => e.orderNo)).toEqual([body.orderNo]);
    expect(backend.sim.calls()[0]?.fault).toBe(kind);
  });

  it('system-error: a signed UNKNOWN, and nothing processed', async () => {
    backend.sim.addFault({ op: 'any', kind: 'system-error', count: 2 });
    const body = payBody();
    expect(await terminal.call('pay', body)).toMatchObject({ verified: true, valid: true, body: { result: 'UNKNOWN', reasonCode: 'SYSTEM_ERROR' } });
    expect(await terminal.call('reverse', { orderNo: body.orderNo })).toMatchObject({ valid: true, body: { result: 'UNKNOWN', recall: true } });
    expect(backend.sim.orders()).toEqual([]);
  });

  it('reset: the connection is cut before processing and nothing happens', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'reset', count: 1 });
    const body = payBody();
    await expect(terminal.call('pay', body)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(backend.sim.orders()).toEqual([]);
    expect(backend.sim.calls()).toMatchObject([{ op: 'pay', orderNo: body.orderNo, fault: 'reset' }]);
  });

  it('lost-response: the terminal sees a cut connection, yet the customer was charged', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    const body = payBody();
    await expect(terminal.call('pay', body)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(charges()).toMatchObject([{ orderNo: body.orderNo, amount: 1234 }]);
    // The terminal's way out: query, then reverse, with the same order number.
    expect((await terminal.call('query', { orderNo: body.orderNo })).body).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS' } });
    expect((await terminal.call('reverse', { orderNo: body.orderNo })).body).toMatchObject({ result: 'SUCCESS' });
    expect(backend.sim.audit()).toMatchObject({ charged: 1234, netCharged: 0, doubleCharges: [] });
  });

  it('hang: processed, never answered, cut when the backend closes', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'hang' });
    const body = payBody();
    const pending = terminal.call('pay', body);
    await vi.waitFor(() => expect(charges()).toHaveLength(1));
    await backend.close();
    await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});

describe('outage', () => {
  it('stop() refuses connections and keeps state; restart() comes back on the same port', async () => {
    const body = payBody();
    await terminal.call('pay', body);
    const port = backend.port;
    await backend.stop();
    await expect(terminal.call('query', { orderNo: body.orderNo })).rejects.toThrow(/ECONNREFUSED/);
    await backend.restart();
    expect(backend.port).toBe(port);
    expect((await terminal.call('query', { orderNo: body.orderNo })).body).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS' } });
    expect(charges()).toHaveLength(1);
  });
});
