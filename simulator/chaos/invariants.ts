/**
 * The money-safety verdict of a chaos run, order by order: the agent's journal, what the
 * POS was told, and the acquirer's ledger must agree. The double-charge and one-sided-entry
 * checks are the simulator's own (simulator/invariants.ts), so the chaos run, the QA page
 * and the fleet mean the same thing by "violation"; a chaos run also demands that nothing
 * is left unfinished, that "paid" means charged in full, and that the POS heard the truth.
 */
import type { OutboxRow, PaymentEvent, PaymentRow, RefundRow } from '../../agent/journal/journal.ts';
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
  /** Minor units the journal says were refunded (confirmed refunds) of a payment; default none. */
  refunded?: (orderNo: string) => number;
}

export function checkInvariants(e: Evidence): string[] {
  const byOrder = new Map(e.payments.map((p) => [p.order_no, p]));
  const byPos = new Map(e.payments.filter((p) => p.pos_order_id).map((p) => [p.pos_order_id!, p]));
  const net = new Map(e.acquirer.orders().map((o) => [o.orderNo, o.net]));
  const refunded = e.refunded ?? (() => 0);
  const violations = findViolations(e.acquirer, (orderNo) => byOrder.get(orderNo)).map((v) => `${v.orderNo}: ${v.message}`);

  for (const p of e.payments) {
    if (p.outcome === null) violations.push(`${p.order_no}: left unfinished in state ${p.state}`);
    else if (p.outcome === 'paid' && net.get(p.order_no) !== p.amount - refunded(p.order_no)) {
      const back = refunded(p.order_no) ? `, refunded ${refunded(p.order_no)}` : '';
      violations.push(`${p.order_no}: journal says paid ${p.amount}, ledger net ${net.get(p.order_no) ?? 0}${back}`);
    }
  }
  for (const told of e.told) {
    if (told.result === null) continue;
    const p = byPos.get(told.id) ?? (told.orderNo ? byOrder.get(told.orderNo) : undefined);
    const charged = p ? (net.get(p.order_no) ?? 0) : 0;
    if (told.result === 'paid' && (p?.outcome !== 'paid' || charged !== told.amount - refunded(p.order_no))) {
      violations.push(`${told.id}: POS was told paid, journal ${p?.outcome ?? 'has no such payment'}, ledger net ${charged}`);
    }
    if (told.result !== 'paid' && charged !== 0) violations.push(`${told.id}: POS was told ${told.result}, ledger net ${charged}`);
  }
  for (const item of e.outbox) {
    if (item.status !== 'done') violations.push(`outbox item ${item.id} (${item.kind} ${item.order_no}) left ${item.status}: ${item.last_error ?? ''}`);
  }
  return violations;
}

/** What the POS asked to refund and the last answer it saw. */
export interface ToldRefund {
  /** The POS order id of the payment. */
  id: string;
  refundId: string;
  /** Asked amount; undefined for "the rest". */
  amount?: number;
  /** The state the POS last saw, or the error code that refused the refund. */
  seen: string;
}

export interface Story {
  payment: PaymentRow;
  events: PaymentEvent[];
  refunds: RefundRow[];
}

const FINAL_STATES = new Set(['paid', 'declined', 'reversed']);

/**
 * Each payment's story in the journal (states, reasons, maybe-sent, refunds) against what
 * the acquirer recorded, not only net money: a payment the journal calls "never sent" was
 * never seen by the acquirer; one it calls declined was never charged; every refund the
 * journal calls refunded is in the ledger, and no other; the final state is said once.
 */
