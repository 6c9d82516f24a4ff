/**
 * Acquirer rule sets for the property test and the chaos run: protocol v1 and three that
 * behave like WeChat Pay, Alipay and an aggregator's terminal API (Upay), as data. Each is
 * an acquirer profile (what the agent is told) and the wallet-model rules derived from
 * it (what the simulated acquirer enforces), so both sides always agree on one source.
 * The real adapters ship their own profiles; these are the rules the core must survive.
 */
import { SCANPAY_V1_PROFILE, withRules, type AcquirerProfile } from '../../agent/backend/acquirer-profile.ts';
import type { WalletRules } from './wallet-model.ts';

const DAY_MS = 24 * 3_600_000;

export const RULE_PROFILES = {
  v1: SCANPAY_V1_PROFILE,
  // No tombstone; no reverse sooner than 15 s after the pay; reverse for 7 days; closes unpaid orders itself after about 45 s.
  'wechat-like': withRules(SCANPAY_V1_PROFILE, {
    protocol: 'wechat-v2',
    unseenReverseIsFinal: false,
    earliestReverseMs: 15_000,
    reverseWindow: { kind: 'duration', ms: 7 * DAY_MS },
    reverseRefusedWhilePaying: true,
    acquirerRevokesUnpaidAfterMs: 45_000,
    wallets: { wechat: { firstQueryDelayMs: 5_000, queryScheduleMs: [10_000], queryDeadlineMs: 45_000 } },
  }),
  // Cancel only the same Beijing day; cancels a paying order (no refusal); closes unpaid orders after about 3 min.
  'alipay-like': withRules(SCANPAY_V1_PROFILE, {
    protocol: 'alipay',
    unseenReverseIsFinal: false,
    earliestReverseMs: 0,
    reverseWindow: { kind: 'same-day', utcOffsetMinutes: 480 },
    reverseRefusedWhilePaying: false,
    acquirerRevokesUnpaidAfterMs: 180_000,
  }),
  // An aggregator: no tombstone, refuses while paying, no revoke of its own, a one-day window.
  'upay-like': withRules(SCANPAY_V1_PROFILE, {
    protocol: 'upay',
    unseenReverseIsFinal: false,
    earliestReverseMs: 0,
    reverseWindow: { kind: 'duration', ms: DAY_MS },
    reverseRefusedWhilePaying: true,
    acquirerRevokesUnpaidAfterMs: null,
    newOrderNoAfterFailure: true,
  }),
} as const satisfies Record<string, AcquirerProfile>;

export type RuleProfileName = keyof typeof RULE_PROFILES;
export const RULE_PROFILE_NAMES = Object.keys(RULE_PROFILES) as RuleProfileName[];

/** What the simulated acquirer enforces for a profile. */
export function walletRulesFor(p: AcquirerProfile): WalletRules {
  return {
    tombstone: p.unseenReverseIsFinal,
    earliestReverseMs: p.earliestReverseMs,
    refuseReverseWhilePaying: p.reverseRefusedWhilePaying,
    revokeUnpaidAfterMs: p.acquirerRevokesUnpaidAfterMs,
    reverseWindow: p.reverseWindow,
  };
}
