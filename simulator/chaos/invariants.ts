/**
 * The money-safety verdict of a chaos run, order by order: the agent's journal, what the
 * POS was told, and the acquirer's ledger must agree. Pure: it takes the three records
 * and returns every violation in words.
 */
import type { PaymentRow, OutboxRow } from '../../agent/journal/journal.ts';
import type { PosResult } from '../../agent/pos-payment.ts';
import type { LedgerEntry } from '../backend/ledger.ts';

export interface Told {
  /** The POS order id. */
  id: string;
  amount: number;
  /** The final result the POS saw, or null when it never saw one. */
  result: PosResult | null;
}

export interface Evidence {
  payments: PaymentRow[];
  outbox: OutboxRow[];
  told: Told[];
  ledger: LedgerEntry[];
  /** Orders the acquirer itself flags as charged more than once. */
  doubleCharges: string[];
}

export function checkInvariants(e: Evidence): string[] {
  const violations: string[] = [];
  const byOrder = new Map<string, { charges: number; net: number }>();
  for (const l of e.ledger) {
    const t = byOrder.get(l.orderNo) ?? { charges: 0, net: 0 };
    if (l.kind === 'charge') {
      t.charges++;
      t.net += l.amount;
    } else t.net -= l.amount;
    byOrder.set(l.orderNo, t);
  }
  const journalByOrder = new Map(e.payments.map((p) => [p.order_no, p]));
  const journalByPos = new Map(e.payments.filter((p) => p.pos_order_id).map((p) => [p.pos_order_id!, p]));

  for (const d of e.doubleCharges) violations.push(`double charge flagged by the acquirer: ${d}`);
  for (const [orderNo, t] of byOrder) {
    const p = journalByOrder.get(orderNo);
    if (t.charges > 1) violations.push(`${orderNo}: charged ${t.charges} times`);
    if (!p && t.net !== 0) violations.push(`${orderNo}: charged ${t.net} but unknown to the agent's journal`);
  }
  for (const p of e.payments) {
    const t = byOrder.get(p.order_no) ?? { charges: 0, net: 0 };
    if (p.outcome === null) violations.push(`${p.order_no}: left unfinished in state ${p.state}`);
    else if (p.outcome === 'paid' && t.net !== p.amount) violations.push(`${p.order_no}: journal says paid ${p.amount}, ledger net ${t.net}`);
    else if (p.outcome !== 'paid' && t.net !== 0) violations.push(`${p.order_no}: one-sided entry: journal says ${p.outcome}, ledger net ${t.net}`);
  }
  for (const told of e.told) {
    if (told.result === null) continue;
    const p = journalByPos.get(told.id);
    const net = p ? (byOrder.get(p.order_no)?.net ?? 0) : 0;
    if (told.result === 'paid' && (!p || p.outcome !== 'paid' || net !== told.amount)) {
      violations.push(`${told.id}: POS was told paid, journal ${p?.outcome ?? 'has no such payment'}, ledger net ${net}`);
    }
    if (told.result !== 'paid' && net !== 0) violations.push(`${told.id}: POS was told ${told.result}, ledger net ${net}`);
  }
  for (const item of e.outbox) {
    if (item.status !== 'done') violations.push(`outbox item ${item.id} (${item.kind} ${item.order_no}) left ${item.status}: ${item.last_error ?? ''}`);
  }
  return violations;
}
