/**
 * An acquirer's rules as data (agent/backend/acquirer-profile.ts): protocol v1's own, when a
 * reverse window ends, and the overrides a configuration may set (`acquirerRules`).
 */
import { describe, expect, it } from 'vitest';
import { acquirerRulesSchema, reverseWindowEnd, SCANPAY_V1_PROFILE, withRules } from '../../agent/backend/acquirer-profile.ts';

describe('protocol v1\'s profile', () => {
  it('says what docs/protocol.md and the gateway simulator do', async () => {
    const { BACKEND_DEFAULTS } = await import('../../simulator/backend/build-backend.ts');
    // A reverse of an order never seen leaves a tombstone (principle 3): final.
    expect(SCANPAY_V1_PROFILE.unseenReverseIsFinal).toBe(true);
    // RETRY with recall while the customer is still entering the password.
    expect(SCANPAY_V1_PROFILE.reverseRefusedWhilePaying).toBe(true);
    // The gateway reverses up to its window (the simulator's default), at any time after the pay.
    expect(SCANPAY_V1_PROFILE.reverseWindow).toEqual({ kind: 'duration', ms: BACKEND_DEFAULTS.reverseWindowMs });
    expect(SCANPAY_V1_PROFILE.earliestReverseMs).toBe(0);
    // It never closes an unpaid order by itself, and a failed pay keeps its order number.
    expect(SCANPAY_V1_PROFILE.acquirerRevokesUnpaidAfterMs).toBeNull();
    expect(SCANPAY_V1_PROFILE.newOrderNoAfterFailure).toBe(false);
    expect(SCANPAY_V1_PROFILE).toMatchObject({ protocol: 'scanpay-v1', wallets: {} });
  });
});

describe('reverseWindowEnd', () => {
  it('a duration counts from the order\'s creation', () => {
    expect(reverseWindowEnd({ kind: 'duration', ms: 60_000 }, 1_000)).toBe(61_000);
  });

  it('same-day ends at the next midnight in the acquirer\'s zone (Alipay: Beijing, UTC+8)', () => {
    const beijing = { kind: 'same-day', utcOffsetMinutes: 480 } as const;
    // 23:59 on 30 November in Beijing is 15:59 UTC: the window ends at 16:00 UTC, one minute later.
    expect(reverseWindowEnd(beijing, Date.UTC(2026, 10, 30, 15, 59))).toBe(Date.UTC(2026, 10, 30, 16, 0));
    // 00:00 on 1 December in Beijing (16:00 UTC on the 30th): a whole day.
    expect(reverseWindowEnd(beijing, Date.UTC(2026, 10, 30, 16, 0))).toBe(Date.UTC(2026, 11, 1, 16, 0));
    // West of Greenwich (UTC-5): 20:00 local on the 30th is 01:00 UTC on 1 December; local midnight is 05:00 UTC.
    expect(reverseWindowEnd({ kind: 'same-day', utcOffsetMinutes: -300 }, Date.UTC(2026, 11, 1, 1, 0))).toBe(Date.UTC(2026, 11, 1, 5, 0));
    expect(reverseWindowEnd({ kind: 'same-day', utcOffsetMinutes: 0 }, Date.UTC(2026, 10, 30, 12, 0))).toBe(Date.UTC(2026, 11, 1, 0, 0));
  });
});

describe('withRules', () => {
  it('replaces the rules given and keeps the rest; wallet timings merge per wallet', () => {
    const base = withRules(SCANPAY_V1_PROFILE, { wallets: { wechat: { queryDeadlineMs: 45_000 } } });
    const p = withRules(base, { earliestReverseMs: 15_000, acquirerRevokesUnpaidAfterMs: 45_000, wallets: { alipay: { queryDeadlineMs: 60_000 } } });
    expect(p).toEqual({ ...SCANPAY_V1_PROFILE, earliestReverseMs: 15_000, acquirerRevokesUnpaidAfterMs: 45_000, wallets: { wechat: { queryDeadlineMs: 45_000 }, alipay: { queryDeadlineMs: 60_000 } } });
    expect(withRules(SCANPAY_V1_PROFILE)).toEqual(SCANPAY_V1_PROFILE);
    // The base is not changed.
    expect(base.wallets).toEqual({ wechat: { queryDeadlineMs: 45_000 } });
  });

  it('refuses a negative earliest reverse and a revoke time that is not positive', () => {
    for (const rules of [{ earliestReverseMs: -1 }, { earliestReverseMs: Number.NaN }, { acquirerRevokesUnpaidAfterMs: 0 }, { acquirerRevokesUnpaidAfterMs: -5 }, { acquirerRevokesUnpaidAfterMs: Number.NaN }]) {
      expect(() => withRules(SCANPAY_V1_PROFILE, rules), JSON.stringify(rules)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('acquirerRules') }));
    }
    expect(withRules(SCANPAY_V1_PROFILE, { earliestReverseMs: 0, acquirerRevokesUnpaidAfterMs: null }).acquirerRevokesUnpaidAfterMs).toBeNull();
    expect(withRules(SCANPAY_V1_PROFILE, { acquirerRevokesUnpaidAfterMs: 1 }).acquirerRevokesUnpaidAfterMs).toBe(1);
  });
});

describe('acquirerRules in config.json', () => {
  const ok = (v: unknown) => acquirerRulesSchema.safeParse(v).success;

  it('takes any subset of the rules', () => {
    expect(ok({})).toBe(true);
    expect(ok({ unseenReverseIsFinal: false, earliestReverseMs: 0, reverseWindow: { kind: 'duration', ms: 1 }, reverseRefusedWhilePaying: false, acquirerRevokesUnpaidAfterMs: null, newOrderNoAfterFailure: true })).toBe(true);
    expect(ok({ earliestReverseMs: 15_000 })).toBe(true);
    for (const utcOffsetMinutes of [-720, 0, 840]) expect(ok({ reverseWindow: { kind: 'same-day', utcOffsetMinutes } }), String(utcOffsetMinutes)).toBe(true);
    expect(acquirerRulesSchema.parse({ acquirerRevokesUnpaidAfterMs: 180_000 })).toEqual({ acquirerRevokesUnpaidAfterMs: 180_000 });
  });

  it('refuses unknown rules, wrong types and values out of range', () => {
    for (const bad of [
      { protocol: 'alipay' },
      { wallets: {} },
      { unseenReverseIsFinal: 'yes' },
      { earliestReverseMs: -1 },
      { earliestReverseMs: 1.5 },
      { reverseWindow: { kind: 'duration', ms: 0 } },
      { reverseWindow: { kind: 'duration', ms: 1, utcOffsetMinutes: 0 } },
      { reverseWindow: { kind: 'same-day', utcOffsetMinutes: -721 } },
      { reverseWindow: { kind: 'same-day', utcOffsetMinutes: 841 } },
      { reverseWindow: { kind: 'same-day', utcOffsetMinutes: 480.5 } },
      { reverseWindow: { kind: 'same-day', utcOffsetMinutes: 480, ms: 1 } },
      { reverseWindow: { kind: 'weekly' } },
      { reverseRefusedWhilePaying: 1 },
      { acquirerRevokesUnpaidAfterMs: 0 },
      { acquirerRevokesUnpaidAfterMs: 1.5 },
      { newOrderNoAfterFailure: 'no' },
    ]) {
      expect(ok(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
