/**
 * What the README promises for each acquirer protocol, as an operator runs it:
 * `scanpay run --demo --protocol P` (the embedded simulator speaks P), then
 * `scanpay pay 12.34 --demo-customer instant` → PAID, exit 0, and the simulator's ledger
 * holds exactly that charge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
const children = new Set<ChildProcess>();
const homes: string[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function spawnCli(home: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function cli(home: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(home, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { status, stdout, stderr };
}

/** The daemon's startup lines up to the POS API's, or a rejection if it exits first. */
function startupLines(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      seen.push(l);
      if (l.startsWith('press Ctrl-C')) resolve(seen);
    });
    child.on('exit', (code) => reject(new Error(`scanpay run exited (${code}) before it was ready: ${seen.join('\n')}`)));
  });
}

describe.each(['alipay', 'upay'])('scanpay run --demo --protocol %s', (protocol) => {
  it('takes a demo payment: PAID, exit 0, charged once in the simulator’s ledger', async () => {
    const home = mkdtempSync(join(tmpdir(), `scanpay-${protocol}-`));
    homes.push(home);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 } }));
    const daemon = spawnCli(home, ['run', '--demo', '--protocol', protocol]);
    const lines = await startupLines(daemon);
    const control = /control API (\S+)\)/.exec(lines.find((l) => l.startsWith('backend:'))!)![1]!;

    const paid = await cli(home, ['pay', '12.34', '--demo-customer', 'instant', '--json']);
    expect(paid.stderr).toBe('');
    expect(paid.status).toBe(0);
    const result = JSON.parse(paid.stdout) as { result: string; amount: number; orderNo: string };
    expect(result).toMatchObject({ result: 'paid', amount: 1234 });

    const ledger = (await (await fetch(`${control}/ledger`)).json()) as { entries: Array<{ kind: string; amount: number; orderNo: string }> };
    expect(ledger.entries).toEqual([expect.objectContaining({ kind: 'charge', amount: 1234, orderNo: result.orderNo })]);

    daemon.kill('SIGTERM');
    expect(await new Promise((resolve) => daemon.on('exit', (code) => resolve(code)))).toBe(0);
  }, 180_000);
});
