/**
 * The WAL scrubber (agent/wal-scrub.ts) checkpoints and truncates `journal.db-wal` once
 * payments pause, and at least every `maxWaitMs` while they do not: erased codes leave the
 * disk files soon after trade stops, without a checkpoint after every second of steady trade.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { createLogger } from '../../agent/log.ts';
import { walScrubber } from '../../agent/wal-scrub.ts';

let dir: string;
let journal: Journal;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-scrub-'));
  journal = Journal.open(join(dir, 'journal.db'));
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const walBytes = () => statSync(join(dir, 'journal.db-wal')).size;
let n = 0;
/** A payment ends: a write lands in the WAL and the scrubber is told. */
const paymentEnds = (scrubber: { poke(): void }, at: number) => {
  const orderNo = `P${n++}`;
  journal.createPayment({ orderNo, amount: 100, currency: 'CNY', description: '', wallet: 'wechat', code: `1345678901234${String(50_000 + n)}`, codeMasked: 'x', traceId: 't', createdAt: at, codeExpiresAt: at + 60_000, queryDeadlineAt: at + 45_000 });
  scrubber.poke();
};

describe('WAL scrubber', () => {
  it('waits for a pause in payments, then empties the WAL', () => {
    const clock = new ManualClock(1_000_000);
    const scrubber = walScrubber({ path: join(dir, 'journal.db'), clock, logger: createLogger({ level: 'silent' }), delayMs: 1_000, maxWaitMs: 30_000 });
    for (let i = 0; i < 5; i++) {
      paymentEnds(scrubber, clock.now());
      clock.advance(600);
      expect(walBytes()).toBeGreaterThan(0);
    }
    clock.advance(400);
    expect(walBytes()).toBe(0);
    scrubber.stop();
  });

  it('empties the WAL at least every maxWaitMs while payments never pause', () => {
    const clock = new ManualClock(1_000_000);
    const scrubber = walScrubber({ path: join(dir, 'journal.db'), clock, logger: createLogger({ level: 'silent' }), delayMs: 1_000, maxWaitMs: 5_000 });
    paymentEnds(scrubber, clock.now());
    let emptied = false;
    for (let t = 0; t < 5_000; t += 500) {
      expect(walBytes()).toBeGreaterThan(0);
      clock.advance(500);
      if (walBytes() === 0) emptied = true;
      paymentEnds(scrubber, clock.now());
    }
    expect(emptied).toBe(true);
    scrubber.stop();
  });
});
