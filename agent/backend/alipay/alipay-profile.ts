/**
 * Alipay's rules as data (agent/backend/acquirer-profile.ts). Sources:
 * ../shared/reference/acquirer-apis.md and payment-rules.md.
 */
import type { AcquirerProfile } from '../acquirer-profile.ts';
import { BEIJING_OFFSET_MINUTES } from './beijing-time.ts';

export const ALIPAY_PROFILE: AcquirerProfile = {
  protocol: 'alipay',
  // No tombstone: a cancel of a trade Alipay has not seen leaves nothing behind, and a pay
  // still on its way can land afterwards.
  unseenReverseIsFinal: false,
  earliestReverseMs: 0,
  // A paid trade can be cancelled only on the day it was made, Beijing time; then refund.
  reverseWindow: { kind: 'same-day', utcOffsetMinutes: BEIJING_OFFSET_MINUTES },
  reverseRefusedWhilePaying: false,
  // Unpaid trades close on their own after about 3 minutes (payment-rules.md).
  acquirerRevokesUnpaidAfterMs: 180_000,
  newOrderNoAfterFailure: false,
  // First query about 5 s after the pay, then every 3–5 s, about 60 s in all.
  wallets: { alipay: { firstQueryDelayMs: 5_000, queryScheduleMs: [4_000], queryDeadlineMs: 60_000, queryWaitMs: 0 } },
};
