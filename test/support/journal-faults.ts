/**
 * A journal whose disk is full: every write fails as SQLITE_FULL makes the real journal
 * fail it (JOURNAL_WRITE_FAILED), reads still work; `restore()` gives the disk back.
 */
import { failJournalWrites } from '../../agent/journal-faults.ts';
import type { Journal } from '../../agent/journal/journal.ts';

export function fillDisk(journal: Journal): { writesRefused: () => number; restore: () => void } {
  let refused = 0;
  const { restore } = failJournalWrites(journal, () => (refused++, 'SQLITE_FULL'));
  return { writesRefused: () => refused, restore };
}
