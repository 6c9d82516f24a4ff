/**
 * What an acquirer's API guarantees and refuses, as data the payment core reads instead of
 * `if (protocol === …)` in code. Each adapter behind the `Acquirer` interface ships its
 * profile; configuration and backend parameters may override the timings.
 *
 * Adapters translate their wire answers into the protocol v1 message shapes
 * (agent/protocol/messages.ts), with these conventions the core relies on:
 * - pay: `SUCCESS` / `USER_PAYING` / `UNKNOWN` / `FAIL` with a `REASONS` code where one fits;
 * - query: `SUCCESS` with `trade.state`; an order the acquirer does not know is
 *   `FAIL` + `ORDER_NOT_FOUND` (no trade): still unknown for the core, never a decline;
 * - reverse: `SUCCESS`; `RETRY` with `recall: true` (WeChat `recall=Y`, Alipay `retry_flag=Y`,
 *   and a reverse refused while the customer pays: reasonCode `USER_PAYING`); `FAIL` +
 *   `REVERSE_EXPIRED` when only a refund can undo it; `FAIL` + `ORDER_NOT_FOUND` when the
 *   acquirer has no such order (final only where `unseenReverseIsFinal`);
 * - an answer that is unsigned, badly signed or unparseable is `unknown`, never an answer.
 */
import * as z from 'zod';
import { ScanpayError } from '../errors.ts';
import type { ProfileOverrides } from '../payment/profiles.ts';

export const PROTOCOLS = ['scanpay-v1', 'wechat-v2', 'wechat-v3', 'alipay', 'upay'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export type ReverseWindow =
  /** A reverse is accepted up to `ms` after the order was created (WeChat: 7 days). */
  | { kind: 'duration'; ms: number }
  /** Until the end of the order's calendar day in the acquirer's zone (Alipay: Beijing, +480). */
  | { kind: 'same-day'; utcOffsetMinutes: number };

export interface AcquirerProfile {
  protocol: ProtocolName;
  /**
   * A reverse of an order the acquirer has never seen is final: it leaves a tombstone, so a
   * pay that lands later is refused (protocol v1). Elsewhere a delayed pay can still land, so
   * "not found" stays unknown until the code's validity has passed and a reverse was answered.
   */
  unseenReverseIsFinal: boolean;
  /** No reverse sooner than this after the pay was sent (WeChat: about 15 s). */
  earliestReverseMs: number;
  /** How long a reverse (cancel) is accepted; after it, a refund replaces it. */
  reverseWindow: ReverseWindow;
  /** The acquirer refuses a reverse while the customer is entering the password: keep retrying. */
  reverseRefusedWhilePaying: boolean;
  /** The acquirer closes an unpaid order itself this long after the pay (WeChat 45 s, Alipay about 3 min); null: never. */
  acquirerRevokesUnpaidAfterMs: number | null;
  /** A pay that failed needs a new order number for the next attempt (Upay's client_sn). */
  newOrderNoAfterFailure: boolean;
  /** Per-wallet timing overrides for this acquirer, merged over the wallet defaults (agent/payment/profiles.ts). */
  wallets: ProfileOverrides;
}

const WEEK_MS = 7 * 24 * 3_600_000;

/** Protocol v1 (docs/protocol.md): tombstones on reverse, no waiting rules of its own. */
export const SCANPAY_V1_PROFILE: AcquirerProfile = {
  protocol: 'scanpay-v1',
  unseenReverseIsFinal: true,
  earliestReverseMs: 0,
  reverseWindow: { kind: 'duration', ms: WEEK_MS },
  // docs/protocol.md: RETRY with recall while the customer is still entering the password.
  reverseRefusedWhilePaying: true,
  acquirerRevokesUnpaidAfterMs: null,
  newOrderNoAfterFailure: false,
  wallets: {},
};

/** The first moment a reverse is no longer accepted for an order created at `createdAt`. */
export function reverseWindowEnd(w: ReverseWindow, createdAt: number): number {
  if (w.kind === 'duration') return createdAt + w.ms;
  const offset = w.utcOffsetMinutes * 60_000;
  const day = 86_400_000;
  return Math.floor((createdAt + offset) / day) * day + day - offset;
}

/** A profile with some rules replaced (configuration `acquirerRules`, QA rule sets); the result is checked. */
export function withRules(base: AcquirerProfile, rules: Partial<AcquirerProfile> = {}): AcquirerProfile {
  const p = { ...base, ...rules, wallets: { ...base.wallets, ...rules.wallets } };
  if (!(p.earliestReverseMs >= 0) || (p.acquirerRevokesUnpaidAfterMs !== null && !(p.acquirerRevokesUnpaidAfterMs > 0))) {
    throw new ScanpayError('CONFIG_INVALID', { message: 'acquirerRules: earliestReverseMs must be ≥ 0 and acquirerRevokesUnpaidAfterMs positive or null' });
  }
  return p;
}

/** The rules a configuration may override (`acquirerRules` in config.json), e.g. to try an acquirer's behaviour against the simulator. */
export const acquirerRulesSchema = z
  .object({
    unseenReverseIsFinal: z.boolean(),
    earliestReverseMs: z.number().int().min(0),
    reverseWindow: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('duration'), ms: z.number().int().positive() }).strict(),
      z.object({ kind: z.literal('same-day'), utcOffsetMinutes: z.number().int().min(-720).max(840) }).strict(),
    ]),
    reverseRefusedWhilePaying: z.boolean(),
    acquirerRevokesUnpaidAfterMs: z.number().int().positive().nullable(),
    newOrderNoAfterFailure: z.boolean(),
  })
  .partial()
  .strict();
export type AcquirerRules = z.infer<typeof acquirerRulesSchema>;
