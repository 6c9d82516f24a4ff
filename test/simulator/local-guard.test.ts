/**
 * Issue 17: the simulator's control API and QA page refuse what a hostile web page could
 * send them (DNS rebinding, cross-site simple posts), over real HTTP; its own tools pass.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import type { SimSession } from '../../simulator/sim-session.ts';
import { buildSimUi } from '../../simulator/web/build-sim-ui.ts';

let backend: RunningBackend;
beforeAll(async () => {
  backend = await startBackend();
});
afterAll(async () => {
  await backend.close();
});

/** Raw HTTP, so the Host header is what a rebinding browser would send. */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const u = new URL(backend.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const own = () => new URL(backend.url).host;
const issue = JSON.stringify({ wallet: 'wechat' });

describe('simulator QA surfaces refuse web pages', () => {
  it('DNS rebinding: a request addressed to another host name is refused, even for reading', async () => {
    const r = await send('GET', '/control/ledger', { host: `attacker.example:${new URL(backend.url).port}` });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'SIM_CONTROL_FORBIDDEN' } });
    expect((await send('POST', '/control/activation-codes', { host: `127.0.0.1.attacker.example`, 'content-type': 'application/json' }, '{}')).status).toBe(403);
  });

  it('a cross-site simple POST (text/plain, form, or no body) is refused and changes nothing', async () => {
    const before = backend.sim.orders().length + backend.sim.device.terminals().length;
    for (const [type, body] of [['text/plain', issue], ['application/x-www-form-urlencoded', 'a=b']] as const) {
      expect((await send('POST', '/control/codes', { host: own(), origin: 'http://evil.example', 'content-type': type }, body)).status).toBe(403);
      expect((await send('POST', '/control/codes', { host: own(), 'content-type': type }, body)).status).toBe(403);
    }
    expect((await send('POST', '/control/reset', { host: own(), origin: 'http://evil.example' })).status).toBe(403);
    expect((await send('POST', '/control/codes', { host: own(), origin: 'null', 'content-type': 'application/json' }, issue)).status).toBe(403);
    expect((await send('POST', '/control/codes', { host: own(), 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, issue)).status).toBe(403);
    expect(backend.sim.orders().length + backend.sim.device.terminals().length).toBe(before);
  });

  it('this machine\'s tools and the same-origin page pass', async () => {
    expect((await send('POST', '/control/codes', { host: own(), 'content-type': 'application/json' }, issue)).status).toBe(200);
    expect((await send('POST', '/control/codes', { host: own(), origin: `http://${own()}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, issue)).status).toBe(200);
    expect((await send('POST', '/control/reset', { host: own() })).status).toBe(200);
    expect((await send('GET', '/control/health', { host: `localhost:${new URL(backend.url).port}` })).status).toBe(200);
    // The protocol itself is not guarded: a real acquirer is reached by any name.
    expect((await send('POST', '/v1/heartbeat', { host: 'acquirer.example', 'content-type': 'application/json' }, '{}')).status).toBe(401);
  });
});

describe('the QA page', () => {
  it('refuses a rebinding Host and a cross-site action before any action runs; serves its own origin', async () => {
    let touched = false;
    const session = new Proxy({}, { get: () => ((touched = true), () => ({ ok: true })) }) as unknown as SimSession;
    const app = buildSimUi({ session, logger: silentLogger });
    try {
      expect((await app.inject({ method: 'GET', url: '/api/snapshot', headers: { host: 'attacker.example:8480' } })).statusCode).toBe(403);
      expect((await app.inject({ method: 'POST', url: '/api/pos/pay', headers: { host: '127.0.0.1:8480', origin: 'http://attacker.example', 'content-type': 'text/plain' }, payload: '{"amount":100}' })).statusCode).toBe(403);
      expect(touched).toBe(false);
      const page = await app.inject({ method: 'GET', url: '/', headers: { host: '127.0.0.1:8480' } });
      expect(page.statusCode).toBe(200);
      const pay = await app.inject({ method: 'POST', url: '/api/pos/pay', headers: { host: '127.0.0.1:8480', origin: 'http://127.0.0.1:8480', 'content-type': 'application/json' }, payload: '{"amount":100}' });
      expect(pay.statusCode).toBe(200);
      expect(touched).toBe(true);
    } finally {
      await app.close();
    }
  });
});
