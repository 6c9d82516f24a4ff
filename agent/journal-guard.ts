/**
 * The journal's identity and high-water mark, kept outside it, so that a device that has
 * taken payments never starts from an empty or shortened journal without a loud step.
 *
 * `journal.db` (or its `-wal`, where a crash may leave every recent row) deleted, emptied
 * or replaced gives SQLite a fresh database: the payments that charged customers, and the
 * duplicate-code guard, are gone. The identity is a keyed hash of the journal's random
 * code salt (created with the database, never shown); the mark is the last payment it
 * recorded. Both live in `$SCANPAY_HOME/journal-mark.json` (owner-only, atomic replace)
 * and, through the heartbeat, at the backend. At start the agent refuses a journal that
 * disagrees with either (JOURNAL_IDENTITY_MISMATCH, JOURNAL_ROLLED_BACK); `scanpay recover`
 * asks the acquirer for the terminal's orders since `recoverSince`, settles each one, and
 * adopts the journal it recovered into.
 */
import Database from 'better-sqlite3';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic-file.ts';
import type { Clock } from './clock.ts';
import { ScanpayError } from './errors.ts';
import type { Journal } from './journal/journal.ts';
import type { Logger } from './log.ts';
import type { JournalMarkReport } from './protocol/device-messages.ts';

export interface JournalMark {
  journalId: string;
  /** When this journal was first seen. */
  createdAt: number;
  /** The newest payment recorded, by creation time. */
  lastOrderNo: string | null;
  lastAt: number | null;
  /** Where `scanpay recover` starts asking: the oldest payment that may still be unsettled. */
  recoverSince: number;
  updatedAt: number;
  /** Set by `scanpay recover`: the journal it replaced (the backend may still name that one). */
  replaced?: { journalId: string; at: number; orders: number };
  /** The backend named another journal: every start is refused until `scanpay recover`. */
  conflict?: { code: 'JOURNAL_IDENTITY_MISMATCH' | 'JOURNAL_ROLLED_BACK'; message: string; at: number; backendJournalId: string };
}

/** A payment's lifetime before it is final, in the worst case of the profiles: recovery looks this far before a settled batch. */
const SETTLE_MARGIN_MS = 3_600_000;
/** The mark moves with each new payment, written at most this often. */
const WRITE_EVERY_MS = 1_000;

export const markPath = (home: string) => join(home, 'journal-mark.json');

const IDENTITY_INPUT = 'scanpay:journal-identity';

/** Stable for the life of the journal file, different for any other. Reveals nothing of the salt. */
export function journalIdOf(journal: Pick<Journal, 'codeHash'>): string {
  return journal.codeHash(IDENTITY_INPUT).slice(0, 32);
}

/**
 * For `scanpay doctor`, beside a running agent: reads the journal read-only (no migration,
 * no checkpoint) and compares it with its mark. Same hash as Journal.codeHash.
 */
export function inspectJournalIdentity(home: string, journalPath: string): { ok: boolean; detail: string } {
  const mark = readMark(home);
  if (!mark) return { ok: true, detail: `no ${markPath(home)} yet: written when \`scanpay run\` first starts` };
  if (mark.conflict) return { ok: false, detail: `${mark.conflict.code}: ${mark.conflict.message}` };
  if (!existsSync(journalPath)) return { ok: false, detail: `${journalPath} is missing, but this device recorded payments (last: ${mark.lastOrderNo ?? 'none'})` };
  const db = new Database(journalPath, { readonly: true, fileMustExist: true });
  try {
    const salt = db.prepare("SELECT value FROM meta WHERE key = 'code_salt'").get() as { value: string } | undefined;
    const id = salt ? createHmac('sha256', Buffer.from(salt.value, 'hex')).update(IDENTITY_INPUT).digest('hex').slice(0, 32) : undefined;
    if (id !== mark.journalId) return { ok: false, detail: `${journalPath} is not the journal this device recorded its payments in (deleted, emptied or replaced)` };
    const last = mark.lastOrderNo && db.prepare('SELECT 1 FROM payments WHERE order_no = ?').get(mark.lastOrderNo);
    if (mark.lastOrderNo && !last) return { ok: false, detail: `${journalPath} no longer holds payment ${mark.lastOrderNo} (its -wal lost?)` };
    return { ok: true, detail: `journal ${mark.journalId.slice(0, 12)}…, last payment ${mark.lastOrderNo ?? 'none'}${mark.replaced ? `; recovered ${new Date(mark.replaced.at).toISOString()} (${mark.replaced.orders} orders)` : ''}` };
  } catch (e) {
    // No meta table: an empty file where the journal was.
    return { ok: false, detail: `${journalPath} cannot be read as this device's journal (${(e as Error).message})` };
  } finally {
    db.close();
  }
}

export function readMark(home: string): JournalMark | undefined {
  try {
    return JSON.parse(readFileSync(markPath(home), 'utf8')) as JournalMark;
  } catch {
    return undefined;
  }
}

