/**
 * A lost journal is never a silent fresh start: its identity and high-water mark live
 * outside it (journal-mark.json) and at the backend; a journal that disagrees is refused,
 * and `recover` settles the terminal's orders from the acquirer. Real SQLite files, real HTTP.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceClient } from '../../agent/backend/device-client.ts';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock } from '../../agent/clock.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { checkJournal, guardJournal, journalIdOf, markOf, readMark, writeMark } from '../../agent/journal-guard.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { recoverFromAcquirer } from '../../agent/recovery.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const fast = { firstQueryDelayMs: 50, queryScheduleMs: [100], queryDeadlineMs: 20_000, reverseRetryBaseMs: 50, reverseRetryMaxMs: 200, networkRetryMs: 50 };
const profiles = Object.fromEntries((['wechat', 'alipay', 'unionpay', 'ecny'] as Wallet[]).map((w) => [w, fast]));

let backend: RunningBackend;
let home: string;
beforeEach(async () => {
  // A walk-away customer gives up after 1.5 s: the open order becomes reversible in real time.
  backend = await startBackend({ passwordAbandonMs: 1_500 });
  home = mkdtempSync(join(tmpdir(), 'scanpay-journal-id-'));
});
afterEach(async () => {
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

const journalPath = () => join(home, 'journal.db');
const acquirer = () => new HttpAcquirer({ baseUrl: backend.url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock: systemClock, timeoutMs: { pay: 2_000, query: 1_000, reverse: 1_000, refund: 1_000 } });
const net = (orderNo: string) => backend.sim.ledger().filter((e) => e.orderNo === orderNo).reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0);

function expectRefusal(fn: () => unknown, code: 'JOURNAL_IDENTITY_MISMATCH' | 'JOURNAL_ROLLED_BACK'): void {
  try {
    fn();
  } catch (e) {
    expect(isScanpayError(e, code), String(e)).toBe(true);
    expect((e as Error).message).toContain('scanpay recover');
    return;
  }
  throw new Error(`expected ${code}`);
}

/** The agent's start: check the journal, track the mark, run the engine. */
function startTerminal() {
  const journal = Journal.open(journalPath());
  const engine = new PaymentEngine({ journal, acquirer: acquirer(), clock: systemClock, terminalId: DEMO_TERMINAL.terminalId, profiles });
  let guard;
  try {
    guard = guardJournal({ home, journal, clock: systemClock, logger: silentLogger }, engine);
  } catch (e) {
    journal.close();
    throw e;
  }
  engine.start();
  return { journal, engine, guard };
}

