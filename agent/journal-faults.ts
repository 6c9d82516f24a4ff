/**
 * Journal write failures on demand, for the chaos run (issue 13). Inert unless
 * SCANPAY_JOURNAL_FAULTS is set, like the crash points (agent/crash-points.ts):
 * `RATE@SEED` makes each journal write fail with chance RATE, as SQLite's SQLITE_IOERR or
 * SQLITE_FULL makes the real journal fail it (JOURNAL_WRITE_FAILED, nothing written), and
 * says so on stderr. Reads still work. Patches the one journal instance it is given,
 * through its public methods; tests use `failJournalWrites` with a rule of their own.
 */
import { ScanpayError } from './errors.ts';
import type { Journal } from './journal/journal.ts';

/** Every public journal method that writes. */
export const JOURNAL_WRITES = [
  'createPayment',
  'transition',
  'beforePayAttempt',
  'afterPayAttempt',
  'beforeQuery',
  'beforeReverse',
  'note',
  'acknowledge',
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

export type JournalWrite = (typeof JOURNAL_WRITES)[number];
export type SqliteWriteFailure = 'SQLITE_FULL' | 'SQLITE_IOERR';

/** Makes the writes `fails` picks throw; `restore()` puts the journal's own methods back. */
export function failJournalWrites(journal: Journal, fails: (write: JournalWrite) => SqliteWriteFailure | undefined): { restore: () => void } {
  const target = journal as unknown as Record<string, unknown>;
  for (const name of JOURNAL_WRITES) {
    const own = (journal[name] as (...args: unknown[]) => unknown).bind(journal);
    target[name] = (...args: unknown[]) => {
      const code = fails(name);
      if (!code) return own(...args);
      const cause = Object.assign(new Error(code === 'SQLITE_FULL' ? 'database or disk is full' : 'disk I/O error'), { code });
      throw new ScanpayError('JOURNAL_WRITE_FAILED', { message: `journal ${name} failed (${code}): nothing was sent`, cause });
    };
  }
  return { restore: () => JOURNAL_WRITES.forEach((name) => delete target[name]) };
}

/** Arms `failJournalWrites` from SCANPAY_JOURNAL_FAULTS (`RATE@SEED`), or does nothing. */
export function journalFaultsFromEnv(journal: Journal, env: NodeJS.ProcessEnv = process.env): void {
  const m = /^(0?\.\d+|1)@(\d+)$/.exec(env.SCANPAY_JOURNAL_FAULTS ?? '');
  if (!m) return;
  const rate = Number(m[1]);
  let seed = Number(m[2]) >>> 0 || 1;
  // xorshift32: the same seed fails the same writes, in the same order.
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  failJournalWrites(journal, (name) => {
    if (random() >= rate) return undefined;
    const code: SqliteWriteFailure = random() < 0.5 ? 'SQLITE_FULL' : 'SQLITE_IOERR';
    process.stderr.write(`journal fault injected: ${name} ${code}\n`);
    return code;
  });
}
