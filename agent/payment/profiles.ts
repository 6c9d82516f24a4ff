/**
 * Per-wallet timings (../shared/reference/payment-rules.md). Defaults follow each
 * wallet's published guidance; configuration and, later, backend parameters override them
 * field by field.
 */
import * as z from 'zod';
import { ScanpayError } from '../errors.ts';
import { WALLETS, type Wallet } from '../payment-code.ts';
import { MAX_QUERY_WAIT_MS } from '../protocol/messages.ts';

export const walletProfile = z.object({
  /** Wait before the first query after an unknown pay answer (WeChat: 5 s after SYSTEMERROR). */
  firstQueryDelayMs: z.number().int().positive(),
  /** Waits between later queries; the last entry repeats. */
  queryScheduleMs: z.array(z.number().int().positive()).min(1),
  /**
   * How long each query asks the gateway to hold its answer until the trade changes
   * (protocol long-poll, `waitMs`); 0 never asks. Capped by the query deadline.
   */
  queryWaitMs: z.number().int().min(0).max(MAX_QUERY_WAIT_MS),
  /** From the payment's creation to the last query; then the payment is reversed. */
  queryDeadlineMs: z.number().int().positive(),
  /** Backoff for a reverse answered "retry": base, doubling up to the max. Never abandoned. */
  reverseRetryBaseMs: z.number().int().positive(),
  reverseRetryMaxMs: z.number().int().positive(),
  /** Wait before resending a pay that provably never left the device. */
  networkRetryMs: z.number().int().positive(),
  /** How long a customer's dynamic code stays valid. */
  codeTtlMs: z.number().int().positive(),
});

export type WalletProfile = z.infer<typeof walletProfile>;
export type ProfileOverrides = Partial<Record<Wallet, Partial<WalletProfile>>>;

const COMMON = {
  reverseRetryBaseMs: 1_000,
  reverseRetryMaxMs: 30_000,
  networkRetryMs: 2_000,
  codeTtlMs: 60_000,
  // A held query answers the moment the customer confirms, instead of at the next tick of
  // the schedule; 20 s keeps a 45 s deadline to at most three queries (docs/performance.md).
  queryWaitMs: 20_000,
};

export const DEFAULT_PROFILES: Record<Wallet, WalletProfile> = {
  // USERPAYING: query about every 10 s up to about 45 s, then reverse.
  wechat: { ...COMMON, firstQueryDelayMs: 5_000, queryScheduleMs: [10_000], queryDeadlineMs: 45_000 },
  // First query about 5 s after creation, then every 3–5 s, about 60 s in all.
  alipay: { ...COMMON, firstQueryDelayMs: 5_000, queryScheduleMs: [4_000], queryDeadlineMs: 60_000 },
  // The synchronous answer only means "accepted": the result comes by query.
  unionpay: { ...COMMON, firstQueryDelayMs: 3_000, queryScheduleMs: [5_000], queryDeadlineMs: 60_000 },
  ecny: { ...COMMON, firstQueryDelayMs: 5_000, queryScheduleMs: [5_000], queryDeadlineMs: 60_000 },
};

/** Merges overrides onto the defaults and validates the result; the error names the field. */
export function resolveProfiles(overrides: ProfileOverrides = {}): Record<Wallet, WalletProfile> {
  const out = {} as Record<Wallet, WalletProfile>;
  for (const w of WALLETS) {
    const merged = { ...DEFAULT_PROFILES[w], ...overrides[w] };
    const r = walletProfile.safeParse(merged);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ScanpayError('CONFIG_INVALID', { message: `profiles.${w}.${issue.path.join('.')}: ${issue.message}` });
    }
    out[w] = r.data;
  }
  return out;
}

/** The wait before query number `n` (1-based) counted after the first. */
export function queryWait(profile: WalletProfile, queriesDone: number): number {
  const s = profile.queryScheduleMs;
  return queriesDone === 0 ? profile.firstQueryDelayMs : s[Math.min(queriesDone - 1, s.length - 1)]!;
}

/** Overrides `over` laid field by field over `base`, wallet by wallet. */
export function mergeOverrides(base: ProfileOverrides = {}, over: ProfileOverrides = {}): ProfileOverrides {
  const out: ProfileOverrides = { ...base };
  for (const w of WALLETS) if (over[w]) out[w] = { ...base[w], ...over[w] };
  return out;
}
