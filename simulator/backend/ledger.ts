/**
 * Every movement of the customer's money in the simulated backend: charges, reversals
 * (refund of a paid order by reverse) and refunds. Tests read it as the oracle: whoever
 * was charged, and whether the charge was undone.
 */
import type { Wallet } from '../../agent/payment-code.ts';
import type { LedgerRows } from './backend-store.ts';

export type LedgerKind = 'charge' | 'reversal' | 'refund';

export interface LedgerEntry {
  seq: number;
  at: number;
  kind: LedgerKind;
  orderNo: string;
  /** Minor units, always positive; `kind` says which way the money moved. */
  amount: number;
  currency: string;
  wallet: Wallet;
  /** The payment code, masked (maskCode). */
  code: string;
  refundNo?: string;
}

export interface LedgerAudit {
  orders: number;
  /** Sum of all charges, minor units (all currencies added up: the simulator's tests use one). */
  charged: number;
  /** Charges minus reversals and refunds. */
  netCharged: number;
  /** `order:<orderNo>` or `code:<masked code>` for anything charged more than once. */
  doubleCharges: string[];
}

/** The ledger on disk (backend-store.ts): nothing of it is held between calls. */
export class Ledger {
  readonly #rows: LedgerRows;
  #seq: number;

  constructor(rows: LedgerRows) {
    this.#rows = rows;
    this.#seq = rows.lastSeq();
  }

  /** `rawCode` is the unmasked payment code, kept for the audit only. */
  append(entry: Omit<LedgerEntry, 'seq'>, rawCode: string): LedgerEntry {
    const e = { seq: this.#seq + 1, ...entry };
    this.#rows.append(e, rawCode);
    this.#seq = e.seq;
    return e;
  }

  entries(): LedgerEntry[] {
    return this.#rows.all();
  }

  /** The newest `n` entries, oldest first. */
  last(n: number): LedgerEntry[] {
    return this.#rows.last(n);
  }

  /** Charges, net of reversals and refunds, for one order. */
  totals(orderNo: string): { charged: number; refunded: number; net: number } {
    const { charged, refunded } = this.#rows.totals(orderNo);
    return { charged, refunded, net: charged - refunded };
  }

  /** Two orders charged on one code are caught by the raw code, even when their masks collide. */
  audit(orderCount: number): LedgerAudit {
    const a = this.#rows.audit();
    const doubleCharges = [...a.ordersChargedTwice.map((o) => `order:${o}`), ...a.codesChargedTwice.map((c) => `code:${c}`)];
    return { orders: orderCount, charged: a.charged, netCharged: a.charged - a.undone, doubleCharges };
  }

  clear(): void {
    this.#rows.clear();
    this.#seq = 0;
  }
}
