/**
 * A restarted acquirer still knows what it answered: orders, codes, the ledger and its
 * terminals live in a SQLite file (simulator/backend/backend-store.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { ManualClock, systemClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine, type PaymentView } from '../../agent/payment/engine.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { buildBackend } from '../../simulator/backend/build-backend.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { TerminalRegistry } from '../../simulator/backend/terminal-registry.ts';
import { sqliteStore } from '../../simulator/backend/backend-store.ts';
import { HEADER, signRequest } from '../../agent/protocol/signing.ts';

const bin = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'scanpay-backend-memory-'));
  dirs.push(d);
  return d;
};

describe('simulated backend memory (in process, SQLite file)', () => {
  it('a rebuilt backend knows the open order, lets its customer confirm, and keeps ledger and keys', async () => {
    const file = join(tempDir(), 'backend.db');
    const clock = new ManualClock();
    const first = buildBackend({ clock, storePath: file });
    const code = first.sim.issueCode('wechat', { kind: 'password', seconds: 10 });
    const paid = first.sim.issueCode('alipay', { kind: 'instant' });
    const pay = await inject(first.app, clock, code, 'T0000001-R-1', 1234);
    expect(pay.result).toBe('USER_PAYING');
    expect((await inject(first.app, clock, paid, 'T0000001-R-2', 500)).result).toBe('SUCCESS');
    await first.app.close();

    const second = buildBackend({ clock, storePath: file });
    expect(second.sim.order('T0000001-R-1')).toMatchObject({ state: 'USERPAYING', amount: 1234, charged: 0 });
    // The same pay again is the same order (idempotent), not a new one; the code stays used.
    expect((await inject(second.app, clock, code, 'T0000001-R-1', 1234)).result).toBe('USER_PAYING');
    expect((await inject(second.app, clock, code, 'T0000001-R-3', 1234)).reasonCode).toBe('AUTH_CODE_USED');
    clock.advance(10_000);
    expect(second.sim.order('T0000001-R-1')).toMatchObject({ state: 'SUCCESS', charged: 1234 });
    expect(second.sim.ledger().map((e) => [e.orderNo, e.kind, e.amount])).toEqual([
      ['T0000001-R-2', 'charge', 500],
      ['T0000001-R-1', 'charge', 1234],
    ]);
    expect(second.sim.audit().doubleCharges).toEqual([]);
    second.sim.reset();
    await second.app.close();
    const third = buildBackend({ clock, storePath: file });
    expect(third.sim.orders()).toEqual([]);
    expect(third.sim.ledger()).toEqual([]);
    await third.app.close();
  });

  it('keeps terminals, their rotated keys and their orders', () => {
    const file = join(tempDir(), 'backend.db');
    const clock = new ManualClock();
    const store = sqliteStore(file);
    const r = new TerminalRegistry(clock, [DEMO_TERMINAL], store);
    const newKey = Buffer.alloc(32, 7);
    // A rotation: the key offered, then made current by its first use.
    r.offer(DEMO_TERMINAL.terminalId, { key: newKey, deviceEphemeral: 'device-share', serverEphemeral: 'server-share' });
    expect(r.used(DEMO_TERMINAL.terminalId, newKey, 600_000)).toBe(true);
    r.noteOrder(DEMO_TERMINAL.terminalId, 'T0000001-A');
    r.noteJournal(DEMO_TERMINAL.terminalId, { journalId: 'j1', lastOrderNo: 'T0000001-A', lastAt: 5 });
    store.close();
    const again = new TerminalRegistry(clock, [DEMO_TERMINAL], sqliteStore(file));
    expect(again.keyVersion(DEMO_TERMINAL.terminalId)).toBe(2);
    expect(again.keys(DEMO_TERMINAL.terminalId).map((k) => k.toString('hex'))).toEqual([newKey.toString('hex'), DEMO_TERMINAL.key.toString('hex')]);
    expect([...again.ordersOf(DEMO_TERMINAL.terminalId)]).toEqual(['T0000001-A']);
    expect(again.journalOf(DEMO_TERMINAL.terminalId)).toMatchObject({ journalId: 'j1', lastOrderNo: 'T0000001-A' });
  });
});

async function inject(app: ReturnType<typeof buildBackend>['app'], clock: ManualClock, paymentCode: string, orderNo: string, amount: number): Promise<{ result: string; reasonCode?: string }> {
  const body = Buffer.from(JSON.stringify({ orderNo, paymentCode, amount, currency: 'CNY', description: 'x' }));
  const signed = signRequest({ method: 'POST', path: '/v1/pay', terminalId: DEMO_TERMINAL.terminalId, body }, DEMO_TERMINAL.key, clock.now());
  const res = await app.inject({ method: 'POST', url: '/v1/pay', payload: body, headers: { 'content-type': 'application/json', [HEADER.terminal]: DEMO_TERMINAL.terminalId, ...signed } });
  return res.json();
}

/** `file` undefined: `--memory`, a backend that forgets everything when it restarts. */
function startSimBackend(file: string | undefined, port: number): Promise<{ child: ChildProcess; url: string }> {
  const store = file === undefined ? ['--memory'] : ['--data', file];
  const child = spawn(process.execPath, [bin, 'sim', 'backend', '--port', String(port), ...store], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.once('exit', () => reject(new Error(`sim backend exited early: ${err}`)));
  });
}

