/**
 * The pages an instant payment writes (issue 18): its two commits, the new payment with its
 * first pay's write and the answer with "paid", counted as WAL frames (one a page). Each index
 * a payment touches is a frame per commit; this fails when one comes back unnoticed.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';
import { newPayment } from '../support/new-payment.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-pages-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** WAL header of a frame plus a page of the default size. */
const FRAME = 24 + 4096;

it('an instant payment writes about 8 pages with its first pay and 3 with its answer and "paid"', () => {
  const path = join(dir, 'journal.db');
  const j = Journal.open(path);
  const wal = () => statSync(`${path}-wal`).size;
  const frames = { created: 0, paid: 0 };
  const n = 40;
  try {
    for (let i = 0; i < n + 5; i++) {
      const at = 1_000 + i;
      const orderNo = `T1260101000000${String(i).padStart(4, '0')}`;
      const before = wal();
      j.atomically(() => {
        j.createPayment(newPayment({ orderNo, posOrderId: `pos-${i}`, code: `1345678901234${String(50_000 + i)}`, traceId: `trace-${i}`, createdAt: at }));
        j.beforePayAttempt(orderNo, at);
      }, 'lazy');
      const sent = wal();
      j.atomically(() => {
        j.afterPayAttempt(orderNo, at + 1, true, 'pay SUCCESS');
        j.acknowledge(orderNo, at + 1, 'submitting');
        j.finish(orderNo, 'paid', at + 1, 'paid', {}, undefined, 'grouped');
      }, 'grouped');
      // The first few build the trees' upper levels.
      if (i < 5) continue;
      frames.created += (sent - before) / FRAME;
      frames.paid += (wal() - sent) / FRAME;
    }
  } finally {
    j.close();
  }
  // Leaves: the payment, its order number, POS id, code hash, creation time and no-batch-yet
  // indexes, the event and its index; then the payment, the event and its index. Plus splits.
  expect(frames.created / n).toBeLessThanOrEqual(8.75);
  expect(frames.paid / n).toBeLessThanOrEqual(3.5);
});
