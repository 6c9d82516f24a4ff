/**
 * The chaos run's per-payment check (simulator/chaos/invariants.ts, checkStories): the
 * journal's story against the acquirer's orders and ledger. Each disagreement it exists
 * for is planted once here and must be reported; a consistent story must pass.
 */
import { describe, expect, it } from 'vitest';
import { checkStories, type Story } from '../../simulator/chaos/invariants.ts';

const ev = (state: string, cause: string) => ({ id: 0, order_no: '', at: 0, state, cause, detail: null });
const sent = [ev('submitting', 'created'), ev('submitting', 'pay-sent')];

function story(orderNo: string, outcome: 'paid' | 'declined' | 'reversed', o: { events?: ReturnType<typeof ev>[]; reason?: string; refunds?: Array<[string, number, 'pending' | 'refunded' | 'failed']> } = {}): Story {
  return {
    payment: { order_no: orderNo, pos_order_id: `P-${orderNo}`, amount: 100, outcome, state: outcome, reason_code: o.reason ?? null, maybe_sent: 1 } as never,
    events: o.events ?? [...sent, ev(outcome, outcome)],
    refunds: (o.refunds ?? []).map(([id, amount, state]) => ({ refund_no: `RF-${id}`, pos_refund_id: id, order_no: orderNo, amount, state }) as never),
  };
}

const order = (orderNo: string, state: string, tombstone = false) => ({ orderNo, state, tombstone }) as never;
const entry = (orderNo: string, kind: 'charge' | 'refund' | 'reversal', amount: number) => ({ orderNo, kind, amount }) as never;

describe('chaos story check', () => {
  it('a consistent story passes: paid and part refunded, declined by the acquirer, never sent, reversed', () => {
    const v = checkStories(
      [
        story('A', 'paid', { refunds: [['R1', 40, 'refunded'], ['R2', 60, 'failed']] }),
        story('B', 'declined', { reason: 'NOT_ENOUGH' }),
        story('C', 'declined', { reason: 'NOT_SENT', events: [ev('submitting', 'created'), ev('declined', 'recovered: never sent')] }),
        story('D', 'reversed'),
      ],
      {
        orders: () => [order('A', 'REFUND'), order('B', 'PAYERROR'), order('D', 'REVOKED')],
        ledger: () => [entry('A', 'charge', 100), entry('A', 'refund', 40), entry('D', 'charge', 100), entry('D', 'reversal', 100)],
      },
      [{ id: 'P-A', refundId: 'R1', amount: 40, seen: 'refunded' }],
    );
    expect(v).toEqual([]);
  });

  it('reports each disagreement between the journal and the acquirer', () => {
    const v = checkStories(
      [
        story('NS', 'declined', { reason: 'NOT_SENT' }),
        story('DC', 'declined', { reason: 'NOT_ENOUGH' }),
        story('RF', 'paid', { refunds: [['R1', 50, 'refunded'], ['R2', 10, 'pending']] }),
        story('FS', 'paid', { events: [...sent, ev('paid', 'paid'), ev('reversed', 'reversed')] }),
        story('UW', 'paid', { events: [ev('submitting', 'created'), ev('paid', 'paid')] }),
        story('XR', 'reversed', { refunds: [['R9', 100, 'refunded']] }),
      ],
      {
        orders: () => [order('NS', 'NOTPAY'), order('DC', 'SUCCESS'), order('RF', 'REFUND'), order('FS', 'SUCCESS'), order('UW', 'SUCCESS')],
        ledger: () => [entry('DC', 'charge', 100), entry('RF', 'charge', 100), entry('FS', 'charge', 100), entry('UW', 'charge', 100)],
      },
      [{ id: 'P-RF', refundId: 'R2', amount: 10, seen: 'refunded' }],
    );
    const about = (id: string, text: string) => v.some((x) => x.startsWith(id) && x.includes(text));
    expect(about('NS', 'declined as never sent, but the acquirer has the order')).toBe(true);
    expect(about('DC', 'declined, but the ledger has a charge')).toBe(true);
    expect(about('RF', 'the journal refunded 50, the ledger 0')).toBe(true);
    expect(about('RF', 'refund R2 left pending')).toBe(true);
    expect(about('P-RF', 'told refund R2 refunded, the journal says pending')).toBe(true);
    expect(about('FS', 'final states ["paid","reversed"] disagree')).toBe(true);
    expect(about('UW', 'never recorded sending it')).toBe(true);
    expect(about('XR', 'refunds recorded for a payment that was not paid')).toBe(true);
    expect(v).toHaveLength(8);
  });
  it('a journal rebuilt by `scanpay recover`: its story starts at the recovery, its refunds carry the acquirer\'s numbers, a refund it lacks is still reported', () => {
    const rebuilt = (orderNo: string, outcome: 'paid' | 'reversed', refunds: Array<[string, number, 'refunded']> = []): Story => {
      const s = story(orderNo, outcome, { reason: 'RECOVERED', events: [ev(outcome, 'created'), ev(outcome, 'recovered from the acquirer')], refunds });
      return { ...s, payment: { ...s.payment, pos_order_id: null } };
    };
    const v = checkStories(
      [rebuilt('RA', 'paid', [['recovered:RFx', 40, 'refunded']]), rebuilt('RB', 'reversed'), rebuilt('RC', 'paid')],
      {
        orders: () => [order('RA', 'REFUND'), order('RB', 'REVOKED'), order('RC', 'REFUND')],
        ledger: () => [entry('RA', 'charge', 100), entry('RA', 'refund', 40), entry('RB', 'charge', 100), entry('RB', 'reversal', 100), entry('RC', 'charge', 100), entry('RC', 'refund', 30)],
      },
      [
        { id: 'P-RA', refundId: 'R1', amount: 40, seen: 'refunded' },
        { id: 'P-RC', refundId: 'R1', amount: 30, seen: 'refunded' },
      ],
      [
        { id: 'P-RA', amount: 100, result: 'paid', orderNo: 'RA' },
        { id: 'P-RC', amount: 100, result: 'paid', orderNo: 'RC' },
      ],
    );
    expect(v.some((x) => x.startsWith('RB') || x.startsWith('RA') || x.startsWith('P-RA'))).toBe(false);
    expect(v).toContain('P-RC: the POS was told refund R1 refunded, the recovered journal has no refund of 30');
  });
});
