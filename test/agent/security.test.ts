/**
 * The defences of docs/security.md, each shown to hold: secrets files owner-only, the POS
 * API on loopback and unmoved by a flood of wrong tokens, no secret or payment code in
 * metrics or errors, and a journal that cannot be written refusing payments before any
 * request leaves the device.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { loadTerminal } from '../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../agent/daemon.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { listenPosApi } from '../../agent/pos-api/listen.ts';
import { ensureToken } from '../../agent/token.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { ModelAcquirer } from '../../simulator/backend/model-acquirer.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { WalletModel } from '../../simulator/backend/wallet-model.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-sec-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isScanpayError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('secrets at rest', () => {
  it('creates the POS API token owner-only, and refuses one others can read', () => {
    const token = ensureToken(home);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(ensureToken(home)).toBe(token);
    chmodSync(join(home, 'api-token'), 0o644);
    expect(codeOf(() => ensureToken(home))).toBe('CONFIG_INVALID');
  });

  it('refuses a terminal key file others can read', () => {
    const path = join(home, 'terminal.json');
    writeFileSync(path, JSON.stringify({ terminalId: 'T1', key: Buffer.alloc(32, 1).toString('base64') }), { mode: 0o640 });
    chmodSync(path, 0o640);
    let message = '';
    try {
      loadTerminal(home, false);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/chmod 600/);
    expect(message).not.toContain(Buffer.alloc(32, 1).toString('base64'));
    chmodSync(path, 0o600);
    expect(loadTerminal(home, false).terminalId).toBe('T1');
  });
});

describe('POS API exposure', () => {
  it('will not listen beyond loopback unless told to in so many words', async () => {
    const server = createServer();
    await expect(listenPosApi({ server }, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(server.listening).toBe(false);
  });

  describe('against a running agent', () => {
    let backend: RunningBackend;
    let agent: RunningAgent;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      backend = await startBackend({ clock });
      agent = await startAgent({ home, logger: silentLogger, demo: true, backendUrl: backend.url, port: 0, clock });
    });
    afterEach(async () => {
      await agent.stop();
      await backend.close();
    });

    it('a flood of wrong and missing tokens is refused and the agent keeps serving', async () => {
      const tries = Array.from({ length: 300 }, (_, i) =>
        fetch(`${agent.apiUrl}/v1/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(i % 3 ? { authorization: `Bearer wrong-${i}` } : {}) },
          body: JSON.stringify({ amount: 100, paymentCode: '134567890123456789' }),
        }).then((r) => r.status),
      );
      const statuses = await Promise.all(tries);
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect(backend.sim.calls()).toHaveLength(0);
      const ok = await fetch(`${agent.apiUrl}/v1/agent`, { headers: { authorization: `Bearer ${agent.token}` } });
      expect(ok.status).toBe(200);
    });

    it('a description with a lone surrogate is refused before anything is charged; a repeat stays idempotent', async () => {
      const code = backend.sim.issueCode('wechat', { kind: 'instant' });
      const auth = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' };
      // Raw JSON: JSON.stringify would keep the escape, fetch would not.
      const body = `{"id":"SUR1","amount":100,"paymentCode":"${code}","description":"caf\\ud800"}`;
      const first = await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: auth, body });
      expect(first.status).toBe(400);
      expect(await first.json()).toMatchObject({ error: { code: 'API_BAD_REQUEST', detail: { field: 'description' } } });
      expect(backend.sim.calls()).toHaveLength(0);
      // A well-formed pair (an emoji) is fine, and a repeat of it is the same payment.
      const ok = `{"id":"SUR2","amount":100,"paymentCode":"${code}","description":"caf\\ud83d\\ude00"}`;
      expect((await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: auth, body: ok })).status).toBe(201);
      expect((await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: auth, body: ok })).status).toBe(200);
    });

    it('no payment code, token or key appears in metrics or API errors', async () => {
      const code = backend.sim.issueCode('wechat', { kind: 'instant' });
      const auth = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' };
      await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'S1', amount: 100, paymentCode: code }) });
      const dup = await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'S2', amount: 100, paymentCode: code }) });
      const dupText = await dup.text();
      expect(dup.status).toBe(409);
      const metrics = await (await fetch(`${agent.apiUrl}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
      const payment = await (await fetch(`${agent.apiUrl}/v1/payments/S1`, { headers: auth })).text();
      for (const text of [dupText, metrics, payment]) {
        expect(text).not.toContain(code);
        expect(text).not.toContain(agent.token);
        expect(text).not.toContain(DEMO_TERMINAL.key.toString('base64'));
        expect(text).not.toContain(DEMO_TERMINAL.key.toString());
      }
    });
  });
});

describe('the systemd unit', () => {
  it('keeps core dumps off (they would hold the key, the token and codes) and files owner-only', () => {
    const unit = readFileSync(new URL('../../docs/deploy/scanpay.service', import.meta.url), 'utf8');
    const set = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(unit)?.[1];
    expect(set('LimitCORE')).toBe('0');
    expect(set('UMask')).toBe('0077');
    expect(set('StateDirectoryMode')).toBe('0700');
  });
});

describe('storage failures', () => {
  it('a full journal refuses a new payment before any request leaves the device', () => {
    const clock = new ManualClock(1_000_000);
    const model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 86_400_000 });
    const acquirer = new ModelAcquirer(model);
    const journal = Journal.open(join(home, 'j.db'), { maxSizeBytes: 256 * 1024 });
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1' });
    engine.start();
    let refused: string | undefined;
    for (let i = 0; i < 5_000 && !refused; i++) {
      const before = acquirer.calls.length;
      refused = codeOf(() => engine.pay({ amount: 100, paymentCode: model.issueCode('wechat', { kind: 'instant' }).code, description: 'x'.repeat(120) }));
      if (refused) expect(acquirer.calls.length).toBe(before);
    }
    expect(refused).toBe('JOURNAL_WRITE_FAILED');
    journal.close();
  });
});
