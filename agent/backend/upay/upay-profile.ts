/**
 * Upay's rules as data (agent/backend/acquirer-profile.ts). Sources: WoSai/shouqianba-doc
 * en/api (pay.md, cancel.md, revoke.md); the unverified ones are defaults to override.
 */
import type { AcquirerProfile } from '../acquirer-profile.ts';
import { BEIJING_OFFSET_MINUTES } from '../alipay/beijing-time.ts';

function everyFiveSeconds() {
  return { firstQueryDelayMs: 5_000, queryScheduleMs: [5_000], queryWaitMs: 0 };
}

export const UPAY_PROFILE: AcquirerProfile = {
  protocol: 'upay',
  // UPAY_ORDER_NOT_EXISTS on a cancel leaves nothing behind: a delayed pay can still land.
  unseenReverseIsFinal: false,
  earliestReverseMs: 0,
  // revoke.md: "only works in the day of payment" (Beijing); cancel assumed the same (unverified).
  reverseWindow: { kind: 'same-day', utcOffsetMinutes: BEIJING_OFFSET_MINUTES },
  // Cancelling an order being paid is CANCEL_ABORT_SUCCESS or CANCEL_ABORT_ERROR, not a refusal.
  reverseRefusedWhilePaying: false,
  // Upay closes unpaid orders itself (TRADE_TIMEOUT); when is not documented.
  acquirerRevokesUnpaidAfterMs: null,
  // pay.md: a failed payment must be retried with a new client_sn.
  newOrderNoAfterFailure: true,
  // The documented client polls every 5 s; no long-poll. Written out rather than mapped over
  // a list at load: a broken table then fails the profile test, not the module's import.
  wallets: { wechat: everyFiveSeconds(), alipay: everyFiveSeconds(), unionpay: everyFiveSeconds(), ecny: everyFiveSeconds() },
};
