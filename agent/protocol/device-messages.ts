/**
 * Protocol v1 device operations (docs/protocol.md, "Device operations"): activation,
 * parameters, heartbeat, key rotation, transaction upload and settlement. Same envelope
 * and signing as the payment operations; kept apart from messages.ts so the payment
 * schemas stay one concern.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { WALLETS } from '../payment-code.ts';
import { TRADE_STATES } from './messages.ts';

export const DEVICE_PATHS = {
  activate: '/v1/activate',
  params: '/v1/params',
  heartbeat: '/v1/heartbeat',
  rotateKey: '/v1/rotate-key',
  upload: '/v1/upload',
  settle: '/v1/settle',
  orders: '/v1/orders',
} as const;

export type DeviceOperation = keyof typeof DEVICE_PATHS;

/** Before activation a device has no key: it signs with one derived from the activation code. */
export function activationKey(code: string): Buffer {
  return createHash('sha256').update(`scanpay-activation:${code}`).digest();
}

/**
 * What an activating device puts in `X-Scanpay-Terminal`: names the code to the backend
 * without revealing it (the code itself is the secret the signature proves).
 */
export function activationId(code: string): string {
  return `A-${createHash('sha256').update(`scanpay-activation-id:${code}`).digest('hex').slice(0, 24)}`;
}

/** Activation codes as printed for the technician: groups of letters and digits. */
export const ACTIVATION_CODE = /^[A-Z0-9]{4}(-[A-Z0-9]{4}){2,5}$/;

const wrapKeyOf = (key: Buffer) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'scanpay-key-wrap', 32));

/**
 * A new terminal key travels wrapped (AES-256-GCM under a key derived from the key that
 * signs the exchange), so it is never in clear in a body that proxies or logs may keep.
 */
