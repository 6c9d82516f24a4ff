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

/**
 * Coalesces: one checkpoint once payments pause for `delayMs` after the last one that ended,
 * and at least every `maxWaitMs` while they do not. A checkpoint on a fresh connection costs
 * milliseconds on the event loop; run after every second of steady trade it was ~4 ms per
 * payment at high rates (docs/performance.md), so a busy lane waits for the pause instead.
 */
export function walScrubber(o: { path: string; clock: Clock; logger: Logger; delayMs?: number; maxWaitMs?: number }): { poke(): void; stop(): void } {
  const delayMs = o.delayMs ?? 1000;
  const maxWaitMs = o.maxWaitMs ?? 30_000;
  let timer: unknown;
  let firstAt = 0;
  let lastAt = 0;
  const fire = () => {
    const now = o.clock.now();
    const due = Math.min(lastAt + delayMs, firstAt + maxWaitMs);
    if (now < due) {
      timer = o.clock.setTimeout(fire, due - now);
      return;
    }
    timer = undefined;
    try {
      scrubWal(o.path);
    } catch (e) {
      // Busy or gone: the next payment to end tries again, and the next start always does.
      o.logger.debug({ errorCode: (e as { code?: string }).code }, 'WAL checkpoint skipped');
    }
  };
  return {
    poke() {
      lastAt = o.clock.now();
      if (timer !== undefined) return;
      firstAt = lastAt;
      timer = o.clock.setTimeout(fire, delayMs);
    },
    stop() {
      o.clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
