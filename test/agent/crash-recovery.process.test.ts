/**
 * Power cuts at the worst moments: the agent runs as a child process and is killed with
 * SIGKILL, then restarted on the same journal. Every payment must end final, charged at
 * most once, with the journal and the acquirer's ledger in agreement.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const CHILD = new URL('../fixtures/agent-child.ts', import.meta.url).pathname;

let backend: RunningBackend;
let dir: string;
let journalPath: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  // A walk-away customer gives up after a second, so reversals end in real time.
  backend = await startBackend({ passwordAbandonMs: 1_000 });
  dir = mkdtempSync(join(tmpdir(), 'scanpay-crash-'));
  journalPath = join(dir, 'journal.db');
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function runAgent(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, journalPath, backend.url, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited };
}

/** Restarts the agent with no crash point and waits until it reports everything final. */
async function recover(): Promise<Array<{ orderNo: string; outcome: string }>> {
  const r = await runAgent([]).exited;
  expect(r.code, r.stderr).toBe(0);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  expect(last.event).toBe('settled');
  return last.payments;
}

function journalRows() {
  const j = Journal.open(journalPath);
  try {
    return j.listPayments();
  } finally {
    j.close();
  }
}

const ledgerNet = (orderNo: string) =>
  backend.sim
    .ledger()
    .filter((e) => e.orderNo === orderNo)
    .reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0);
const chargeCount = (orderNo: string) => backend.sim.ledger().filter((e) => e.orderNo === orderNo && e.kind === 'charge').length;

describe('crash recovery (SIGKILL in a child process)', () => {
  it('killed between the journal write and the request: restart ends it reversed, nothing charged', async () => {
    const code = backend.sim.issueCode('wechat', { kind: 'instant' });
    const first = await runAgent([code, '1500'], { SCANPAY_CRASH_AT: 'pay:after-journal' }).exited;
    expect(first.signal).toBe('SIGKILL');
    const [row] = journalRows();
    expect(row).toMatchObject({ state: 'submitting', pay_in_flight: 1, outcome: null });
    expect(backend.sim.calls()).toHaveLength(0);

    const payments = await recover();
    expect(payments).toEqual([{ orderNo: row!.order_no, outcome: 'reversed' }]);
    expect(chargeCount(row!.order_no)).toBe(0);
    // Queried first, reversed after the deadline; the reverse left a tombstone so the
    // lost pay could never charge if it arrived late.
    const ops = backend.sim.calls().map((c) => c.op);
    expect(ops[0]).toBe('query');
    expect(ops.at(-1)).toBe('reverse');
    expect(backend.sim.order(row!.order_no)?.state).toBe('REVOKED');
  });

  it('killed after the charge, before the answer arrived: restart ends it paid, charged once', async () => {
    const code = backend.sim.issueCode('alipay', { kind: 'instant' });
    backend.sim.addFault({ op: 'pay', kind: 'hang', count: 1 });
    const run = runAgent([code, '2500']);
    // Wait until the acquirer has charged the customer, then cut the power.
    await expect.poll(() => backend.sim.ledger().length, { timeout: 15_000, interval: 20 }).toBe(1);
    run.child.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    const [row] = journalRows();
    expect(row).toMatchObject({ pay_in_flight: 1, outcome: null });

    const payments = await recover();
    expect(payments).toEqual([{ orderNo: row!.order_no, outcome: 'paid' }]);
    expect(chargeCount(row!.order_no)).toBe(1);
    expect(ledgerNet(row!.order_no)).toBe(2500);
  });

  it('killed after the answer arrived, before the journal recorded it: restart ends it paid, charged once', async () => {
    const code = backend.sim.issueCode('unionpay', { kind: 'instant' });
    const first = await runAgent([code, '3100'], { SCANPAY_CRASH_AT: 'pay:after-answer' }).exited;
    expect(first.signal).toBe('SIGKILL');
    const [row] = journalRows();
    expect(chargeCount(row!.order_no)).toBe(1);
    const payments = await recover();
    expect(payments).toEqual([{ orderNo: row!.order_no, outcome: 'paid' }]);
    expect(chargeCount(row!.order_no)).toBe(1);
  });

  it('killed in the middle of a reversal: restart finishes the reversal, charged zero', async () => {
    // The customer never confirms, so the payment is reversed at its deadline.
    const code = backend.sim.issueCode('wechat', { kind: 'walkaway' });
    const first = await runAgent([code, '4200'], { SCANPAY_CRASH_AT: 'reverse:after-answer' }).exited;
    expect(first.signal).toBe('SIGKILL');
    const [row] = journalRows();
    expect(row).toMatchObject({ state: 'reversing', outcome: null });
    const payments = await recover();
    expect(payments).toEqual([{ orderNo: row!.order_no, outcome: 'reversed' }]);
    expect(ledgerNet(row!.order_no)).toBe(0);
  });
});
