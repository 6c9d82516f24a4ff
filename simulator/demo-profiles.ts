/**
 * Short timings for the desktop simulator (`scanpay sim --fast`) and its browser test: a
 * 3 s deadline and quick retries, so a customer who takes 5 s to type the password, a
 * reversal and an outbox delivery all play out while one watches.
 */
import type { ProfileOverrides } from '../agent/payment/profiles.ts';

const FAST = { firstQueryDelayMs: 500, queryScheduleMs: [500], queryWaitMs: 1_000, queryDeadlineMs: 3_000, reverseRetryBaseMs: 300, reverseRetryMaxMs: 2_000, networkRetryMs: 500 };

export const DEMO_PROFILES: {
  profiles: ProfileOverrides;
  outbox: { retryBaseMs: number; retryMaxMs: number };
  timeoutMs: { pay: number; query: number; reverse: number; refund: number };
} = {
  profiles: { wechat: FAST, alipay: FAST, unionpay: FAST, ecny: FAST },
  outbox: { retryBaseMs: 300, retryMaxMs: 2_000 },
  // A `hang` fault (processed, never answered) then costs 3 s, not the production 15 s.
  timeoutMs: { pay: 3_000, query: 2_000, reverse: 2_000, refund: 2_000 },
};
