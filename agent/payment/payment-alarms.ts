/**
 * The device's own faults as they touch a payment, in words for the cashier: the acquirer
 * forgot an order it had acknowledged, a reversal or refund that has waited past its
 * maximum age, a journal that cannot be written. Each alarm carries a stable code from
 * agent/errors.ts, so a POS can act on it; the words are for the screen. Pure: the engine
 * reads the journal and passes the rows in.
 */
import type { ErrorCode } from '../errors.ts';
import type { OutboxRow, PaymentRow } from '../journal/journal.ts';

export interface Alarm {
  code: ErrorCode;
  message: string;
}

const DAY_MS = 24 * 3600_000;

/** The alarms of one payment; `writeFault` is the journal's standing write failure, if any. */
export function paymentAlarms(row: PaymentRow, pending: readonly OutboxRow[], writeFault: { detail?: Record<string, unknown> | undefined } | undefined): Alarm[] {
  const alarms: Alarm[] = [];
  if (writeFault && row.outcome === null) alarms.push({ code: 'JOURNAL_WRITE_FAILED', message: storageWords(writeFault) });
  if (row.contradiction_at !== null && row.outcome === null) {
    alarms.push({
      code: 'BACKEND_ORDER_FORGOTTEN',
      message: 'The acquirer no longer knows this payment after it had received it: it is being reversed to be sure. Do not hand over the goods; call the technician.',
    });
  }
  for (const item of pending) {
    if (item.overdue_at === null) continue;
    const what = item.kind === 'reverse' ? 'The reversal' : 'The refund';
    alarms.push({
      code: 'PAY_FOLLOW_UP_OVERDUE',
      message: `${what} has not reached the acquirer for over ${Math.max(1, Math.floor(item.age_ms / DAY_MS))} day(s): the customer may still be charged. It is still being tried; call the technician.`,
    });
  }
  return alarms;
}

/** A journal write failure in cashier words: the SQLite result code says which. */
export function storageWords(fault: { detail?: Record<string, unknown> | undefined }): string {
  const code = String(fault.detail?.sqliteCode ?? '');
  if (code.startsWith('SQLITE_FULL')) return "The terminal's storage is full: payments cannot be saved. Nothing is lost; call the technician to free space.";
  if (code.startsWith('SQLITE_IOERR')) return "The terminal's storage failed to write: payments cannot be saved. Nothing is lost; call the technician.";
  return 'The terminal cannot save payments right now (storage read-only or busy). Nothing is lost; call the technician.';
}

/** What the journal holds that needs a person, counted for the metric, GET /v1/agent and `doctor`. */
export interface AlarmCounts {
  /** 1 while journal writes fail (disk full, the size cap, an I/O error). */
  journal_write_failed: number;
  /** Reversals and refunds past their maximum age, still being tried. */
  follow_up_overdue: number;
  /** Unfinished payments whose order the acquirer forgot after acknowledging it. */
  order_forgotten: number;
}

/** The part of the journal the counts read. */
export interface AlarmSource {
  writeFault: { detail?: Record<string, unknown> | undefined } | undefined;
  outbox(status: 'pending'): OutboxRow[];
  unfinished(): PaymentRow[];
}

export function alarmCounts(journal: AlarmSource): AlarmCounts {
  return {
    journal_write_failed: journal.writeFault ? 1 : 0,
    follow_up_overdue: journal.outbox('pending').filter((o) => o.overdue_at !== null).length,
    order_forgotten: journal.unfinished().filter((p) => p.contradiction_at !== null).length,
  };
}

/** The same, in words for the cashier's screen (GET /v1/agent `deviceAlarms`). */
export function deviceAlarmWords(journal: AlarmSource): string[] {
  const n = alarmCounts(journal);
  return [
    ...(journal.writeFault ? [storageWords(journal.writeFault)] : []),
    ...(n.follow_up_overdue ? [`${n.follow_up_overdue} reversal(s) or refund(s) have not reached the acquirer for days: customers may still be charged. They are still being tried; call the technician.`] : []),
    ...(n.order_forgotten ? [`The acquirer lost track of ${n.order_forgotten} payment(s) it had received: they are being reversed to be sure. Call the technician.`] : []),
  ];
}
