/**
 * The journal mark (journal-guard.ts) never names a payment the journal could still lose:
 * a payment is created with a lazy commit, so the mark waits for a sync of the WAL that
 * covers it, and the write itself runs off the event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.ts';
import { checkJournal, JournalGuard, readMark } from '../../agent/journal-guard.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-mark-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

it('writes a mark naming a new payment only after a WAL sync that covers its lazy create', async () => {
  let release!: () => void;
  let syncs = 0;
  const journal = Journal.open(join(home, 'journal.db'), {
    fsyncWal: () => {
      syncs += 1;
      return new Promise<void>((r) => (release = r));
    },
  });
  try {
    const guard = new JournalGuard({ home, journal, clock: systemClock, logger: silentLogger, mark: checkJournal(home, journal, systemClock) });
    const now = Date.now();
    const { row } = journal.createPayment({
      orderNo: 'O-1',
      amount: 100,
      currency: 'CNY',
      description: '',
      wallet: 'wechat',
      code: '134567890123456789',
      codeMasked: '1345**********6789',
      traceId: 't-1',
      createdAt: now,
      codeExpiresAt: now + 60_000,
      queryDeadlineAt: now + 60_000,
    });
    const flushed = guard.flush();
    await new Promise((r) => setTimeout(r, 50));
    // The WAL sync is held: the create may still be lost, so the mark on disk does not name it.
    expect(syncs).toBe(1);
    expect(readMark(home)?.lastOrderNo).toBeNull();
    release();
    await flushed;
    expect(readMark(home)?.lastOrderNo).toBe(row.order_no);
  } finally {
    journal.close();
  }
});
