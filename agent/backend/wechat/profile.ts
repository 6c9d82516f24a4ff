/**
 * WeChat Pay's rules as data (agent/backend/acquirer-profile.ts), the same for v2 and v3:
 * a reverse of an order WeChat has not seen leaves nothing behind (a delayed pay can still
 * land), no reverse within about 15 s of the order, reverses refused while the customer
 * enters the password, 7 days to reverse, and WeChat itself revokes an unpaid order at 45 s.
 * Sources: ../shared/reference/acquirer-apis.md; the 15 s and 45 s are WeChat's guidance.
 */
import type { AcquirerProfile } from '../acquirer-profile.ts';

const WECHAT_RULES = {
  unseenReverseIsFinal: false,
  earliestReverseMs: 15_000,
  reverseWindow: { kind: 'duration', ms: 7 * 24 * 3_600_000 },
  reverseRefusedWhilePaying: true,
  acquirerRevokesUnpaidAfterMs: 45_000,
  newOrderNoAfterFailure: false,
  // WeChat does not hold a query open (no long-poll): ask for nothing.
  wallets: { wechat: { queryWaitMs: 0 } },
} as const satisfies Omit<AcquirerProfile, 'protocol'>;

export const WECHAT_V2_PROFILE: AcquirerProfile = { protocol: 'wechat-v2', ...WECHAT_RULES, reverseWindow: { ...WECHAT_RULES.reverseWindow }, wallets: { wechat: { queryWaitMs: 0 } } };
export const WECHAT_V3_PROFILE: AcquirerProfile = { protocol: 'wechat-v3', ...WECHAT_RULES, reverseWindow: { ...WECHAT_RULES.reverseWindow }, wallets: { wechat: { queryWaitMs: 0 } } };
