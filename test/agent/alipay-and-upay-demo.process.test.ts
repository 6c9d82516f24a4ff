/**
 * What the README promises for each acquirer protocol, as an operator runs it:
 * `scanpay run --demo --protocol P` (the embedded simulator speaks P), then
 * `scanpay pay 12.34 --demo-customer instant` → PAID, exit 0, and the simulator's ledger
 * holds exactly that charge.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, exited, linesUntil } from '../support/cli-process.ts';

const procs = cliProcesses();
const homes: string[] = [];

afterAll(() => {
  procs.killAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe.each(['alipay', 'upay'])('scanpay run --demo --protocol %s', (protocol) => {
  it('takes a demo payment: PAID, exit 0, charged once in the simulator’s ledger', async () => {
    const home = mkdtempSync(join(tmpdir(), `scanpay-${protocol}-`));
    homes.push(home);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 } }));
    const daemon = procs.spawn(home, ['run', '--demo', '--protocol', protocol]);
    const lines = await linesUntil(daemon, /^press Ctrl-C/);
    const control = /control API (\S+)\)/.exec(lines.find((l) => l.startsWith('backend:'))!)![1]!;

    const paid = await procs.run(home, ['pay', '12.34', '--demo-customer', 'instant', '--json']);
    expect(paid.stderr).toBe('');
    expect(paid.status).toBe(0);
    const result = JSON.parse(paid.stdout) as { result: string; amount: number; orderNo: string };
    expect(result).toMatchObject({ result: 'paid', amount: 1234 });

    const ledger = (await (await fetch(`${control}/ledger`)).json()) as { entries: Array<{ kind: string; amount: number; orderNo: string }> };
    expect(ledger.entries).toEqual([expect.objectContaining({ kind: 'charge', amount: 1234, orderNo: result.orderNo })]);

    daemon.kill('SIGTERM');
    expect(await exited(daemon)).toBe(0);
  }, 180_000);
});