export function checkStories(stories: Story[], acquirer: Pick<SimBackend, 'orders' | 'ledger'>, toldRefunds: ToldRefund[] = [], told: Told[] = []): string[] {
  const v: string[] = [];
  const byOrder = new Map(stories.map((s) => [s.payment.order_no, s]));
  const orderOfPos = new Map(told.filter((t) => t.orderNo).map((t) => [t.id, t.orderNo!]));
  const orders = new Map(acquirer.orders().map((o) => [o.orderNo, o]));
  const ledger = acquirer.ledger();
  const byPos = new Map(stories.filter((s) => s.payment.pos_order_id).map((s) => [s.payment.pos_order_id!, s]));
  for (const { payment: p, events, refunds } of stories) {
    if (p.outcome === null) continue; // reported by checkInvariants
    const at = `${p.order_no} (${p.outcome}${p.reason_code ? ` ${p.reason_code}` : ''})`;
    const order = orders.get(p.order_no);
    const seen = order !== undefined && !order.tombstone;
    const entries = ledger.filter((e) => e.orderNo === p.order_no);
    const charged = entries.filter((e) => e.kind === 'charge');
    const refunded = entries.filter((e) => e.kind === 'refund').reduce((n, e) => n + e.amount, 0);

    if (events[0]?.cause !== 'created') v.push(`${at}: the journal's story does not start with its creation`);
    const finals = events.filter((e) => FINAL_STATES.has(e.state));
    if (finals.length === 0 || finals.some((e) => e.state !== p.outcome)) v.push(`${at}: the journal's final states ${JSON.stringify(finals.map((e) => e.state))} disagree with the outcome`);
    // Rule 1: written before sent. (maybe_sent itself may stay 0 when the write after the
    // answer failed: pay_in_flight, cleared only with it, keeps the same knowledge.) A
    // journal lost and rebuilt by `scanpay recover` begins its story at the recovery.
    const recovered = p.reason_code === 'RECOVERED';
    if (seen && !recovered && !events.some((e) => e.cause === 'pay-sent')) v.push(`${at}: the acquirer saw the pay (${order!.state}) but the journal never recorded sending it`);
    if ((p.reason_code === 'NOT_SENT' || (p.outcome === 'declined' && p.reason_code === 'CANCELLED')) && seen) v.push(`${at}: declined as never sent, but the acquirer has the order (${order!.state})`);
    if (charged.length > 1) v.push(`${at}: charged ${charged.length} times`);
    if (p.outcome === 'declined' && charged.length > 0) v.push(`${at}: declined, but the ledger has a charge`);
    if (p.outcome === 'paid') {
      const journalRefunded = refunds.filter((r) => r.state === 'refunded').reduce((n, r) => n + r.amount, 0);
      if (charged[0]?.amount !== p.amount) v.push(`${at}: paid ${p.amount}, the ledger charged ${charged[0]?.amount ?? 0}`);
      if (journalRefunded !== refunded) v.push(`${at}: the journal refunded ${journalRefunded}, the ledger ${refunded}`);
      if (entries.some((e) => e.kind === 'reversal')) v.push(`${at}: paid, but the ledger reversed it`);
    } else if (refunds.length > 0) {
      v.push(`${at}: refunds recorded for a payment that was not paid`);
    }
    for (const r of refunds) if (r.state === 'pending') v.push(`${at}: refund ${r.pos_refund_id} left pending`);
  }
  for (const t of toldRefunds) {
    const story = byPos.get(t.id) ?? byOrder.get(orderOfPos.get(t.id) ?? '');
    if (story?.payment.reason_code === 'RECOVERED') {
      // Rebuilt by `scanpay recover`: its refunds are known by the acquirer's numbers only.
      const known = story.refunds.some((x) => x.state === 'refunded' && (t.amount === undefined || x.amount === t.amount));
      if (t.seen === 'refunded' && !known) v.push(`${t.id}: the POS was told refund ${t.refundId} refunded, the recovered journal has no refund of ${t.amount ?? 'the rest'}`);
      continue;
    }
    const r = story?.refunds.find((x) => x.pos_refund_id === t.refundId);
    if ((t.seen === 'refunded' || t.seen === 'failed') && r?.state !== t.seen) v.push(`${t.id}: the POS was told refund ${t.refundId} ${t.seen}, the journal says ${r?.state ?? 'no such refund'}`);
  }
  return v;
}
