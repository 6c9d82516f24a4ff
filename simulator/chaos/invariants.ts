/**
 * The money-safety verdict of a chaos run, order by order: the agent's journal, what the
 * POS was told, and the acquirer's ledger must agree. The double-charge and one-sided-entry
 * checks are the simulator's own (simulator/invariants.ts), so the chaos run, the QA page
 * and the fleet mean the same thing by "violation"; a chaos run also demands that nothing
 * is left unfinished, that "paid" means charged in full, and that the POS heard the truth.
 */
import type { OutboxRow, PaymentRow } from '../../agent/journal/journal.ts';
import type { PosResult } from '../../agent/pos-payment.ts';
import type { SimBackend } from '../backend/build-backend.ts';
import { findViolations } from '../invariants.ts';

export interface Told {
  /** The POS order id. */
  id: string;
  amount: number;
  /** The final result the POS saw, or null when it never saw one. */
  result: PosResult | null;
  /** The acquirer order number, once the POS saw it: finds the payment after `scanpay recover` (no POS id then). */
  orderNo?: string;
}

export interface Evidence {
  payments: PaymentRow[];
  outbox: OutboxRow[];
  told: Told[];
  acquirer: Pick<SimBackend, 'audit' | 'orders'>;
}

export function checkInvariants(e: Evidence): string[] {
  const byOrder = new Map(e.payments.map((p) => [p.order_no, p]));
  const byPos = new Map(e.payments.filter((p) => p.pos_order_id).map((p) => [p.pos_order_id!, p]));
  const net = new Map(e.acquirer.orders().map((o) => [o.orderNo, o.net]));
  const violations = findViolations(e.acquirer, (orderNo) => byOrder.get(orderNo)).map((v) => `${v.orderNo}: ${v.message}`);

  for (const p of e.payments) {
    if (p.outcome === null) violations.push(`${p.order_no}: left unfinished in state ${p.state}`);
    else if (p.outcome === 'paid' && net.get(p.order_no) !== p.amount) violations.push(`${p.order_no}: journal says paid ${p.amount}, ledger net ${net.get(p.order_no) ?? 0}`);
  }
  for (const told of e.told) {
    if (told.result === null) continue;
    const p = byPos.get(told.id) ?? (told.orderNo ? byOrder.get(told.orderNo) : undefined);
    const charged = p ? (net.get(p.order_no) ?? 0) : 0;
    if (told.result === 'paid' && (p?.outcome !== 'paid' || charged !== told.amount)) {
      violations.push(`${told.id}: POS was told paid, journal ${p?.outcome ?? 'has no such payment'}, ledger net ${charged}`);
    }
    if (told.result !== 'paid' && charged !== 0) violations.push(`${told.id}: POS was told ${told.result}, ledger net ${charged}`);
  }
  for (const item of e.outbox) {
    if (item.status !== 'done') violations.push(`outbox item ${item.id} (${item.kind} ${item.order_no}) left ${item.status}: ${item.last_error ?? ''}`);
  }
  return violations;
}
