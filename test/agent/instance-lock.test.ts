/**
 * One agent per $SCANPAY_HOME, and the journal cap from config.json in force: the whole
 * agent (startAgent) against the simulated backend.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/daemon.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { acquireInstanceLock } from '../../agent/instance-lock.ts';
import { silentLogger } from '../../agent/log.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

let backend: RunningBackend;
let home: string;
const agents: RunningAgent[] = [];
beforeEach(async () => {
  backend = await startBackend({});
  home = mkdtempSync(join(tmpdir(), 'scanpay-lock-'));
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

const start = async () => {
  const a = await startAgent({ home, logger: silentLogger, demo: true, backendUrl: backend.url, port: 0 });
  agents.push(a);
  return a;
};

describe('one agent per SCANPAY_HOME', () => {
  it('a second agent refuses to start, naming the running one, and leaves its agent.json alone', async () => {
    const first = await start();
    const before = readFileSync(join(home, 'agent.json'), 'utf8');
    const err = await startAgent({ home, logger: silentLogger, demo: true, backendUrl: backend.url, port: 0 }).catch((e: unknown) => e);
    expect(isScanpayError(err, 'JOURNAL_LOCKED')).toBe(true);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect(readFileSync(join(home, 'agent.json'), 'utf8')).toBe(before);
    // Once the first stops, the home is free again.
    await first.stop();
    agents.splice(0);
    await start();
  });

  it('takes over the lock of an agent that died without releasing it', () => {
    // A pid that cannot be running: the lock is stale.
    writeFileSync(join(home, 'agent.lock'), '2147483646\n');
    const lock = acquireInstanceLock(home);
    expect(readFileSync(join(home, 'agent.lock'), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a stale lock whose pid now belongs to another program', async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(home, 'agent.lock'), `${other.pid}\n`);
      const lock = acquireInstanceLock(home);
      expect(readFileSync(join(home, 'agent.lock'), 'utf8').trim()).toBe(String(process.pid));
      lock.release();
    } finally {
      other.kill('SIGKILL');
    }
  });
});

describe('journal size cap', () => {
  it('config.json journalMaxBytes is in force: a full journal refuses payments before anything is sent, or says so on the one it stopped', async () => {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ journalMaxBytes: 200 * 1024 }));
    const agent = await start();
    const headers = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' };
    const get = async (id: string) => (await (await fetch(`${agent.apiUrl}/v1/payments/${id}`, { headers })).json()) as { result: unknown; alarms: Array<{ code: string }>; status: string };
    let refused: { code?: string } | undefined;
    let stuck: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 400 && !refused && !stuck; i++) {
      const code = backend.sim.issueCode('wechat', { kind: 'instant' });
      const res = await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers, body: JSON.stringify({ id: `CAP${i}`, amount: 100, paymentCode: code, description: 'x'.repeat(120) }) });
      const body = (await res.json()) as { error?: { code?: string } };
      if (res.status >= 400) refused = body.error;
      else {
        // The cap can also be met by a payment under way: it stops where it is, and says why (issue 12).
        for (let p = await get(`CAP${i}`); !p.result; p = await get(`CAP${i}`)) {
          if (p.alarms.length) {
            stuck = p;
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    const paysSent = backend.sim.calls().filter((c) => c.op === 'pay').length;
    if (stuck) {
      expect(stuck.alarms.map((a) => a.code)).toEqual(['JOURNAL_WRITE_FAILED']);
      expect(stuck.status).toMatch(/storage is full/);
      const next = await fetch(`${agent.apiUrl}/v1/payments`, { method: 'POST', headers, body: JSON.stringify({ id: 'CAP-NEXT', amount: 100, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) }) });
      refused = ((await next.json()) as { error?: { code?: string } }).error;
      expect(['JOURNAL_WRITE_FAILED', 'API_PAYMENT_ACTIVE']).toContain(refused?.code);
    } else {
      expect(refused?.code).toBe('JOURNAL_WRITE_FAILED');
    }
    // The refused payment never reached the backend.
    expect(backend.sim.calls().filter((c) => c.op === 'pay').length).toBe(paysSent);
    expect(paysSent).toBeLessThan(400);
  }, 120_000);
});
