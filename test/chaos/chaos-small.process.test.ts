/**
 * A small chaos run as part of `npm test`: the real daemon, SIGKILLs and crash points,
 * network and acquirer faults; every invariant must hold. The large run is documented in
 * docs/security.md and run with `npm run chaos -- --payments 2000`.
 */
import { describe, expect, it } from 'vitest';
import { checkInvariants } from '../../simulator/chaos/invariants.ts';
import { runChaos } from '../../simulator/chaos/chaos-run.ts';

describe('chaos', () => {
  it('survives kills and faults with zero violations', async () => {
    const r = await runChaos({ payments: 20, seed: 7, lanes: 4, killEveryMs: [1_500, 3_000] });
    expect(r.violations).toEqual([]);
    expect(r.payments).toBe(20);
    expect(r.kills).toBeGreaterThanOrEqual(2);
    expect(r.told.unknown).toBe(0);
    expect(r.told.paid + r.told.declined + r.told.not_charged + r.refusals.length).toBe(20);
    expect(Object.keys(r.faults).length).toBeGreaterThan(0);
  }, 120_000);

  it('the verdict catches each kind of violation', () => {
    const payment = (orderNo: string, outcome: 'paid' | 'declined' | 'reversed' | null, amount = 100) =>
      ({ order_no: orderNo, pos_order_id: `P-${orderNo}`, amount, outcome, state: outcome ?? 'querying' }) as never;
    const order = (orderNo: string, net: number) => ({ orderNo, net }) as never;
    const v = checkInvariants({
      payments: [payment('A', 'paid'), payment('B', 'reversed'), payment('C', null), payment('D', 'paid'), payment('E', 'paid')],
      outbox: [{ id: 1, kind: 'reverse', order_no: 'C', status: 'dead', last_error: 'old' } as never],
      told: [
        { id: 'P-B', amount: 100, result: 'not_charged' },
        { id: 'P-D', amount: 100, result: 'paid' },
      ],
      acquirer: { audit: () => ({ orders: 5, charged: 0, netCharged: 0, doubleCharges: ['order:A'] }), orders: () => [order('A', 200), order('B', 100), order('Z', 100), order('E', 60)] },
    });
    expect(v.some((x) => x.startsWith('A: charged more than once'))).toBe(true);
    expect(v.some((x) => x.startsWith('Z:') && x.includes('has no such payment'))).toBe(true);
    expect(v.some((x) => x.startsWith('B:') && x.includes('one-sided'))).toBe(true);
    expect(v.some((x) => x.startsWith('C: left unfinished'))).toBe(true);
    expect(v.some((x) => x.startsWith('E: journal says paid 100, ledger net 60'))).toBe(true);
    expect(v.some((x) => x.startsWith('P-B: POS was told not_charged'))).toBe(true);
    expect(v.some((x) => x.startsWith('P-D: POS was told paid'))).toBe(true);
    expect(v.some((x) => x.startsWith('outbox item 1'))).toBe(true);
  });
});
