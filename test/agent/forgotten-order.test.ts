/**
 * An acquirer that forgets an order it had acknowledged (agent/payment/forgotten-order.ts),
 * on a real journal file: what is noted, when the contradiction is raised, and which reverse
 * answers still confirm. The end-to-end path (simulator reset mid-payment) is in
 * test/device-faults/payment-faults.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import type { EngineCore } from '../../agent/payment/engine-core.ts';
import { noteAcknowledged, noteForgotten, reverseUnlessForgotten } from '../../agent/payment/forgotten-order.ts';
import type { ReverseOutcome } from '../../agent/payment/outcomes.ts';
import { newPayment } from '../support/new-payment.ts';

const ORDER = 'T1260101000000abcd';
const CREATED = 1_000_000;
const EXPIRES = CREATED + 60_000;

let dir: string;
let journal: Journal;
let changed: string[];
let c: EngineCore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-forgotten-'));
  journal = Journal.open(join(dir, 'journal.db'));
  journal.createPayment(newPayment({ orderNo: ORDER, amount: 900, createdAt: CREATED, codeExpiresAt: EXPIRES, queryDeadlineAt: CREATED + 45_000 }));
  journal.transition(ORDER, 'querying', CREATED + 1_000, 'outcome unknown');
  changed = [];
  c = { journal, log: silentLogger, changed: (o: string) => void changed.push(o) } as unknown as EngineCore;
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const row = () => journal.getPayment(ORDER)!;
const causes = () => journal.events(ORDER).map((e) => e.cause);

describe('an order the acquirer acknowledged', () => {
  it('is noted once, without changing the state', () => {
    expect(row().acknowledged).toBe(0);
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    expect(row()).toMatchObject({ acknowledged: 1, state: 'querying' });
    const after = causes();
    expect(after.at(-1)).toBe('the acquirer acknowledged the order');
    noteAcknowledged(c, ORDER, CREATED + 3_000);
    expect(causes()).toEqual(after);
  });
});

describe('the contradiction', () => {
  it('is recorded once, with the call that showed it, and the payment view is told once', () => {
    noteForgotten(c, ORDER, CREATED + 5_000, 'query');
    expect(row()).toMatchObject({ contradiction_at: CREATED + 5_000, state: 'querying', outcome: null });
    expect(causes().at(-1)).toBe('contradiction: the acquirer had acknowledged this order, now its query says it does not know it');
    expect(changed).toEqual([ORDER]);
    const after = causes();
    noteForgotten(c, ORDER, CREATED + 6_000, 'reverse');
    expect(causes()).toEqual(after);
    expect(row().contradiction_at).toBe(CREATED + 5_000);
    expect(changed).toEqual([ORDER]);
  });
});

describe('a reverse answer for an order the acquirer may have forgotten', () => {
  const notFound = (at: number): ReverseOutcome => ({ kind: 'notFound', at });
  const reversed = (at: number): ReverseOutcome => ({ kind: 'reversed', at });
  const retryAtExpiry = (at: number) => ({
    kind: 'retry',
    at,
    retryAt: EXPIRES,
    reason: 'the acquirer forgot this order after acknowledging it; reversing again once the payment code has expired, and only that answer confirms',
  });

  it('stands as it is for an order never acknowledged: its "not found" is its tombstone rule, nothing is raised', () => {
    const o = notFound(CREATED + 10_000);
    expect(reverseUnlessForgotten(c, row(), o)).toBe(o);
    expect(row().contradiction_at).toBeNull();
    expect(changed).toEqual([]);
  });

  it('"not found" for an acknowledged order raises the contradiction and is asked again once the code has expired', () => {
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    expect(reverseUnlessForgotten(c, row(), notFound(CREATED + 10_000))).toEqual(retryAtExpiry(CREATED + 10_000));
    expect(row().contradiction_at).toBe(CREATED + 10_000);
    expect(causes().at(-1)).toMatch(/now its reverse says it does not know it$/);
  });

  it('"not found" once the code has expired confirms: the payment can no longer land', () => {
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    expect(reverseUnlessForgotten(c, row(), notFound(EXPIRES))).toEqual({ kind: 'reversed', at: EXPIRES });
    expect(row().contradiction_at).toBe(EXPIRES);
  });

  it('"reversed" confirms while the acquirer has not forgotten the order', () => {
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    const o = reversed(CREATED + 10_000);
    expect(reverseUnlessForgotten(c, row(), o)).toBe(o);
    expect(row().contradiction_at).toBeNull();
  });

  it('"reversed" from an acquirer that already forgot the order confirms only once the code has expired', () => {
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    noteForgotten(c, ORDER, CREATED + 5_000, 'query');
    expect(reverseUnlessForgotten(c, row(), reversed(CREATED + 10_000))).toEqual(retryAtExpiry(CREATED + 10_000));
    expect(reverseUnlessForgotten(c, row(), reversed(EXPIRES + 1))).toEqual({ kind: 'reversed', at: EXPIRES + 1 });
  });

  it('other answers stand as they are, even for a forgotten order', () => {
    noteAcknowledged(c, ORDER, CREATED + 2_000);
    noteForgotten(c, ORDER, CREATED + 5_000, 'query');
    const answers: ReverseOutcome[] = [
      { kind: 'retry', at: CREATED + 10_000, reason: 'SYSTEMERROR' },
      { kind: 'unreachable', at: CREATED + 10_000, reason: 'ECONNREFUSED' },
      { kind: 'refused', at: CREATED + 10_000, reasonCode: 'REVERSE_EXPIRED' },
    ];
    for (const o of answers) expect(reverseUnlessForgotten(c, row(), o)).toBe(o);
  });
});
