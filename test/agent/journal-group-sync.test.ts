/**
 * Grouped journal writes (journal-db.ts): the write before a pay, a query or a reverse is
 * committed at once and synced by one fsync of the WAL in the thread pool; the request
 * leaves only after that sync returned (money-safety rule 1). The strace test
 * (journal-durability.process.test.ts) shows the sync reaches the disk; this one shows the
 * engine waits for it, and that a WAL which cannot be synced stops the request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Acquirer, CallResult } from '../../agent/backend/acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-group-sync-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const payment = (orderNo: string, code: string) => ({ orderNo, amount: 100, currency: 'CNY', description: '', wallet: 'wechat' as const, code, codeMasked: 'x', traceId: 't', createdAt: 1, codeExpiresAt: 60_001, queryDeadlineAt: 45_001 });

describe('grouped journal writes', () => {
  it('sends the pay, and the query after an unknown answer, only once the write before each is synced', async () => {
    const journal = Journal.open(join(dir, 'journal.db'));
    const clock = new ManualClock(1_700_000_000_000);
    const unsyncedAtSend: Record<string, boolean[]> = { pay: [], query: [] };
    const unknown = (): CallResult<never> => ({ kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN'), latencyMs: 1 });
    const acquirer: Acquirer = {
      pay: async () => (unsyncedAtSend.pay!.push(journal.unsynced), unknown()),
      query: async (req) => (unsyncedAtSend.query!.push(journal.unsynced), { kind: 'answer', latencyMs: 1, body: { result: 'SUCCESS', orderNo: req.orderNo, trade: { orderNo: req.orderNo, state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat', refundedAmount: 0 } } }),
      reverse: async () => unknown(),
      refund: async () => unknown(),
    };
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5 });
    const paidSeenUnsynced: boolean[] = [];
    engine.onChange((v) => v.outcome === 'paid' && paidSeenUnsynced.push(journal.unsynced));
    engine.start();
    try {
      const p = engine.pay({ amount: 100, paymentCode: '134567890123456789' });
      for (let i = 0; i < 20 && engine.get(p.orderNo).outcome === null; i++) {
        await engine.idle();
        clock.advanceToNext();
      }
      expect(engine.get(p.orderNo).outcome).toBe('paid');
      // "paid" was shown to nobody while its write was not yet synced.
      expect(paidSeenUnsynced).toEqual([false]);
      expect(unsyncedAtSend.pay).toEqual([false]);
      expect(unsyncedAtSend.query!.length).toBeGreaterThan(0);
      expect(unsyncedAtSend.query!.every((u) => !u)).toBe(true);
    } finally {
      await engine.stop();
      journal.close();
    }
  });

  it('covers every grouped write committed before the sync, and refuses when the WAL cannot be synced', async () => {
    const journal = Journal.open(join(dir, 'journal.db'));
    try {
      journal.createPayment(payment('A', '134567890123456789'));
      journal.createPayment(payment('B', '134567890123456790'));
      journal.beforePayAttempt('A', 2);
      journal.beforePayAttempt('B', 2);
      expect(journal.unsynced).toBe(true);
      await journal.synced();
      expect(journal.unsynced).toBe(false);

      // The WAL gone from its place (SQLite writes on into the unlinked file): a sync of
      // the file at the path cannot cover the write, so the request must not leave.
      journal.beforePayAttempt('A', 3);
      rmSync(join(dir, 'journal.db-wal'));
      await expect(journal.synced()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      expect(journal.writeFault?.code).toBe('JOURNAL_WRITE_FAILED');
      // Kept until a restart: a later write is not called synced either.
      journal.note('B', 4, 'submitting', 'answer');
      await expect(journal.synced()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      expect(journal.writeFault?.code).toBe('JOURNAL_WRITE_FAILED');
    } finally {
      journal.close();
    }
  });
});
