/**
 * What the engine's parts share: the journal, the acquirer, the clock and the rules in
 * force, plus the bookkeeping of calls under way. Built once by the engine.
 */
import type { Acquirer } from '../backend/acquirer.ts';
import type { AcquirerProfile } from '../backend/acquirer-profile.ts';
import type { Clock } from '../clock.ts';
import { ScanpayError } from '../errors.ts';
import type { Journal, PaymentRow } from '../journal/journal.ts';
import type { Logger } from '../log.ts';
import type { Wallet } from '../payment-code.ts';
import type { WalletProfile } from './profiles.ts';

export interface EngineCore {
  readonly journal: Journal;
  readonly acquirer: Acquirer;
  readonly clock: Clock;
  readonly log: Logger;
  readonly acquirerProfile: AcquirerProfile;
  /** The wallet's timings in force now (backend parameters may change them). */
  profileOf(wallet: Wallet): WalletProfile;
  /** Counts a backend call as under way until it settles (for `idle` and `stop`). */
  track<T>(p: Promise<T>): Promise<T>;
}

export const REVERSE_KIND = 'reverse';
export const REFUND_KIND = 'refund';

export function requirePayment(journal: Journal, orderNo: string): PaymentRow {
  const row = journal.getPayment(orderNo);
  if (!row) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo } });
  return row;
}

export function logCall(log: Logger, op: string, orderNo: string, r: { kind: string; latencyMs: number; error?: ScanpayError; body?: unknown }): void {
  const fields = { orderNo, op, result: r.kind, latencyMs: r.latencyMs, ...(r.error ? { error: r.error.code, message: r.error.message } : {}) };
  if (r.kind === 'answer') log.debug(fields, `${op} answered`);
  else log.warn(fields, `${op}: no verified answer`);
}

export function enqueueReversal(journal: Journal, orderNo: string, at: number): void {
  journal.enqueue({ kind: REVERSE_KIND, orderNo, dedupeKey: `${REVERSE_KIND}:${orderNo}`, payload: { orderNo }, at });
}
