/**
 * The technician's path as they meet it: `scanpay run --demo` takes a payment, the power
 * goes and the journal is lost, the next `scanpay run` refuses with the typed error and
 * the step to take, `scanpay recover --demo` settles the orders the embedded acquirer
 * kept (sim-backend.db), and `scanpay run` starts again with the payment known.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';
import { cliProcesses, exited, lineMatching } from '../support/cli-process.ts';

let home: string;
const procs = cliProcesses();
const cli = (args: string[]) => procs.run(home, args);

async function startDaemon(): Promise<ChildProcess> {
  const daemon = procs.spawn(home, ['run', '--demo']);
  await lineMatching(daemon, /^POS API:/);
  return daemon;
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-recover-cli-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 } }));
});
afterAll(() => {
  procs.killAll();
  rmSync(home, { recursive: true, force: true });
});

describe('scanpay recover (processes, demo mode)', () => {
  it('a lost journal stops the agent with the step to take; recover brings the paid payment back', async () => {
    const daemon = await startDaemon();
    const paid = await cli(['pay', '12.34', '--order', 'LOST-1', '--demo-customer', 'instant', '--json']);
    expect(paid.status, paid.stderr).toBe(0);
    const { orderNo } = JSON.parse(paid.stdout) as { orderNo: string };
    daemon.kill('SIGKILL');
    await exited(daemon);
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
    expect(await exited(again)).toBe(0);
    const journal = Journal.open(join(home, 'journal.db'));
    expect(journal.getPayment(orderNo)).toMatchObject({ outcome: 'paid', amount: 1234 });
    journal.close();
  }, 240_000);
});
