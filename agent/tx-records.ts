/** A finished payment as the acquirer's records want it (protocol `/v1/upload`). */
import type { Journal, PaymentRow } from './journal/journal.ts';
import type { TxRecord } from './protocol/device-messages.ts';

/**
 * `batchNo` set: the record as part of that settlement batch, whose refunds are only
 * those confirmed in it; a payment from an earlier batch is then marked `carried`.
 */
export function txRecordOf(journal: Journal, row: PaymentRow, batchNo?: string): TxRecord {
  const refunds = journal
    .refundsOf(row.order_no)
    .filter((r) => r.state === 'refunded' && (batchNo === undefined || r.batch_no === batchNo))
    .map((r) => ({ refundNo: r.refund_no, amount: r.amount }));
  return {
    orderNo: row.order_no,
    wallet: row.wallet,
    amount: row.amount,
    currency: row.currency,
    outcome: row.outcome!,
    refunded: refunds.reduce((n, r) => n + r.amount, 0),
    refunds,
    finalAt: row.final_at ?? row.updated_at,
    ...(batchNo ? { batchNo, carried: row.batch_no !== batchNo } : {}),
  };
}