/** A real engine and journal in `dir`, on fast timings, talking to the backend at `url`. */
function startEngine(dir: string, url: string, timings: { queryDeadlineMs: number; codeTtlMs?: number }): { journal: Journal; engine: PaymentEngine; seen: PaymentView[] } {
  const fast = { firstQueryDelayMs: 200, queryScheduleMs: [200], reverseRetryBaseMs: 100, reverseRetryMaxMs: 400, networkRetryMs: 100, ...timings };
  const profiles = Object.fromEntries((['wechat', 'alipay', 'unionpay', 'ecny'] as Wallet[]).map((w) => [w, fast]));
  const journal = Journal.open(join(dir, 'journal.db'));
  const acquirer = new HttpAcquirer({ baseUrl: url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock: systemClock, timeoutMs: { pay: 2_000, query: 1_000, reverse: 1_000, refund: 1_000 } });
  const engine = new PaymentEngine({ journal, acquirer, clock: systemClock, terminalId: DEMO_TERMINAL.terminalId, profiles });
  const seen: PaymentView[] = [];
  engine.onChange((v) => seen.push(v));
  engine.start();
  return { journal, engine, seen };
}

describe('simulated backend memory (backend process SIGKILLed mid-payment)', () => {
  it('with --memory it ends reversed: the forgotten order is an alarm, never taken as "not charged" (issue 12)', async () => {
    const dir = tempDir();
    const first = await startSimBackend(undefined, 0);
    const port = Number(new URL(first.url).port);
    // Queries go on long enough for the backend to come back (slow to start on a loaded
    // machine); the code expires 5 s after the pay, so nothing can be charged by the time the reverse closes the order.
    const { journal, engine, seen } = startEngine(dir, first.url, { queryDeadlineMs: 90_000, codeTtlMs: 5_000 });
    try {
      // A WeChat code whose customer would confirm the password 60 s after the pay arrives.
      const p = engine.pay({ amount: 4321, paymentCode: '134567890123456860' });
      await expect.poll(() => journal.getPayment(p.orderNo)?.acknowledged, { timeout: 60_000, interval: 20 }).toBe(1);
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      const second = await startSimBackend(undefined, port);
      await expect.poll(() => seen.some((v) => v.orderNo === p.orderNo && v.outcome === null && v.alarms.some((a) => a.code === 'BACKEND_ORDER_FORGOTTEN')), { timeout: 90_000, interval: 50 }).toBe(true);
      // The POS tells the cashier not to hand over the goods; the cashier cancels rather than wait for the deadline.
      engine.cancel(p.orderNo);
      await expect.poll(() => journal.getPayment(p.orderNo)?.outcome, { timeout: 60_000, interval: 50 }).toBe('reversed');
      const row = journal.getPayment(p.orderNo)!;
      const closing = journal.events(p.orderNo).filter((e) => e.cause === 'reverse-sent').at(-1)!;
      expect(closing.at).toBeGreaterThanOrEqual(row.code_expires_at);
      const ledger = (await (await fetch(`${second.url}/control/ledger`)).json()) as { entries: Array<{ orderNo: string }> };
      expect(ledger.entries.filter((e) => e.orderNo === p.orderNo)).toEqual([]);
    } finally {
      await engine.stop();
      journal.close();
    }
  }, 360_000);

  it('the agent still ends paid, charged once, when the backend restarts while the customer enters the password', async () => {
    const dir = tempDir();
    const file = join(dir, 'backend.db');
    const first = await startSimBackend(file, 0);
    const port = Number(new URL(first.url).port);
    const { journal, engine, seen } = startEngine(dir, first.url, { queryDeadlineMs: 150_000 });
    try {
      // A WeChat code whose customer confirms the password 4 s after the pay arrives.
      const p = engine.pay({ amount: 4321, paymentCode: '134567890123456804' });
      await expect.poll(() => seen.some((v) => v.orderNo === p.orderNo && v.state === 'querying'), { timeout: 60_000, interval: 20 }).toBe(true);
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      const second = await startSimBackend(file, port);
      await expect.poll(() => journal.getPayment(p.orderNo)?.outcome, { timeout: 150_000, interval: 50 }).toBe('paid');
      const ledger = (await (await fetch(`${second.url}/control/ledger`)).json()) as { entries: Array<{ orderNo: string; kind: string; amount: number }> };
      expect(ledger.entries.filter((e) => e.orderNo === p.orderNo)).toEqual([expect.objectContaining({ kind: 'charge', amount: 4321 })]);
    } finally {
      await engine.stop();
      journal.close();
    }
  }, 240_000);
});
