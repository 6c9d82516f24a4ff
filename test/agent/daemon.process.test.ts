/**
 * The agent as an operator runs it: `scanpay run --demo` as a child process, pointed with
 * --backend at a simulated backend that lives in the test process (so it outlives the
 * agent), payments taken with `scanpay pay`, a SIGTERM in the middle of one, a restart,
 * and the ledger compared with what the agent says. Real time: the customer's password
 * takes 3 s, and the wallet profile is shortened so the queries follow within a second.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { cliProcesses, exited, lineMatching } from '../support/cli-process.ts';

let home: string;
let backend: RunningBackend;
const procs = cliProcesses();
const spawnCli = (args: string[]) => procs.spawn(home, args);
const cli = (args: string[]) => procs.run(home, args);

async function startDaemon(): Promise<ChildProcess> {
  const daemon = spawnCli(['run', '--demo', '--backend', backend.url]);
  await lineMatching(daemon, /^POS API:/);
  return daemon;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-daemon-'));
  const fast = { firstQueryDelayMs: 300, queryScheduleMs: [300], queryDeadlineMs: 20_000 };
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 }, profiles: { wechat: fast } }));
  backend = await startBackend({});
});

afterAll(async () => {
  procs.killAll();
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

describe('scanpay run as a process', () => {
  it('takes payments, survives SIGTERM mid-payment, resumes it after a restart, and agrees with the ledger', async () => {
    const daemon = await startDaemon();

    const first = await cli(['pay', '12.34', '--order', 'FIRST', '--code', backend.sim.issueCode('wechat', { kind: 'instant' }), '--json']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ id: 'FIRST', result: 'paid', amount: 1234 });

    // The second customer takes 3 s over the password; the agent is stopped meanwhile.
    const pay = spawnCli(['pay', '30.00', '--order', 'SLOW', '--code', backend.sim.issueCode('wechat', { kind: 'password', seconds: 3 })]);
    await lineMatching(pay, /customer entering password/);
    daemon.kill('SIGTERM');
    expect(await exited(daemon)).toBe(0);
    expect(await exited(pay)).toBe(4); // agent unreachable: the till knows to look again

    // Stopped cleanly: the journal says exactly where the payment stood.
    const journal = Journal.open(join(home, 'journal.db'));
    const slow = journal.getByPosOrderId('SLOW')!;
    expect(slow.outcome).toBeNull();
    expect(slow.state).toBe('querying');
    journal.close();
    expect(backend.sim.order(slow.order_no)?.charged ?? 0).toBe(0);

    const again = await startDaemon();
    let shown: { result: string | null; orderNo: string } | undefined;
    for (let i = 0; i < 40; i++) {
      const r = await cli(['show', 'SLOW', '--json']);
      expect(r.status).toBe(0);
      shown = JSON.parse(r.stdout);
      if (shown!.result !== null) break;
    }
    expect(shown).toMatchObject({ result: 'paid', orderNo: slow.order_no });

    const charges = backend.sim.ledger().filter((e) => e.kind === 'charge');
    expect(charges.map((c) => [c.orderNo, c.amount]).sort()).toEqual(
      [
        [JSON.parse(first.stdout).orderNo, 1234],
        [slow.order_no, 3000],
      ].sort(),
    );
    expect(backend.sim.audit().doubleCharges).toEqual([]);

    const list = await cli(['list']);
    expect(list.stdout).toMatch(/SLOW {2}30\.00 CNY {2}paid/);
    again.kill('SIGTERM');
    expect(await exited(again)).toBe(0);
    expect(() => readFileSync(join(home, 'agent.json'))).toThrow(); // removed on a clean stop

    const down = await cli(['show', 'SLOW']);
    expect(down.status).toBe(4);
    expect(down.stderr).toContain('API_AGENT_UNREACHABLE');
  }, 120_000); // took 41-45 s on a loaded shared machine: room, not a measure

  it('refuses bad amounts before contacting anything', async () => {
    const amounts = ['12.345', '-1', '0', '1e3', '5000.01'];
    const results = await Promise.all(amounts.map((a) => cli(['pay', a])));
    for (const [i, r] of results.entries()) {
      expect(r.status, amounts[i]).toBe(1);
      expect(r.stderr).toContain('PAY_AMOUNT_INVALID');
    }
  }, 120_000); // five CLI starts at once: slow on a loaded machine, never a measure
});