describe('device faults: the journal', () => {
  it('journal.db deleted after payments: the start is refused, recover reverses the open order and records the paid one', async () => {
    const t = startTerminal();
    const paid = t.engine.pay({ amount: 1200, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await expect.poll(() => t.journal.getPayment(paid.orderNo)?.outcome, { timeout: 10_000 }).toBe('paid');
    const refund = await t.engine.refund(paid.orderNo, { refundId: 'R-1', amount: 200 });
    expect(refund.state).toBe('refunded');
    const open = t.engine.pay({ amount: 3400, paymentCode: backend.sim.issueCode('alipay', { kind: 'walkaway' }) });
    await expect.poll(() => t.journal.getPayment(open.orderNo)?.state, { timeout: 10_000 }).toBe('querying');
    await t.guard.flush();
    // The power goes with the payment under way; the journal is then lost.
    t.journal.close();
    // Nothing of that process runs on (its engine would find the journal closed).
    await t.engine.stop();
    for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm']) rmSync(join(home, f), { force: true });

    expectRefusal(() => startTerminal(), 'JOURNAL_IDENTITY_MISMATCH');

    const journal = Journal.open(journalPath());
    const mark = readMark(home)!;
    expect(mark.recoverSince).toBeLessThanOrEqual(paid.createdAt);
    const client = new DeviceClient({ baseUrl: backend.url, clock: systemClock, credentials: () => DEMO_TERMINAL });
    const rows = await recoverFromAcquirer({ journal, client, acquirer: acquirer(), clock: systemClock, since: mark.recoverSince, logger: silentLogger, reverseRetryMs: 200 });
    expect(rows.map((r) => [r.orderNo, r.action, r.outcome])).toEqual([
      [paid.orderNo, 'recorded', 'paid'],
      [open.orderNo, 'reversed', 'reversed'],
    ]);
    expect(journal.getPayment(paid.orderNo)).toMatchObject({ outcome: 'paid', amount: 1200, wallet: 'wechat', code: null });
    // The refund the acquirer made is recorded again (issue 12): the next refund's limit and the settlement count it.
    expect(journal.refundsOf(paid.orderNo).map((r) => [r.refund_no, r.amount, r.state])).toEqual([[refund.refundNo, 200, 'refunded']]);
    expect(journal.getPayment(open.orderNo)).toMatchObject({ outcome: 'reversed', amount: 3400 });
    expect(net(paid.orderNo)).toBe(1000);
    expect(net(open.orderNo)).toBe(0);
    expect(backend.sim.order(open.orderNo)?.state).toBe('REVOKED');
    // Asked again, nothing new happens: every order is known now.
    const again = await recoverFromAcquirer({ journal, client, acquirer: acquirer(), clock: systemClock, since: mark.recoverSince, logger: silentLogger });
    expect(again.map((r) => r.action)).toEqual(['known', 'known']);
    // Adopted: the agent starts on the recovered journal.
    writeMark(home, markOf(journal, { journalId: journalIdOf(journal), createdAt: mark.recoverSince, replaced: { journalId: mark.journalId, at: Date.now(), orders: 2 } }, Date.now()));
    journal.close();
    const t2 = startTerminal();
    await t2.engine.stop();
    t2.journal.close();
  }, 60_000);

  it('-wal lost after a crash (the journal rolled back): the start is refused', async () => {
    const t = startTerminal();
    const first = t.engine.pay({ amount: 500, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await expect.poll(() => t.journal.getPayment(first.orderNo)?.outcome, { timeout: 10_000 }).toBe('paid');
    await t.engine.stop();
    t.journal.close(); // the last close checkpoints: journal.db alone holds the first payment
    const t2 = startTerminal();
    const second = t2.engine.pay({ amount: 600, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await expect.poll(() => t2.journal.getPayment(second.orderNo)?.outcome, { timeout: 10_000 }).toBe('paid');
    await t2.guard.flush();
    expect(readMark(home)?.lastOrderNo).toBe(second.orderNo);
    // A copy of journal.db as it is on disk while -wal holds the second payment: -wal deleted.
    const copy = join(home, 'copy.db');
    copyFileSync(journalPath(), copy);
    await t2.engine.stop();
    t2.journal.close();
    for (const f of ['journal.db-wal', 'journal.db-shm']) rmSync(join(home, f), { force: true });
    copyFileSync(copy, journalPath());
    expectRefusal(() => startTerminal(), 'JOURNAL_ROLLED_BACK');
  }, 30_000);

  it('a journal without a mark (first start, or written before marks existed) is adopted as it stands', () => {
    const journal = Journal.open(journalPath());
    const mark = checkJournal(home, journal, systemClock);
    expect(mark).toMatchObject({ journalId: journalIdOf(journal), lastOrderNo: null });
    expect(checkJournal(home, journal, systemClock).journalId).toBe(mark.journalId);
    journal.close();
    // Another journal file has another identity.
    const other = Journal.open(join(home, 'other.db'));
    expect(journalIdOf(other)).not.toBe(mark.journalId);
    expectRefusal(() => checkJournal(home, other, systemClock), 'JOURNAL_IDENTITY_MISMATCH');
    other.close();
  });
});

describe('device faults: the journal, as the backend knows it', () => {
  it('journal and journal-mark.json both lost on a provisioned terminal: the heartbeat at start refuses it, every later start too', async () => {
    const { DeviceSync } = await import('../../agent/device-sync.ts');
    const { provision } = await import('../../agent/provision.ts');
    const { readTerminalRecord } = await import('../../agent/terminal-store.ts');
    const { confirmWithBackend } = await import('../../agent/journal-guard.ts');
    const { code } = backend.sim.device.issueActivationCode({});
    await provision({ home, backendUrl: backend.url, activationCode: code, clock: systemClock });
    const record = readTerminalRecord(home)!;
    const key = Buffer.from(record.key, 'base64');
    const run = async () => {
      const journal = Journal.open(journalPath());
      const http = new HttpAcquirer({ baseUrl: backend.url, terminalId: record.terminalId, key, clock: systemClock });
      const engine = new PaymentEngine({ journal, acquirer: http, clock: systemClock, terminalId: record.terminalId, profiles });
      try {
        const guard = guardJournal({ home, journal, clock: systemClock, logger: silentLogger }, engine);
        const client = new DeviceClient({ baseUrl: backend.url, clock: systemClock, credentials: () => ({ terminalId: record.terminalId, key }) });
        const sync = new DeviceSync({ home, terminal: record, client, clock: systemClock, logger: silentLogger, journal, engine, onKey: () => undefined, scanners: () => [], agentVersion: 'test', journalMark: guard });
        await confirmWithBackend(guard, () => sync.heartbeat(), systemClock, silentLogger);
        engine.start();
        return { journal, engine, guard, sync };
      } catch (e) {
        journal.close();
        throw e;
      }
    };
    const t = await run();
    const p = t.engine.pay({ amount: 900, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }) });
    await expect.poll(() => t.journal.getPayment(p.orderNo)?.outcome, { timeout: 10_000 }).toBe('paid');
    await t.guard.flush();
    await t.sync.heartbeat();
    const terminal = backend.sim.device.terminals().find((x) => x.terminalId === record.terminalId)!;
    expect(terminal.lastHeartbeat?.journal).toMatchObject({ journalId: t.guard.report()!.journalId, lastOrderNo: p.orderNo });
    await t.engine.stop();
    t.journal.close();
    for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm', 'journal-mark.json']) rmSync(join(home, f), { force: true });

    await expect(run()).rejects.toMatchObject({ code: 'JOURNAL_IDENTITY_MISMATCH' });
    // Remembered locally: refused again even before the backend is asked.
    expect(readMark(home)?.conflict?.code).toBe('JOURNAL_IDENTITY_MISMATCH');
    expect(() => checkJournal(home, Journal.open(join(home, 'probe.db')), systemClock)).toThrow(/scanpay recover/);
  }, 30_000);
});
