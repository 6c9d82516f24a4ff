/**
 * The two things a payment system must never do, checked against the acquirer's ledger
 * (the oracle) and what the agent told the merchant: charge a customer twice, and leave a
 * one-sided entry (单边账): money taken while the merchant was not told "paid" and the
 * charge was not undone. Used by the desktop simulator's alarm, the scenario runner and
 * the fleet run, so all three mean the same thing by "violation".
 */
import type { SimBackend } from './backend/build-backend.ts';

export interface Violation {
  kind: 'double-charge' | 'one-sided';
  orderNo: string;
  message: string;
}

/** What the agent says about an order: `paid`, another final outcome, or null while under way. */
export type AgentOutcome = (orderNo: string) => { outcome: string | null } | undefined;

export function findViolations(sim: Pick<SimBackend, 'audit' | 'orders'>, agentOutcome: AgentOutcome): Violation[] {
  const out: Violation[] = sim.audit().doubleCharges.map((d) => ({ kind: 'double-charge' as const, orderNo: d.replace(/^\w+:/, ''), message: `charged more than once (${d})` }));
  for (const o of sim.orders()) {
    if (o.net <= 0) continue;
    const agent = agentOutcome(o.orderNo);
    // Still under way: the agent may yet learn it was paid, or reverse it.
    if (agent && agent.outcome === null) continue;
    if (agent?.outcome === 'paid') continue;
    out.push({
      kind: 'one-sided',
      orderNo: o.orderNo,
      message: `charged ${o.net} but the agent ${agent ? `ended it ${agent.outcome}` : 'has no such payment'}: one-sided entry`,
    });
  }
  return out;
}
