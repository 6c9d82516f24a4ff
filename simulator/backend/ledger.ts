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

export class Ledger {
  readonly #rows: LedgerRows | undefined;
  #entries: LedgerEntry[];

  /** `rows` keeps the entries beyond the process (backend-store.ts); without it they live in memory. */
  constructor(rows?: LedgerRows) {
    this.#rows = rows;
    this.#entries = rows?.load() ?? [];
  }

  append(entry: Omit<LedgerEntry, 'seq'>): LedgerEntry {
    const e = { seq: this.#entries.length + 1, ...entry };
    this.#rows?.append(e);
    this.#entries.push(e);
    return e;
  }

  entries(): LedgerEntry[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /** Charges, net of reversals and refunds, for one order. */
  totals(orderNo: string): { charged: number; refunded: number; net: number } {
    let charged = 0;
    let refunded = 0;
    for (const e of this.#entries) {
      if (e.orderNo !== orderNo) continue;
      if (e.kind === 'charge') charged += e.amount;
      else refunded += e.amount;
    }
    return { charged, refunded, net: charged - refunded };
  }

  /**
   * `rawCodes` maps order numbers to their unmasked codes, so that two orders charged on
   * one code are caught even when their masks collide.
   */
  audit(orderCount: number, rawCodes: ReadonlyMap<string, string>): LedgerAudit {
    const chargesByOrder = new Map<string, number>();
    const chargesByCode = new Map<string, { masked: string; n: number }>();
    let charged = 0;
    let undone = 0;
    for (const e of this.#entries) {
      if (e.kind !== 'charge') {
        undone += e.amount;
        continue;
      }
      charged += e.amount;
      chargesByOrder.set(e.orderNo, (chargesByOrder.get(e.orderNo) ?? 0) + 1);
      const raw = rawCodes.get(e.orderNo) ?? e.code;
      const c = chargesByCode.get(raw) ?? { masked: e.code, n: 0 };
      c.n += 1;
      chargesByCode.set(raw, c);
    }
    const doubleCharges = [
      ...[...chargesByOrder].filter(([, n]) => n > 1).map(([orderNo]) => `order:${orderNo}`),
      ...[...chargesByCode.values()].filter((c) => c.n > 1).map((c) => `code:${c.masked}`),
    ];
    return { orders: orderCount, charged, netCharged: charged - undone, doubleCharges };
  }

  clear(): void {
    this.#rows?.clear();
    this.#entries = [];
  }
}