export function writeMark(home: string, mark: JournalMark): void {
  writeFileAtomic(markPath(home), markText(mark), 0o600);
}

const markText = (mark: JournalMark) => `${JSON.stringify(mark, null, 2)}\n`;

/** The mark as the journal stands now. */
export function markOf(journal: Journal, base: Pick<JournalMark, 'journalId' | 'createdAt'> & { replaced?: JournalMark['replaced'] }, now: number): JournalMark {
  const last = journal.listPayments({ limit: 1 })[0];
  const oldestOpen = journal.unfinished()[0]?.created_at ?? Number.POSITIVE_INFINITY;
  const settled = journal.settlements(1)[0];
  const base0 = settled ? Math.max(base.createdAt, settled.closed_at - SETTLE_MARGIN_MS) : base.createdAt;
  return {
    ...base,
    lastOrderNo: last?.order_no ?? null,
    lastAt: last?.created_at ?? null,
    recoverSince: Math.min(base0, oldestOpen),
    updatedAt: now,
  };
}

function recoveryStep(home: string): string {
  return `stop taking payments, keep every file in ${home} (journal.db, journal.db-wal, journal-mark.json) and run \`scanpay recover\``;
}

/**
 * At start, before anything else touches the journal: the mark is recorded on first use
 * (or adopted from a journal written before marks existed); a journal that disagrees with
 * it is refused with the technician's step.
 */
export function checkJournal(home: string, journal: Journal, clock: Clock): JournalMark {
  const journalId = journalIdOf(journal);
  const mark = readMark(home);
  const now = clock.now();
  if (!mark) {
    // A journal written before marks existed is adopted as it stands.
    const fresh = markOf(journal, { journalId, createdAt: journal.listPayments().at(-1)?.created_at ?? now }, now);
    writeMark(home, fresh);
    return fresh;
  }
  const detail = { journal: journal.path, expectedJournalId: mark.journalId, foundJournalId: journalId, lastOrderNo: mark.lastOrderNo, lastAt: mark.lastAt };
  if (mark.conflict) throw new ScanpayError(mark.conflict.code, { message: mark.conflict.message, detail });
  if (mark.journalId !== journalId) {
    throw new ScanpayError('JOURNAL_IDENTITY_MISMATCH', {
      message: `the journal at ${journal.path} is not the one this device recorded its payments in (its last: ${mark.lastOrderNo ?? 'none'}): it was deleted, emptied or replaced. Payments that charged customers may be forgotten: ${recoveryStep(home)}`,
      detail,
    });
  }
  if (mark.lastOrderNo && !journal.getPayment(mark.lastOrderNo)) {
    throw new ScanpayError('JOURNAL_ROLLED_BACK', {
      message: `the journal at ${journal.path} no longer holds payment ${mark.lastOrderNo}, which it had recorded (its -wal file deleted, or an old copy restored): ${recoveryStep(home)}`,
      detail,
    });
  }
  return mark;
}

export interface JournalGuardOptions {
  home: string;
  journal: Journal;
  clock: Clock;
  logger: Logger;
  mark: JournalMark;
}

/**
 * While the agent runs: moves the mark with each new payment, tells the backend (heartbeat
 * `journal`), and compares with what the backend last heard, so a journal lost together
 * with its mark file is still caught.
 */
export class JournalGuard {
  readonly #o: JournalGuardOptions;
  #mark: JournalMark;
  #writtenAt = Number.NEGATIVE_INFINITY;
  #timer: unknown;
  #conflict: ScanpayError | undefined;
  /** The mark's asynchronous writes, one after another. */
  #writing: Promise<void> = Promise.resolve();
  #writesUnderWay = 0;
  /** The backend has not yet said which journal it knows: until it does, this one is not reported (it would overwrite the evidence). */
  #confirmed = false;

  constructor(o: JournalGuardOptions) {
    this.#o = o;
    this.#mark = o.mark;
  }

