/**
 * A journal whose disk is full: every write the engine and the outbox make throws what the
 * real journal throws on SQLITE_FULL (JOURNAL_WRITE_FAILED), reads still work. Patches the
 * one instance it is given, through its public methods; `restore()` gives the disk back.
 */
import { ScanpayError } from '../../agent/errors.ts';
import type { Journal } from '../../agent/journal/journal.ts';

const WRITES = [
  'createPayment',
  'transition',
  'beforePayAttempt',
  'afterPayAttempt',
  'beforeQuery',
  'beforeReverse',
  'note',
  'finish',
  'createRefund',
  'settleRefund',
  'enqueue',
  'outboxAttemptFailed',
  'outboxDone',
  'outboxDead',
  'outboxRetryNow',
  'atomically',
] as const satisfies ReadonlyArray<keyof Journal>;

export function fillDisk(journal: Journal): { writesRefused: () => number; restore: () => void } {
  let refused = 0;
  const target = journal as unknown as Record<string, unknown>;
  for (const name of WRITES) {
    target[name] = () => {
      refused++;
      const cause = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      throw new ScanpayError('JOURNAL_WRITE_FAILED', { message: `journal ${name} failed (SQLITE_FULL): nothing was sent`, cause });
    };
  }
  return {
    writesRefused: () => refused,
    restore: () => {
      for (const name of WRITES) delete target[name];
    },
  };
}
