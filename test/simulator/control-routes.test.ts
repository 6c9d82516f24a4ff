import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ManualClock } from '../../agent/clock.ts';
import { buildBackend, type SimBackend } from '../../simulator/backend/build-backend.ts';
import { FaultTable } from '../../simulator/backend/faults.ts';

let clock: ManualClock;
let app: FastifyInstance;
let sim: SimBackend;

beforeEach(() => {
  clock = new ManualClock();
  ({ app, sim } = buildBackend({ clock, codeTtlMs: 30_000 }));
});

afterEach(async () => {
  await app.close();
});

const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url: `/control${url}`, payload: payload as object });
const get = (url: string) => app.inject({ method: 'GET', url: `/control${url}` });

describe('control API', () => {
  it('issues codes whose behaviour the simulator then follows', async () => {
    const r = await post('/codes', { wallet: 'alipay', behaviour: { kind: 'password', seconds: 12 } });
    expect(r.statusCode).toBe(200);
    const issued = r.json();
    expect(issued).toEqual({ code: expect.stringMatching(/^28\d{13}812$/), wallet: 'alipay', behaviour: { kind: 'password', seconds: 12 }, expiresAt: clock.now() + 30_000 });
    expect((await post('/codes', { wallet: 'wechat' })).json().behaviour).toEqual({ kind: 'instant' });
  });

  it('names the field in a 400', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['/codes', { wallet: 'paypal' }, /^wallet: /],
      ['/codes', { wallet: 'wechat', behaviour: { kind: 'password' } }, /^behaviour\.seconds: /],
      ['/codes', { wallet: 'wechat', extra: 1 }, /extra/],
      ['/behaviour', { behaviour: { kind: 'instant' } }, /^code: /],
      ['/behaviour', { code: 'not-a-code', behaviour: { kind: 'instant' } }, /^code: not a wallet payment code/],
      ['/faults', { kind: 'explode' }, /^kind: /],
      ['/faults', { kind: 'http5xx', rate: 2 }, /^rate: /],
      ['/faults', { kind: 'latency' }, /^latencyMs: /],
    ];
    for (const [url, body, message] of cases) {
      const r = await post(url, body);
      expect(r.statusCode, `${url} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json().error.code).toBe('SIM_CONTROL_INVALID');
      expect(r.json().error.message).toMatch(message);
    }
    const notJson = await app.inject({ method: 'POST', url: '/control/faults', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(notJson.statusCode).toBe(400);
    expect(sim.faults()).toEqual([]);
  });

  it('adds, lists and clears faults', async () => {
    const added = await post('/faults', { op: 'pay', kind: 'lost-response', count: 2 });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({ id: 'F1', fault: { op: 'pay', kind: 'lost-response', count: 2, remaining: 2, hits: 0 } });
    expect((await get('/faults')).json().faults).toHaveLength(1);
    expect((await app.inject({ method: 'DELETE', url: '/control/faults' })).json()).toEqual({ cleared: 1 });
    expect(sim.faults()).toEqual([]);
  });

  it('sets a behaviour on any wallet code', async () => {
    expect((await post('/behaviour', { code: '134567890123456000', behaviour: { kind: 'insufficient' } })).statusCode).toBe(200);
    expect(sim.orders()).toEqual([]);
  });

  it('reads orders, the ledger, calls and health; reset forgets them', async () => {
    expect((await get('/orders/ORDER-404')).statusCode).toBe(404);
    expect((await get('/orders/ORDER-404')).json().error.code).toBe('SIM_ORDER_UNKNOWN');
    expect((await get('/health')).json()).toMatchObject({ ok: true, now: clock.now() });
    expect((await get('/ledger')).json()).toEqual({ entries: [], audit: { orders: 0, charged: 0, netCharged: 0, doubleCharges: [] } });
    expect((await get('/calls')).json()).toEqual({ calls: [] });
    expect((await get('/orders')).json()).toEqual({ orders: [] });
    sim.addFault({ kind: 'hang' });
    expect((await app.inject({ method: 'POST', url: '/control/reset' })).json()).toEqual({ ok: true });
    expect(sim.faults()).toEqual([]);
  });
});

describe('fault selection', () => {
  it('counts, matches the operation, and stacks latency with one other fault', () => {
    const t = new FaultTable(1);
    t.add({ op: 'query', kind: 'latency', latencyMs: 100 });
    t.add({ op: 'query', kind: 'latency', latencyMs: 50, count: 1 });
    t.add({ op: 'any', kind: 'http5xx', count: 1 });
    t.add({ op: 'query', kind: 'reset', count: 1 });
    expect(t.pick('pay')).toMatchObject({ latencyMs: 0, fault: { kind: 'http5xx' }, label: 'http5xx' });
    expect(t.pick('query')).toMatchObject({ latencyMs: 150, fault: { kind: 'reset' }, label: 'latency+latency+reset' });
    expect(t.pick('query')).toEqual({ latencyMs: 100, label: 'latency' });
    expect(t.list().map((f) => f.kind)).toEqual(['latency']);
  });

  it('applies a rate from a seeded sequence: same seed, same calls', () => {
    const run = (seed: number) => {
      const t = new FaultTable(seed);
      t.add({ kind: 'lost-response', rate: 0.3 });
      return Array.from({ length: 200 }, () => (t.pick('pay').fault ? 1 : 0));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    const hits = a.reduce<number>((s, x) => s + x, 0);
    expect(hits).toBeGreaterThan(30);
    expect(hits).toBeLessThan(90);
  });
});
