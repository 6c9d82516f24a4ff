/**
 * A payment's code is erased from the journal when the payment ends (journal.ts, with
 * secure_delete so the bytes are zeroed in the page), but in WAL mode earlier images of
 * that page stay in `journal.db-wal` until a checkpoint. Shortly after payments end this
 * folds the WAL into the database and truncates it, so the erased codes leave the disk
 * files too. A second connection does it (a checkpoint works from any connection); the
 * journal's own connection is never blocked for longer than one checkpoint.
 */
import Database from 'better-sqlite3';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';

export function scrubWal(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 1000');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** Coalesces: one checkpoint `delayMs` after the first payment that ends, however many end meanwhile. */
export function walScrubber(o: { path: string; clock: Clock; logger: Logger; delayMs?: number }): { poke(): void; stop(): void } {
  let timer: unknown;
  return {
    poke() {
      if (timer !== undefined) return;
      timer = o.clock.setTimeout(() => {
        timer = undefined;
        try {
          scrubWal(o.path);
        } catch (e) {
          // Busy or gone: the next payment to end tries again, and the next start always does.
          o.logger.debug({ errorCode: (e as { code?: string }).code }, 'WAL checkpoint skipped');
        }
      }, o.delayMs ?? 1000);
    },
    stop() {
      o.clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
