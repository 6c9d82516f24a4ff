/**
 * Alipay's and Upay's rules as the engine gets them, each against its published source:
 * /work/shared/reference/acquirer-apis.md and payment-rules.md (Alipay), WoSai/shouqianba-doc
 * en/api pay.md, revoke.md, business_processes.md (Upay). A rule changed here changes what
 * the cashier sees (when a cancel turns into a refund, when "not found" is final).
 */
import { describe, expect, it } from 'vitest';
import { acquirerRulesSchema, reverseWindowEnd, type AcquirerProfile } from '../../agent/backend/acquirer-profile.ts';
import { ALIPAY_PROFILE } from '../../agent/backend/alipay/alipay-profile.ts';
import { UPAY_PROFILE } from '../../agent/backend/upay/upay-profile.ts';

// 10:00 Beijing on 2 March 2026; Beijing's midnight that night is 16:00 UTC.
const PAID = Date.UTC(2026, 2, 2, 2, 0, 0);
const BEIJING_MIDNIGHT = Date.UTC(2026, 2, 2, 16, 0, 0);

describe.each([
  ['Alipay', ALIPAY_PROFILE],
  ['Upay', UPAY_PROFILE],
])('%s', (_, profile) => {
  it('cancels only until midnight Beijing time on the day of the payment, then refunds', () => {
    expect(reverseWindowEnd(profile.reverseWindow, PAID)).toBe(BEIJING_MIDNIGHT);
    // 23:59 Beijing still on the day; 00:00 is the next day's window.
    expect(reverseWindowEnd(profile.reverseWindow, BEIJING_MIDNIGHT - 60_000)).toBe(BEIJING_MIDNIGHT);
    expect(reverseWindowEnd(profile.reverseWindow, BEIJING_MIDNIGHT)).toBe(BEIJING_MIDNIGHT + 86_400_000);
  });

  it('its rules are ones config.json `acquirerRules` accepts: a QA rule set can restate any of them', () => {
    const rules = Object.fromEntries(Object.keys(acquirerRulesSchema.shape).map((k) => [k, profile[k as keyof AcquirerProfile]]));
    expect(acquirerRulesSchema.safeParse(rules)).toMatchObject({ success: true, data: rules });
  });

  it('keeps "not found" on a cancel unknown (no tombstone: a delayed pay can still land), cancels at once, and while paying', () => {
    expect(profile).toMatchObject({ unseenReverseIsFinal: false, earliestReverseMs: 0, reverseRefusedWhilePaying: false });
  });
});

describe('Alipay', () => {
  it('closes unpaid trades itself after about 3 minutes; a failed pay keeps its out_trade_no', () => {
    expect(ALIPAY_PROFILE).toMatchObject({ protocol: 'alipay', acquirerRevokesUnpaidAfterMs: 180_000, newOrderNoAfterFailure: false });
  });

  it('first query about 5 s after the pay, then every 3–5 s, for about 60 s; no long-poll', () => {
    expect(ALIPAY_PROFILE.wallets).toEqual({ alipay: { firstQueryDelayMs: 5_000, queryScheduleMs: [4_000], queryDeadlineMs: 60_000, queryWaitMs: 0 } });
  });
});

describe('Upay', () => {
  it('a failed payment needs a new client_sn (pay.md); when Upay closes unpaid orders is not documented', () => {
    expect(UPAY_PROFILE).toMatchObject({ protocol: 'upay', acquirerRevokesUnpaidAfterMs: null, newOrderNoAfterFailure: true });
  });

  it('polls every 5 s for every wallet it carries, no long-poll (business_processes.md)', () => {
    const every5 = { firstQueryDelayMs: 5_000, queryScheduleMs: [5_000], queryWaitMs: 0 };
    expect(UPAY_PROFILE.wallets).toEqual({ wechat: every5, alipay: every5, unionpay: every5, ecny: every5 });
  });
});