  /** engine.onChange: a payment newer than the mark moves it. */
  note(p: { orderNo: string; createdAt: number }): void {
    if (p.orderNo === this.#mark.lastOrderNo || (this.#mark.lastAt !== null && p.createdAt < this.#mark.lastAt)) return;
    this.#mark = { ...this.#mark, lastOrderNo: p.orderNo, lastAt: p.createdAt };
    if (this.#timer !== undefined) return;
    const wait = this.#writtenAt + WRITE_EVERY_MS - this.#o.clock.now();
    if (wait <= 0) void this.flush();
    else this.#timer = this.#o.clock.setTimeout(() => void this.flush(), wait);
  }

  /**
   * Writes the mark as the journal stands now, off the event loop (it was a synchronous
   * fsync on the loop once a second while payments ran). The journal is synced first, lazy
   * writes too: a payment is created with a lazy commit, and a mark on disk naming a row a
   * power cut then took would refuse the next start (JOURNAL_ROLLED_BACK) for a payment
   * that never left the device. One write at a time; a failed write is logged and the next
   * payment's flush tries again.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#o.clock.now();
    this.#writtenAt = now;
    // Read before the sync: a payment created while it runs is not covered by it.
    const next = markOf(this.#o.journal, this.#mark, now);
    this.#mark = this.#withConflict(next);
    const write = async () => {
      await this.#o.journal.syncedAll();
      // A conflict found meanwhile (backendSaid) is kept, never overwritten.
      await writeFileAtomicAsync(markPath(this.#o.home), markText(this.#withConflict(next)), 0o600);
    };
    this.#writesUnderWay += 1;
    const done = this.#writing
      .then(write)
      .catch((err: unknown) => this.#o.logger.error({ err }, 'cannot write the journal mark; the next payment tries again'))
      .finally(() => (this.#writesUnderWay -= 1));
    this.#writing = done;
    return done;
  }

  /** `mark` with the conflict the backend reported, if any: once found it is never dropped from the file. */
  #withConflict(mark: JournalMark): JournalMark {
    return { ...mark, ...(this.#mark.conflict ? { conflict: this.#mark.conflict } : {}) };
  }

  /** For the heartbeat: nothing until the backend's view agreed with ours. */
  report(): JournalMarkReport | undefined {
    if (!this.#confirmed || this.#conflict) return undefined;
    return { journalId: this.#mark.journalId, lastOrderNo: this.#mark.lastOrderNo, lastAt: this.#mark.lastAt };
  }

  /** What the backend knew before this heartbeat; a disagreement is remembered and logged. */
  backendSaid(known: JournalMarkReport | undefined): void {
    if (this.#conflict) return;
    if (!known) {
      this.#confirmed = true;
      return;
    }
    const ours = known.journalId === this.#mark.journalId;
    const replaced = known.journalId === this.#mark.replaced?.journalId;
    if (!ours && !replaced) {
      this.#conflict = new ScanpayError('JOURNAL_IDENTITY_MISMATCH', {
        message: `the backend last heard of another journal on this terminal (its last payment: ${known.lastOrderNo ?? 'none'}): this device's journal was replaced. ${recoveryStep(this.#o.home)}`,
        detail: { backendJournalId: known.journalId, journalId: this.#mark.journalId, lastOrderNo: known.lastOrderNo },
      });
    } else if (ours && known.lastOrderNo && !this.#o.journal.getPayment(known.lastOrderNo)) {
      this.#conflict = new ScanpayError('JOURNAL_ROLLED_BACK', {
        message: `the backend heard of payment ${known.lastOrderNo} from this journal, which no longer holds it: ${recoveryStep(this.#o.home)}`,
        detail: { lastOrderNo: known.lastOrderNo },
      });
    } else {
      this.#confirmed = true;
      return;
    }
    this.#o.logger.error({ code: this.#conflict.code, ...this.#conflict.detail }, this.#conflict.message);
    // Remembered on disk: a later start with the backend out of reach is refused too. Now,
    // and again after a mark write under way, which may have been made without it.
    this.#mark = { ...this.#mark, conflict: { code: this.#conflict.code as 'JOURNAL_IDENTITY_MISMATCH', message: this.#conflict.message, at: this.#o.clock.now(), backendJournalId: known.journalId } };
    writeMark(this.#o.home, this.#mark);
    if (this.#writesUnderWay > 0) this.#writing = this.#writing.then(() => writeMark(this.#o.home, this.#mark)).catch((err: unknown) => this.#o.logger.error({ err }, 'cannot write the journal mark'));
  }

  /** The disagreement with the backend, if any: `doctor` and the start-up check read it. */
  get conflict(): ScanpayError | undefined {
    return this.#conflict;
  }

  /** Writes a mark still waiting for its timer, and waits for every write under way. */
  stop(): Promise<void> {
    return this.#timer !== undefined ? this.flush() : this.#writing;
  }
}

/** The daemon's wiring: checks the journal at start and moves the mark with every new payment. */
export function guardJournal(o: Omit<JournalGuardOptions, 'mark'>, engine: { onChange(l: (p: { orderNo: string; createdAt: number }) => void): unknown }): JournalGuard {
  const guard = new JournalGuard({ ...o, mark: checkJournal(o.home, o.journal, o.clock) });
  engine.onChange((p) => guard.note(p));
  return guard;
}

/**
 * The start-up check against the backend's view, for a provisioned terminal: one heartbeat
 * (which carries the backend's view to `backendSaid`), bounded in time. A backend out of
 * reach does not stop the start: the local mark has already been checked.
 */
export async function confirmWithBackend(guard: JournalGuard, heartbeat: () => Promise<unknown>, clock: Clock, logger: Logger, timeoutMs = 3_000): Promise<void> {
  let timer: unknown;
  const timeout = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const r = await Promise.race([heartbeat().then(() => 'ok' as const, (e: unknown) => e), timeout]);
    if (r !== 'ok') logger.warn({ reason: r === 'timeout' ? 'timeout' : (r as Error).message }, 'journal identity not confirmed with the backend at start (checked locally); the next heartbeat compares');
  } finally {
    clock.clearTimeout(timer);
  }
  if (guard.conflict) throw guard.conflict;
}
