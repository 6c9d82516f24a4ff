/**
 * The per-wallet timings (agent/payment/profiles.ts): the published defaults, overrides
 * field by field, and the error that names a bad field. Pure: no journal, no engine.
 */
import { describe, expect, it } from 'vitest';
import { ScanpayError } from '../../agent/errors.ts';
import { DEFAULT_PROFILES, mergeOverrides, queryWait, resolveProfiles, type ProfileOverrides } from '../../agent/payment/profiles.ts';

describe('wallet profiles', () => {
  it('defaults follow each wallet’s published guidance (payment-rules.md)', () => {
    const common = { reverseRetryBaseMs: 1_000, reverseRetryMaxMs: 30_000, networkRetryMs: 2_000, codeTtlMs: 60_000, queryWaitMs: 20_000 };
    expect(resolveProfiles()).toEqual({
      wechat: { ...common, firstQueryDelayMs: 5_000, queryScheduleMs: [10_000], queryDeadlineMs: 45_000 },
      alipay: { ...common, firstQueryDelayMs: 5_000, queryScheduleMs: [4_000], queryDeadlineMs: 60_000 },
      unionpay: { ...common, firstQueryDelayMs: 3_000, queryScheduleMs: [5_000], queryDeadlineMs: 60_000 },
      ecny: { ...common, firstQueryDelayMs: 5_000, queryScheduleMs: [5_000], queryDeadlineMs: 60_000 },
    });
    expect(resolveProfiles()).toEqual(DEFAULT_PROFILES);
  });

  it('overrides apply field by field, wallet by wallet', () => {
    const p = resolveProfiles({ alipay: { queryDeadlineMs: 90_000, queryScheduleMs: [3_000, 5_000] } });
    expect(p.alipay).toEqual({ ...DEFAULT_PROFILES.alipay, queryDeadlineMs: 90_000, queryScheduleMs: [3_000, 5_000] });
    expect(p.wechat).toEqual(DEFAULT_PROFILES.wechat);
  });

  it.each<[string, ProfileOverrides, string]>([
    ['a fractional wait', { wechat: { firstQueryDelayMs: 1.5 } }, 'profiles.wechat.firstQueryDelayMs: '],
    ['a zero wait', { alipay: { networkRetryMs: 0 } }, 'profiles.alipay.networkRetryMs: '],
    ['a negative deadline', { ecny: { queryDeadlineMs: -1 } }, 'profiles.ecny.queryDeadlineMs: '],
    ['an empty schedule', { unionpay: { queryScheduleMs: [] } }, 'profiles.unionpay.queryScheduleMs: '],
    ['a zero step in the schedule', { wechat: { queryScheduleMs: [1_000, 0] } }, 'profiles.wechat.queryScheduleMs.1: '],
    ['a fractional step in the schedule', { wechat: { queryScheduleMs: [1.5] } }, 'profiles.wechat.queryScheduleMs.0: '],
    ['a held query longer than the protocol allows', { wechat: { queryWaitMs: 25_001 } }, 'profiles.wechat.queryWaitMs: '],
    ['a negative hold', { wechat: { queryWaitMs: -1 } }, 'profiles.wechat.queryWaitMs: '],
    ['a fractional hold', { wechat: { queryWaitMs: 0.5 } }, 'profiles.wechat.queryWaitMs: '],
    ['a fractional reverse backoff', { wechat: { reverseRetryBaseMs: 0.5 } }, 'profiles.wechat.reverseRetryBaseMs: '],
    ['a zero reverse backoff', { wechat: { reverseRetryBaseMs: 0 } }, 'profiles.wechat.reverseRetryBaseMs: '],
    ['a zero backoff cap', { wechat: { reverseRetryMaxMs: 0 } }, 'profiles.wechat.reverseRetryMaxMs: '],
    ['a fractional backoff cap', { wechat: { reverseRetryMaxMs: 1.5 } }, 'profiles.wechat.reverseRetryMaxMs: '],
    ['a fractional network retry', { wechat: { networkRetryMs: 1.5 } }, 'profiles.wechat.networkRetryMs: '],
    ['a zero code lifetime', { wechat: { codeTtlMs: 0 } }, 'profiles.wechat.codeTtlMs: '],
    ['a fractional code lifetime', { wechat: { codeTtlMs: 1.5 } }, 'profiles.wechat.codeTtlMs: '],
    ['a zero first wait', { wechat: { firstQueryDelayMs: 0 } }, 'profiles.wechat.firstQueryDelayMs: '],
    ['a fractional deadline', { wechat: { queryDeadlineMs: 1.5 } }, 'profiles.wechat.queryDeadlineMs: '],
  ])('refuses %s with CONFIG_INVALID naming the field', (_name, overrides, prefix) => {
    let error: unknown;
    try {
      resolveProfiles(overrides);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScanpayError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((error as Error).message.startsWith(prefix)).toBe(true);
  });

  it('accepts the edges: a hold of 0 (never held) and of the protocol maximum', () => {
    expect(resolveProfiles({ wechat: { queryWaitMs: 0 }, alipay: { queryWaitMs: 25_000 } })).toMatchObject({ wechat: { queryWaitMs: 0 }, alipay: { queryWaitMs: 25_000 } });
  });

  it('queryWait: the first delay, then the schedule, whose last entry repeats', () => {
    const p = { ...DEFAULT_PROFILES.wechat, firstQueryDelayMs: 7, queryScheduleMs: [100, 200, 300] };
    expect([0, 1, 2, 3, 4, 10].map((n) => queryWait(p, n))).toEqual([7, 100, 200, 300, 300, 300]);
  });

  it('mergeOverrides lays one set of overrides field by field over another', () => {
    expect(mergeOverrides()).toEqual({});
    const base: ProfileOverrides = { wechat: { queryDeadlineMs: 50_000, codeTtlMs: 30_000 }, alipay: { networkRetryMs: 9 } };
    expect(mergeOverrides(base, { wechat: { codeTtlMs: 40_000 }, ecny: { queryWaitMs: 0 } })).toEqual({
      wechat: { queryDeadlineMs: 50_000, codeTtlMs: 40_000 },
      alipay: { networkRetryMs: 9 },
      ecny: { queryWaitMs: 0 },
    });
    expect(mergeOverrides(undefined, { unionpay: { codeTtlMs: 1 } })).toEqual({ unionpay: { codeTtlMs: 1 } });
    expect(base).toEqual({ wechat: { queryDeadlineMs: 50_000, codeTtlMs: 30_000 }, alipay: { networkRetryMs: 9 } });
  });
});
