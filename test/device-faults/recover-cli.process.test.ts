/**
 * The technician's path as they meet it: `scanpay run --demo` takes a payment, the power
 * goes and the journal is lost, the next `scanpay run` refuses with the typed error and
 * the step to take, `scanpay recover --demo` settles the orders the embedded acquirer
 * kept (sim-backend.db), and `scanpay run` starts again with the payment known.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
let home: string;
const children = new Set<ChildProcess>();

function spawnCli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { status, stdout, stderr };
}

function startDaemon(): Promise<ChildProcess> {
  const daemon = spawnCli(['run', '--demo']);
  return new Promise((resolve, reject) => {
    createInterface({ input: daemon.stdout! }).on('line', (l) => /^POS API:/.test(l) && resolve(daemon));
    daemon.on('exit', (code) => reject(new Error(`agent exited (${code}) before listening`)));
  });
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-recover-cli-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 } }));
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('scanpay recover (processes, demo mode)', () => {
  it('a lost journal stops the agent with the step to take; recover brings the paid payment back', async () => {
    const daemon = await startDaemon();
    const paid = await cli(['pay', '12.34', '--order', 'LOST-1', '--demo-customer', 'instant', '--json']);
    expect(paid.status, paid.stderr).toBe(0);
    const { orderNo } = JSON.parse(paid.stdout) as { orderNo: string };
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm']) rmSync(join(home, f), { force: true });

    const refused = await cli(['run', '--demo']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/JOURNAL_IDENTITY_MISMATCH: .*scanpay recover/);

    const recovered = await cli(['recover', '--demo']);
    expect(recovered.status, recovered.stderr).toBe(0);
    expect(recovered.stdout).toMatch(new RegExp(`${orderNo}\\s+SUCCESS\\s+.*recorded → paid`));
    expect(recovered.stdout).toContain('every order is settled');

    const again = await startDaemon();
    again.kill('SIGTERM');
    expect(await new Promise((r) => again.once('exit', r))).toBe(0);
    const journal = Journal.open(join(home, 'journal.db'));
    expect(journal.getPayment(orderNo)).toMatchObject({ outcome: 'paid', amount: 1234 });
    journal.close();
  }, 240_000);
});
