/**
 * The technician's commands as a technician runs them: `node agent/bin/scanpay.js …` with
 * SCANPAY_HOME in a temp dir, against a simulated backend in this process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { maskCode } from '../../agent/payment-code.ts';
import { readTerminalRecord } from '../../agent/terminal-store.ts';
import { ensureToken } from '../../agent/token.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const bin = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

let backend: RunningBackend;
let home: string;

function scanpay(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent' } }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

async function activationCode(): Promise<string> {
  const res = await fetch(`${backend.url}/control/activation-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ merchantName: 'Corner shop' }) });
  return ((await res.json()) as { code: string }).code;
}

async function provisioned(): Promise<void> {
  const r = await scanpay('provision', '--backend', backend.url, '--activation-code', await activationCode());
  expect(r.code, r.err).toBe(0);
}

/** A paid payment through the provisioned key, as the agent would have made it. */
async function payOnce(paymentCode: string): Promise<string> {
  const record = readTerminalRecord(home)!;
  const journal = Journal.open(join(home, 'journal.db'));
  const acquirer = new HttpAcquirer({ baseUrl: backend.url, terminalId: record.terminalId, key: Buffer.from(record.key, 'base64'), clock: systemClock });
  const engine = new PaymentEngine({ journal, acquirer, clock: systemClock, terminalId: record.terminalId });
  engine.start();
  try {
    const { orderNo } = engine.pay({ amount: 1234, paymentCode });
    expect((await engine.waitFinal(orderNo)).outcome).toBe('paid');
    return orderNo;
  } finally {
    await engine.stop();
    journal.close();
  }
}

beforeAll(async () => {
  backend = await startBackend();
});
afterAll(async () => {
  await backend.close();
});
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-cli-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('technician commands', { timeout: 120_000 }, () => {
  it('provision: activates unattended, and a second run keeps the identity', async () => {
    const code = await activationCode();
    const first = await scanpay('provision', '--backend', backend.url, '--activation-code', code);
    expect(first.code, first.err).toBe(0);
    const terminalId = /terminal {4}(T\d+)/.exec(first.out)?.[1];
    expect(first.out).toMatch(/provisioned:[\s\S]*merchant {4}M\d+ \(Corner shop\)[\s\S]*test scan {3}skipped/);
    const second = await scanpay('provision', '--backend', backend.url, '--activation-code', code);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain('already provisioned (identity kept):');
    expect(second.out).toContain(`terminal    ${terminalId}`);
    expect(first.out + second.out).not.toContain(readTerminalRecord(home)!.key);
  });

  it('provision: a wrong code is refused with its catalog code', async () => {
    const r = await scanpay('provision', '--backend', backend.url, '--activation-code', 'AAAA-BBBB-CCCC');
    expect(r.code).toBe(1);
    expect(r.err).toContain('CONFIG_ACTIVATION_REFUSED');
  });

  it('doctor --json: exit 0 when nothing fails, 1 with the backend down', async () => {
    await provisioned();
    const ok = await scanpay('doctor', '--json');
    const checks = (JSON.parse(ok.out) as { checks: Array<{ name: string; status: string }> }).checks;
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(ok.code).toBe(0);
    await backend.stop();
    try {
      const down = await scanpay('doctor');
      expect(down.code).toBe(1);
      expect(down.out).toMatch(/^FAIL {2}backend reachable {2}.*→ check the network/m);
    } finally {
      await backend.restart();
    }
  });

  it('queue: lists waiting and dead items, retries one and all', async () => {
    await provisioned();
    const journal = Journal.open(join(home, 'journal.db'));
    const waiting = journal.enqueue({ kind: 'reverse', orderNo: 'T1ORDER0001', dedupeKey: 'reverse:T1ORDER0001', payload: {}, at: Date.now() });
    journal.outboxAttemptFailed(waiting.id, Date.now(), 'BACKEND_NOT_SENT: no route', Date.now() + 3600_000);
    const dead = journal.enqueue({ kind: 'refund', orderNo: 'T1ORDER0002', dedupeKey: 'refund:T1ORDER0002', payload: {}, at: Date.now() });
    journal.outboxDead(dead.id, Date.now(), 'refused');
    journal.close();

    const list = await scanpay('queue', 'list');
    expect(list.out).toMatch(new RegExp(`#${waiting.id}  reverse  T1ORDER0001  waiting  .*  1 attempt\\(s\\)  BACKEND_NOT_SENT: no route`));
    expect(list.out).toMatch(new RegExp(`#${dead.id}  refund  T1ORDER0002  dead  .*  refused`));

    const one = await scanpay('queue', 'retry', String(dead.id));
    expect(one.code, one.err).toBe(0);
    const unknown = await scanpay('queue', 'retry', '999');
    expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining('JOURNAL_QUEUE_ITEM_NOT_FOUND') });
    const all = await scanpay('queue', 'retry', '--all');
    expect(all.out).toContain(`due now: #${waiting.id}, #${dead.id}`);

    const after = Journal.open(join(home, 'journal.db'));
    const items = after.outbox();
    after.close();
    expect(items.map((i) => i.status)).toEqual(['pending', 'pending']);
    expect(items.every((i) => i.next_attempt_at <= Date.now())).toBe(true);
  });

  it('logs --export: the bundle has doctor, config and journal summary, and no key, token or whole payment code', async () => {
    await provisioned();
    const paymentCode = backend.sim.issueCode('wechat', { kind: 'instant' });
    const orderNo = await payOnce(paymentCode);
    const journal = Journal.open(join(home, 'journal.db'));
    // As if a cause ever quoted the code: the bundle must still mask it.
    journal.note(orderNo, Date.now(), 'paid', `support note ${paymentCode}`, { scanned: paymentCode });
    journal.close();
    const token = ensureToken(home);
    const file = join(home, 'bundle.json.gz');
    const r = await scanpay('logs', '--export', file);
    expect(r.code, r.err).toBe(0);
    const text = gunzipSync(readFileSync(file)).toString('utf8');
    const bundle = JSON.parse(text);
    expect(Object.keys(bundle)).toEqual(expect.arrayContaining(['doctor', 'config', 'terminal', 'params', 'journal', 'logs']));
    expect(bundle.journal.payments.byOutcome).toEqual({ paid: 1 });
    expect(bundle.journal.recent[0]).toMatchObject({ orderNo, code: maskCode(paymentCode) });
    expect(text).toContain(maskCode(paymentCode));
    expect(text).not.toContain(paymentCode);
    expect(text).not.toContain(readTerminalRecord(home)!.key);
    expect(text).not.toContain(token);
  });

  it('settle: a day that matches prints the totals and MATCHED', async () => {
    await provisioned();
    await payOnce(backend.sim.issueCode('alipay', { kind: 'instant' }));
    const r = await scanpay('settle');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/alipay +payments 1 = 12\.34 CNY/);
    expect(r.out).toContain('MATCHED: the backend agrees');
    expect(r.out).toMatch(/report: .*\/reports\/settlement-B\d+-[0-9a-f]{4}\.json/);
  });
});
