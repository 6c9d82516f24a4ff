/**
 * Where a payment found unfinished in the journal goes on after a restart; the wait it was
 * in (`next_action_at`) is kept.
 */
import type { Journal, PaymentRow } from '../journal/journal.ts';
import type { Logger } from '../log.ts';
import { enqueueReversal } from './engine-core.ts';
import type { ResumeAt } from './payment.machine.ts';

export interface ResumeHooks {
  journal: Journal;
  log: Logger;
  now: number;
  run(row: PaymentRow, resume: ResumeAt, waitMs: number): void;
  changed(orderNo: string): void;
}

export function resumePayment(row: PaymentRow, h: ResumeHooks): void {
  const { journal, now } = h;
  const waitLeft = Math.max(0, (row.next_action_at ?? now) - now);
  switch (row.state) {
    case 'reversal_queued':
      // The outbox holds the reversal; make sure it does (enqueue is idempotent).
      enqueueReversal(journal, row.order_no, now);
      return;
    case 'reversing':
      return h.run(row, 'reverse', 0);
    case 'querying':
      return h.run(row, 'query', waitLeft);
    case 'submitting':
    case 'waiting_network': {
      if (row.pay_in_flight) {
        // Killed while a pay was on its way: it may have arrived.
        journal.afterPayAttempt(row.order_no, now, true, 'recovered: pay may have arrived before the restart');
        return h.run(row, 'query', 0);
      }
      if (row.maybe_sent) return h.run(row, 'query', 0);
      if (row.cancel_requested || now >= row.code_expires_at) {
        journal.finish(row.order_no, 'declined', now, 'recovered: never sent', {
          reason_code: row.cancel_requested ? 'CANCELLED' : 'NOT_SENT',
          reason_message: 'the payment never reached the backend; the customer was not charged',
        });
        h.changed(row.order_no);
        return;
      }
      if (row.state === 'waiting_network') return h.run(row, 'waitNetwork', Math.min(waitLeft, row.code_expires_at - now));
      return h.run(row, 'submit', 0);
    }
    default:
      h.log.error({ orderNo: row.order_no, state: row.state }, 'unfinished payment in an unexpected state');
  }
}
