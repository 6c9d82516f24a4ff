/**
 * WeChat Pay's rules as the profiles hand them to the engine, one per protocol, each field
 * as ../shared/reference/acquirer-apis.md states it: a reverse of an unseen order leaves no
 * tombstone, none within about 15 s, refused while the customer enters the password, 7 days
 * to reverse, the unpaid order revoked by WeChat at 45 s, the same out_trade_no after a
 * failure (retries and queries reuse it), and no long-poll on a query.
 */
import { describe, expect, it } from 'vitest';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from '../../agent/backend/wechat/profile.ts';

describe('WeChat profiles', () => {
  it.each([
    ['wechat-v2', WECHAT_V2_PROFILE],
    ['wechat-v3', WECHAT_V3_PROFILE],
  ] as const)('%s carries WeChat’s rules, every field', (protocol, profile) => {
    expect(profile).toEqual({
      protocol,
      unseenReverseIsFinal: false,
      earliestReverseMs: 15_000,
      reverseWindow: { kind: 'duration', ms: 7 * 24 * 3_600_000 },
      reverseRefusedWhilePaying: true,
      acquirerRevokesUnpaidAfterMs: 45_000,
      newOrderNoAfterFailure: false,
      wallets: { wechat: { queryWaitMs: 0 } },
    });
  });

  it('the two profiles share no object: a backend parameter overriding one leaves the other as it was', () => {
    expect(WECHAT_V2_PROFILE.reverseWindow).not.toBe(WECHAT_V3_PROFILE.reverseWindow);
    expect(WECHAT_V2_PROFILE.wallets).not.toBe(WECHAT_V3_PROFILE.wallets);
  });
});
