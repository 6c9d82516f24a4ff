/**
 * A payment waiting for its scan ends when the `scanpay pay` that created it goes away:
 * killed (SIGKILL, SIGTERM) or failed after creating it (`--demo-customer` against an agent
 * with no embedded simulator). Nothing was sent, so it ends not charged (CANCELLED) at once
 * and the lane is free for the next payment, instead of held until the scan timeout (set
 * to ten minutes here, longer than any of these tests may take).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PosClient } from '../../agent/cli/pos-client.ts';
import type { PosPayment } from '../../agent/pos-payment.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
const SCAN_TIMEOUT_MS = 600_000;

let home: string;
let backend: RunningBackend;
let client: PosClient;
const children = new Set<ChildProcess>();

function spawnCli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve({ code: child.exitCode, signal: child.signalCode }) : child.on('exit', (code, signal) => resolve({ code, signal }))));
}

async function payment(id: string): Promise<PosPayment | undefined> {
  try {
    return await client.request<PosPayment>('GET', `/v1/payments/${id}`);
  } catch {
    return undefined;
  }
}

async function waitingForScan(id: string): Promise<void> {
  await expect.poll(async () => (await payment(id))?.state, { timeout: 120_000, interval: 100 }).toBe('waiting_scan');
}

/** The payment ended not charged because its creator went away, and the lane takes the next one. */
async function endedAndLaneFree(id: string): Promise<void> {
  await expect.poll(async () => (await payment(id))?.result ?? null, { timeout: 60_000, interval: 100 }).toBe('not_charged');
  expect(await payment(id)).toMatchObject({ state: 'cancelled', reasonCode: 'CANCELLED', reasonMessage: expect.stringMatching(/went away/) });
  const next = await client.create({ id: `${id}-NEXT`, amount: 100 });
  expect(next.state).toBe('waiting_scan');
  await client.cancel(next.id);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-creator-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 }, scanTimeoutMs: SCAN_TIMEOUT_MS }));
  backend = await startBackend({});
  // Demo mode (a virtual scanner on the lane) against an outside backend: no embedded simulator.
  const agent = spawnCli(['run', '--demo', '--backend', backend.url]);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: agent.stdout! }).on('line', (l) => /^POS API:/.test(l) && resolve());
    agent.on('exit', (code) => reject(new Error(`agent exited ${code}`)));
  });
  client = PosClient.forHome(home, { ...process.env, SCANPAY_HOME: home });
}, 180_000);

afterAll(async () => {
  await Promise.all([...children].map((c) => (c.kill('SIGKILL'), exited(c))));
  await backend?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('a waiting payment ends when its creator goes away', { timeout: 300_000 }, () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('`scanpay pay` killed by %s while waiting for the scan: not charged at once, lane free', async (signal) => {
    const id = `GONE-${signal}`;
    const pay = spawnCli(['pay', '5.00', '--order', id]);
    await waitingForScan(id);
    pay.kill(signal);
    expect((await exited(pay)).signal).toBe(signal);
    await endedAndLaneFree(id);
  });

  it('`pay --demo-customer` against an agent without a simulator: refused, and the payment it created ends at once', async () => {
    const id = 'GONE-DEMO';
    const pay = spawnCli(['pay', '5.00', '--order', id, '--demo-customer', 'instant']);
    let stderr = '';
    pay.stderr!.on('data', (d) => (stderr += d));
    expect((await exited(pay)).code).not.toBe(0);
    expect(stderr).toMatch(/embedded simulator/);
    await endedAndLaneFree(id);
  });

  it('a client that holds nothing leaves the waiting payment alone', async () => {
    const id = 'STAYS';
    await client.create({ id, amount: 100 });
    const stream = new AbortController();
    const events = client.events(() => {}, stream.signal, { hold: 'SOMETHING-ELSE' });
    stream.abort();
    await events;
    const watcher = new AbortController();
    const seen = client.events(() => {}, watcher.signal);
    watcher.abort();
    await seen;
    // Give the agent a round trip to act on the closed streams, then look.
    await client.request('GET', '/v1/agent');
    expect(await payment(id)).toMatchObject({ state: 'waiting_scan', result: null });
    await client.cancel(id);
  });
});
