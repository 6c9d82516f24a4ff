/**
 * The agent process with its clock 10 minutes ahead (SCANPAY_FAKE_CLOCK_OFFSET_MS, the
 * chaos runner's clock fault) against an acquirer on the true time: the first payment is
 * refused for skew and ends not charged, the POS is told why in cashier words
 * (`GET /v1/agent` deviceAlarms), and the next payment is paid, signed with the corrected time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PosClient } from '../../agent/cli/pos-client.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
let home: string;
let backend: RunningBackend;
let daemon: ChildProcess | undefined;

beforeAll(async () => {
  backend = await startBackend();
  home = mkdtempSync(join(tmpdir(), 'scanpay-clock-process-'));
  const fast = { firstQueryDelayMs: 100, queryScheduleMs: [200], queryDeadlineMs: 1_500, reverseRetryBaseMs: 100, reverseRetryMaxMs: 400 };
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 }, profiles: { wechat: fast } }));
});
afterAll(async () => {
  daemon?.kill('SIGKILL');
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

describe('device faults: the clock, as a process', () => {
  it('clock 10 min ahead: first payment not charged, the cashier is told, the next is paid', async () => {
    const env = { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn', SCANPAY_FAKE_CLOCK_OFFSET_MS: String(10 * 60_000) };
    daemon = spawn(process.execPath, [BIN, 'run', '--demo', '--backend', backend.url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: daemon!.stdout! }).on('line', (l) => /^POS API:/.test(l) && resolve());
      daemon!.on('exit', (code) => reject(new Error(`agent exited (${code})`)));
    });
    const pos = PosClient.forHome(home, env);
    const pay = async (id: string) => {
      await pos.request('POST', '/v1/payments', { id, lane: '1', amount: 1000, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
      for (;;) {
        const p = await pos.request<{ result: string | null; orderNo: string }>('GET', `/v1/payments/${id}`);
        if (p.result) return p;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const first = await pay('SKEW-1');
    expect(first.result).toBe('not_charged');
    expect(backend.sim.calls()[0]).toMatchObject({ op: 'pay', error: 'PROTO_TIMESTAMP_SKEW' });
    const info = await pos.request<{ deviceAlarms: string[] }>('GET', '/v1/agent');
    expect(info.deviceAlarms.join(' ')).toMatch(/clock is 10 min ahead/);
    const second = await pay('SKEW-2');
    expect(second.result).toBe('paid');
    expect(backend.sim.ledger().map((e) => [e.orderNo, e.kind])).toEqual([[second.orderNo, 'charge']]);
  }, 180_000);
});