export function wrapKey(newKey: Buffer, under: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', wrapKeyOf(under), iv);
  const body = Buffer.concat([c.update(newKey), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

export function unwrapKey(wrapped: string, under: Buffer): Buffer {
  const raw = Buffer.from(wrapped, 'base64');
  const d = createDecipheriv('aes-256-gcm', wrapKeyOf(under), raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
}

const walletEnum = z.enum(WALLETS as unknown as [string, ...string[]]);
const minorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Parameters as they travel: only the version is checked here. The agent validates the
 * rest itself (agent/params.ts) so that a bad set is refused by the terminal, which keeps
 * its last good one, rather than dropped as "no answer".
 */
export const paramsEnvelope = z.looseObject({ version: z.number().int().positive() });
export type ParamsEnvelope = z.infer<typeof paramsEnvelope>;

export const activateRequest = z.object({ deviceName: z.string().max(64), agentVersion: z.string().max(32) });
export const activateResponse = z.object({
  result: z.literal('ACTIVATED'),
  terminalId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
  merchantId: z.string().max(32),
  merchantName: z.string().max(64),
  /** The terminal key, wrapped under the activation key (wrapKey). */
  wrappedKey: z.string().max(256),
  params: paramsEnvelope,
});
export type ActivateResponse = z.infer<typeof activateResponse>;

export const paramsRequest = z.object({ version: z.number().int().nonnegative() });
export const paramsResponse = z.discriminatedUnion('result', [
  z.object({ result: z.literal('UNCHANGED'), version: z.number().int().positive() }),
  z.object({ result: z.literal('NEW'), params: paramsEnvelope }),
]);

export const heartbeatRequest = z.object({
  agentVersion: z.string().max(32),
  /** The device's clock when it sent this, ms since epoch. */
  clock: z.number().int(),
  paramsVersion: z.number().int().nonnegative(),
  /** The last parameter set the device refused, if any: the backend should fix it. */
  paramsRejected: z.object({ version: z.number().int(), reason: z.string().max(256) }).optional(),
  scanners: z.array(z.object({ source: z.string().max(128), status: z.string().max(16) })).max(16),
  queueDepth: z.number().int().nonnegative(),
  oldestQueuedAt: z.number().int().optional(),
  deadLetters: z.number().int().nonnegative(),
  lastError: z.object({ code: z.string().max(64), message: z.string().max(256), at: z.number().int() }).optional(),
  /** Skew the device measured at its last heartbeat, device minus backend. */
  skewMs: z.number().int().optional(),
  /** The journal the device writes to and the last payment in it (agent/journal-guard.ts). */
  journal: z.lazy(() => journalMark).optional(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

export const heartbeatResponse = z.object({
  result: z.literal('OK'),
  serverTime: z.number().int(),
  paramsVersion: z.number().int().positive(),
  rotateKey: z.boolean(),
  /** What the backend knew of the device's journal before this heartbeat. */
  journal: z.lazy(() => journalMark.extend({ reportedAt: z.number().int() })).optional(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;

export const rotateKeyRequest = z.object({ reason: z.string().max(64) });
export const rotateKeyResponse = z.object({
  result: z.literal('ROTATED'),
  /** Wrapped under the key that signed the request (the old one). */
  wrappedKey: z.string().max(256),
  keyVersion: z.number().int().positive(),
  /** Until then the backend still accepts the old key, so requests already signed with it land. */
  oldKeyValidUntil: z.number().int(),
});

export const OUTCOMES = ['paid', 'declined', 'reversed'] as const;

/** One finished transaction, for the acquirer's records. */
export const txRecord = z.object({
  orderNo: z.string().regex(/^[A-Za-z0-9_-]{6,32}$/),
  wallet: walletEnum,
  amount: minorUnits,
  currency: z.string().regex(/^[A-Z]{3}$/),
  outcome: z.enum(OUTCOMES),
  /** Confirmed refunds, minor units. */
  refunded: minorUnits,
  refunds: z.array(z.object({ refundNo: z.string().max(32), amount: minorUnits })).max(50),
  finalAt: z.number().int(),
  batchNo: z.string().max(32).optional(),
  /** The payment was settled in an earlier batch: only its refunds listed here count in this one. */
  carried: z.boolean().default(false),
});
export type TxRecord = z.input<typeof txRecord>;

export const uploadRequest = z.object({ records: z.array(txRecord).min(1).max(200) });
export const uploadResponse = z.object({ result: z.literal('OK'), accepted: z.number().int().nonnegative() });

/** Count and amount of one kind of movement. */
const tally = z.object({ count: z.number().int().nonnegative(), amount: minorUnits });
export type Tally = z.infer<typeof tally>;
export const walletTotals = z.object({ payments: tally, reversals: tally, refunds: tally });
export type WalletTotals = z.infer<typeof walletTotals>;
export const totals = z.partialRecord(walletEnum, walletTotals);
export type Totals = z.infer<typeof totals>;

export const DISCREPANCY_KINDS = ['missing-at-backend', 'missing-at-terminal', 'outcome-differs', 'amount-differs', 'refund-differs'] as const;
export const discrepancy = z.object({
  orderNo: z.string().max(32),
  wallet: z.string().max(16),
  kind: z.enum(DISCREPANCY_KINDS),
  terminal: z.object({ outcome: z.string(), amount: z.number().int(), refunded: z.number().int() }).nullable(),
  backend: z.object({ outcome: z.string(), amount: z.number().int(), refunded: z.number().int() }).nullable(),
});
export type Discrepancy = z.infer<typeof discrepancy>;

export const settleRequest = z.object({
  batchNo: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
  closedAt: z.number().int(),
  totals,
  /** Set on the second call, once every record of the batch was sent with /v1/upload. */
  detailUploaded: z.boolean().default(false),
});
export type SettleRequest = z.input<typeof settleRequest>;
export const settleResponse = z.discriminatedUnion('result', [
  z.object({ result: z.literal('MATCHED'), batchNo: z.string() }),
  /** Totals differ: upload the batch's detail, then settle again with detailUploaded. */
  z.object({ result: z.literal('DETAIL_REQUIRED'), batchNo: z.string(), backendTotals: totals }),
  z.object({ result: z.literal('MISMATCH'), batchNo: z.string(), backendTotals: totals, discrepancies: z.array(discrepancy).max(5000) }),
]);
export type SettleResponse = z.infer<typeof settleResponse>;

/** A journal's identity and high-water mark: the last payment it recorded. */
export const journalMark = z.object({
  journalId: z.string().regex(/^[0-9a-f]{8,64}$/),
  lastOrderNo: z.string().max(64).nullable(),
  lastAt: z.number().int().nullable(),
});
export type JournalMarkReport = z.infer<typeof journalMark>;

/** The terminal's orders since a time, oldest first, for `scanpay recover`; `after` pages on. */
export const ordersRequest = z.object({
  since: z.number().int().nonnegative(),
  after: z.string().max(64).optional(),
  limit: z.number().int().min(1).max(200).default(100),
});
export const orderSummary = z.object({
  orderNo: z.string().max(64),
  state: z.enum(TRADE_STATES),
  /** Absent for an order reversed before any pay arrived (a tombstone). */
  wallet: walletEnum.optional(),
  amount: minorUnits.optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
  createdAt: z.number().int(),
  paidAt: z.number().int().optional(),
  refundedAmount: z.number().int().nonnegative(),
  acquirerTradeNo: z.string().max(64).optional(),
});
export type OrderSummary = z.infer<typeof orderSummary>;
export const ordersResponse = z.object({ result: z.literal('OK'), orders: z.array(orderSummary).max(200), more: z.boolean() });

export const DEVICE_REQUESTS = {
  activate: activateRequest,
  params: paramsRequest,
  heartbeat: heartbeatRequest,
  rotateKey: rotateKeyRequest,
  upload: uploadRequest,
  settle: settleRequest,
  orders: ordersRequest,
} as const;

export const DEVICE_RESPONSES = {
  activate: activateResponse,
  params: paramsResponse,
  heartbeat: heartbeatResponse,
  rotateKey: rotateKeyResponse,
  upload: uploadResponse,
  settle: settleResponse,
  orders: ordersResponse,
} as const;

/** Totals from transaction records: the one rule both sides apply. */
export function totalsOf(records: Iterable<Pick<TxRecord, 'wallet' | 'amount' | 'outcome' | 'refunds' | 'carried'>>): Totals {
  const out: Record<string, WalletTotals> = {};
  for (const r of records) {
    const t = (out[r.wallet] ??= { payments: { count: 0, amount: 0 }, reversals: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 } });
    if (!r.carried && r.outcome === 'paid') add(t.payments, r.amount);
    if (!r.carried && r.outcome === 'reversed') add(t.reversals, r.amount);
    for (const f of r.refunds) add(t.refunds, f.amount);
  }
  return out as Totals;
}

function add(t: Tally, amount: number): void {
  t.count += 1;
  t.amount += amount;
}

const ZERO: WalletTotals = { payments: { count: 0, amount: 0 }, reversals: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 } };

/** A wallet with nothing to count equals a wallet left out. */
export function sameTotals(a: Totals, b: Totals): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Totals>;
  return [...keys].every((w) => JSON.stringify(a[w] ?? ZERO) === JSON.stringify(b[w] ?? ZERO));
}
