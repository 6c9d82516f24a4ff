/**
 * Parameters the acquirer sends (protocol `/v1/params`): per-wallet timings, amount
 * limit, enabled wallets, heartbeat and upload intervals. Versioned; checked here in full
 * before anything uses them, so a bad set is refused and the last good one stays.
 * The last good set lives in `$SCANPAY_HOME/params.json` and is applied at start.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { ScanpayError } from './errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { WALLETS, type Wallet } from './payment-code.ts';
import { resolveProfiles, type ProfileOverrides } from './payment/profiles.ts';

const walletEnum = z.enum(WALLETS as unknown as [Wallet, ...Wallet[]]);

export const deviceParams = z
  .object({
    version: z.number().int().positive(),
    enabledWallets: z.array(walletEnum).min(1, 'enable at least one wallet'),
    maxAmount: z.number().int().positive(),
    heartbeatIntervalMs: z.number().int().min(5_000).max(24 * 3600_000),
    /** How long after a payment ends its record is uploaded (lets the queue batch a busy minute). */
    uploadDelayMs: z.number().int().min(0).max(24 * 3600_000),
    /** Per-wallet timing overrides, as in config.json `profiles`. */
    profiles: z.partialRecord(walletEnum, z.record(z.string(), z.unknown())),
  })
  .strict();

export type DeviceParams = z.infer<typeof deviceParams>;

export const DEFAULT_DEVICE_PARAMS: DeviceParams = {
  version: 1,
  enabledWallets: [...WALLETS],
  maxAmount: 500_000,
  heartbeatIntervalMs: 60_000,
  uploadDelayMs: 5_000,
  profiles: {},
};

/** Checks a parameter set in full, timings included; the error names the field. */
export function validateParams(raw: unknown): DeviceParams {
  const r = deviceParams.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ScanpayError('CONFIG_PARAMS_INVALID', { message: `parameters: ${issue.path.join('.') || '(top level)'}: ${issue.message}`, detail: { version: (raw as { version?: unknown })?.version } });
  }
  try {
    resolveProfiles(r.data.profiles as ProfileOverrides);
  } catch (e) {
    throw new ScanpayError('CONFIG_PARAMS_INVALID', { message: `parameters: ${(e as Error).message}`, cause: e, detail: { version: r.data.version } });
  }
  return r.data;
}

const path = (home: string) => join(home, 'params.json');

/** The last good set, or undefined before the first download (a damaged file counts as none). */
export function loadParams(home: string): DeviceParams | undefined {
  try {
    return validateParams(JSON.parse(readFileSync(path(home), 'utf8')));
  } catch {
    return undefined;
  }
}

export function saveParams(home: string, p: DeviceParams): void {
  writeFileAtomic(path(home), `${JSON.stringify(p, null, 2)}\n`, 0o600);
}
