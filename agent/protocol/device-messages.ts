/**
 * Protocol v1 device operations (docs/protocol.md, "Device operations"): activation,
 * parameters, heartbeat, key rotation, transaction upload and settlement. Same envelope
 * and signing as the payment operations; kept apart from messages.ts so the payment
 * schemas stay one concern.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { lazySchema } from './lazy-schema.ts';
import { WALLETS } from '../payment-code.ts';
import { TRADE_STATES } from './messages.ts';

export const DEVICE_PATHS = {
  activateHello: '/v1/activate/hello',
  activate: '/v1/activate',
  params: '/v1/params',
  heartbeat: '/v1/heartbeat',
  rotateKey: '/v1/rotate-key',
  upload: '/v1/upload',
  settle: '/v1/settle',
  orders: '/v1/orders',
} as const;

export type DeviceOperation = keyof typeof DEVICE_PATHS;

/** Activation codes as printed for the technician: groups of letters and digits. */
export const ACTIVATION_CODE = /^[A-Z0-9]{4}(-[A-Z0-9]{4}){2,5}$/;

/**
 * The code's first group is a server-random locator (it names the code to the backend and
 * is no secret); the whole code is the password. A printed code is 4 groups: 20 bits of
 * locator and 60 bits of secret.
 */
export function codeIdOf(code: string): string {
  return code.slice(0, 4);
}

/**
 * scrypt stretches the code so that whoever records or intercepts an exchange pays tens of
 * milliseconds per guess (2^60 guesses: out of reach). The backend keeps only the verifier.
 * A device refuses parameters below ACTIVATION_KDF_MIN, so a forged hello cannot make
 * guessing cheap.
 */
export const ACTIVATION_KDF = { N: 2 ** 15, r: 8, p: 1 } as const;
export const ACTIVATION_KDF_MIN_N = 2 ** 14;
export type KdfParams = { N: number; r: number; p: number };

export function codeVerifier(code: string, salt: Buffer, kdf: KdfParams = ACTIVATION_KDF): Buffer {
  return scryptSync(code, salt, 32, { ...kdf, maxmem: 256 * kdf.N * kdf.r * kdf.p + 1024 * 1024 });
}

// ---- X25519 (RFC 7748) with raw 32-byte public keys on the wire -----------------------

const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface X25519Pair {
  privateKey: KeyObject;
  /** base64 of the raw 32-byte public key, as it travels. */
  publicKey: string;
}

export function newX25519(): X25519Pair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublic(publicKey) };
}

/** A pair from its raw 32-byte private key (base64): how a device keeps one on disk. */
export function x25519FromPrivate(raw: string): X25519Pair {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, Buffer.from(raw, 'base64')]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: rawPublic(createPublicKey(privateKey)) };
}

export function rawPrivate(k: KeyObject): string {
  return k.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length).toString('base64');
}

function rawPublic(k: KeyObject): string {
  return k.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length).toString('base64');
}

/** The shared secret with a peer's raw public key; throws on a malformed or low-order key. */
export function x25519(mine: KeyObject, peerPublic: string): Buffer {
  const raw = Buffer.from(peerPublic, 'base64');
  if (raw.length !== 32) throw new Error('an X25519 public key is 32 bytes');
  const shared = diffieHellman({ privateKey: mine, publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' }) });
  if (shared.every((b) => b === 0)) throw new Error('low-order X25519 public key');
  return shared;
}

const x25519Key = lazySchema(() => z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a base64 X25519 public key (32 bytes)'));

/**
 * The key that signs the activation exchange (and wraps the terminal key): HKDF over two
 * X25519 secrets (the device's ephemeral and its long-term device key, each with the
 * backend's ephemeral), salted with the code's verifier. A recording holds neither
 * secret; an active impostor must still pay scrypt per guess of the code; and only the
 * holder of the device key can complete an exchange bound to it.
 */
export function activationSigningKey(o: { verifier: Buffer; ephemeralSecret: Buffer; deviceSecret: Buffer; activationId: string; deviceEphemeral: string; deviceKey: string; serverEphemeral: string }): Buffer {
  const info = ['scanpay-activation-v2', o.activationId, o.deviceEphemeral, o.deviceKey, o.serverEphemeral].join('|');
  return Buffer.from(hkdfSync('sha256', Buffer.concat([o.ephemeralSecret, o.deviceSecret]), o.verifier, info, 32));
}

/**
 * The key after a rotation: HKDF over the X25519 secret of this exchange, salted with the
 * current key. Only the device that made the ephemeral share can compute it; a copy of
 * the current key and a recording of the answer are not enough.
 */
export function rotatedKey(o: { currentKey: Buffer; sharedSecret: Buffer; terminalId: string; keyVersion: number; deviceEphemeral: string; serverEphemeral: string }): Buffer {
  const info = ['scanpay-rotate-v2', o.terminalId, String(o.keyVersion), o.deviceEphemeral, o.serverEphemeral].join('|');
  return Buffer.from(hkdfSync('sha256', o.sharedSecret, o.currentKey, info, 32));
}

const wrapKeyOf = (key: Buffer) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'scanpay-key-wrap', 32));

/**
 * The terminal key issued at activation travels wrapped (AES-256-GCM under a key derived
 * from the key that signs the exchange), so it is never in clear in a body that proxies
 * or logs may keep.
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

const walletEnum = lazySchema(() => z.enum(WALLETS as unknown as [string, ...string[]]));
const minorUnits = lazySchema(() => z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

/**
 * Parameters as they travel: only the version is checked here. The agent validates the
 * rest itself (agent/params.ts) so that a bad set is refused by the terminal, which keeps
 * its last good one, rather than dropped as "no answer".
 */
export const paramsEnvelope = lazySchema(() => z.looseObject({ version: z.number().int().positive() }));
export type ParamsEnvelope = z.infer<typeof paramsEnvelope>;

/** Step 1, unsigned: names the code by its locator and brings the device's two public keys. */
export const activateHelloRequest = lazySchema(() => z.object({ codeId: z.string().regex(/^[A-Z0-9]{4}$/), ephemeralKey: x25519Key, deviceKey: x25519Key }));
export const activateHelloResponse = lazySchema(() => z.object({
  result: z.literal('HELLO'),
  /** Server-random: names this exchange in step 2's X-Scanpay-Terminal. */
  activationId: z.string().regex(/^S-[0-9a-f]{32}$/),
  serverEphemeral: x25519Key,
  /** The code's salt and scrypt parameters (the backend keeps only the verifier). */
  salt: z.string().max(64),
  kdf: z.object({ N: z.number().int().min(ACTIVATION_KDF_MIN_N).max(2 ** 20), r: z.number().int().min(8).max(16), p: z.number().int().min(1).max(4) }),
}));
export type ActivateHelloResponse = z.infer<typeof activateHelloResponse>;

/** Step 2, signed with activationSigningKey. */
export const activateRequest = lazySchema(() => z.object({ deviceName: z.string().max(64), agentVersion: z.string().max(32) }));
export const activateResponse = lazySchema(() => z.object({
  result: z.literal('ACTIVATED'),
  terminalId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
  merchantId: z.string().max(32),
  merchantName: z.string().max(64),
  /** The terminal key, wrapped (wrapKey) under the key that signed the exchange. */
  wrappedKey: z.string().max(256),
  params: paramsEnvelope,
}));
export type ActivateResponse = z.infer<typeof activateResponse>;

export const paramsRequest = lazySchema(() => z.object({ version: z.number().int().nonnegative() }));
export const paramsResponse = lazySchema(() => z.discriminatedUnion('result', [
  z.object({ result: z.literal('UNCHANGED'), version: z.number().int().positive() }),
  z.object({ result: z.literal('NEW'), params: paramsEnvelope }),
]));

export const heartbeatRequest = lazySchema(() => z.object({
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
}));
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

export const heartbeatResponse = lazySchema(() => z.object({
  result: z.literal('OK'),
  serverTime: z.number().int(),
  paramsVersion: z.number().int().positive(),
  rotateKey: z.boolean(),
  /** What the backend knew of the device's journal before this heartbeat. */
  journal: z.lazy(() => journalMark.extend({ reportedAt: z.number().int() })).optional(),
}));
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;

/** Signed with the current key; `ephemeralKey` is the device's X25519 share for this rotation. */
export const rotateKeyRequest = lazySchema(() => z.object({ reason: z.string().max(64), ephemeralKey: x25519Key }));
export const rotateKeyResponse = lazySchema(() => z.object({
  result: z.literal('ROTATED'),
  /** The backend's X25519 share: the new key is rotatedKey(...) of the two. */
  ephemeralKey: x25519Key,
  keyVersion: z.number().int().positive(),
}));

export const OUTCOMES = ['paid', 'declined', 'reversed'] as const;

/** One finished transaction, for the acquirer's records. */
export const txRecord = lazySchema(() => z.object({
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
}));
export type TxRecord = z.input<typeof txRecord>;

export const uploadRequest = lazySchema(() => z.object({ records: z.array(txRecord).min(1).max(200) }));
export const uploadResponse = lazySchema(() => z.object({ result: z.literal('OK'), accepted: z.number().int().nonnegative() }));

/** Count and amount of one kind of movement. */
const tally = lazySchema(() => z.object({ count: z.number().int().nonnegative(), amount: minorUnits }));
export type Tally = z.infer<typeof tally>;
export const walletTotals = lazySchema(() => z.object({ payments: tally, reversals: tally, refunds: tally }));
export type WalletTotals = z.infer<typeof walletTotals>;
export const totals = lazySchema(() => z.partialRecord(walletEnum, walletTotals));
export type Totals = z.infer<typeof totals>;

export const DISCREPANCY_KINDS = ['missing-at-backend', 'missing-at-terminal', 'outcome-differs', 'amount-differs', 'refund-differs'] as const;
export const discrepancy = lazySchema(() => z.object({
  orderNo: z.string().max(32),
  wallet: z.string().max(16),
  kind: z.enum(DISCREPANCY_KINDS),
  terminal: z.object({ outcome: z.string(), amount: z.number().int(), refunded: z.number().int() }).nullable(),
  backend: z.object({ outcome: z.string(), amount: z.number().int(), refunded: z.number().int() }).nullable(),
}));
export type Discrepancy = z.infer<typeof discrepancy>;

export const settleRequest = lazySchema(() => z.object({
  batchNo: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
  closedAt: z.number().int(),
  totals,
  /** Set on the second call, once every record of the batch was sent with /v1/upload. */
  detailUploaded: z.boolean().default(false),
}));
export type SettleRequest = z.input<typeof settleRequest>;
export const settleResponse = lazySchema(() => z.discriminatedUnion('result', [
  z.object({ result: z.literal('MATCHED'), batchNo: z.string() }),
  /** Totals differ: upload the batch's detail, then settle again with detailUploaded. */
  z.object({ result: z.literal('DETAIL_REQUIRED'), batchNo: z.string(), backendTotals: totals }),
  z.object({ result: z.literal('MISMATCH'), batchNo: z.string(), backendTotals: totals, discrepancies: z.array(discrepancy).max(5000) }),
]));
export type SettleResponse = z.infer<typeof settleResponse>;

/** A journal's identity and high-water mark: the last payment it recorded. */
export const journalMark = lazySchema(() => z.object({
  journalId: z.string().regex(/^[0-9a-f]{8,64}$/),
  lastOrderNo: z.string().max(64).nullable(),
  lastAt: z.number().int().nullable(),
}));
export type JournalMarkReport = z.infer<typeof journalMark>;

/** The terminal's orders since a time, oldest first, for `scanpay recover`; `after` pages on. */
export const ordersRequest = lazySchema(() => z.object({
  since: z.number().int().nonnegative(),
  after: z.string().max(64).optional(),
  limit: z.number().int().min(1).max(200).default(100),
}));
export const orderSummary = lazySchema(() => z.object({
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
  /** The refunds that succeeded, so `scanpay recover` records them too (absent from older backends). */
  refunds: z.array(z.object({ refundNo: z.string().max(64), amount: minorUnits, at: z.number().int() })).max(100).optional(),
}));
export type OrderSummary = z.infer<typeof orderSummary>;
export const ordersResponse = lazySchema(() => z.object({ result: z.literal('OK'), orders: z.array(orderSummary).max(200), more: z.boolean() }));

export const DEVICE_REQUESTS = {
  activateHello: activateHelloRequest,
  activate: activateRequest,
  params: paramsRequest,
  heartbeat: heartbeatRequest,
  rotateKey: rotateKeyRequest,
  upload: uploadRequest,
  settle: settleRequest,
  orders: ordersRequest,
} as const;

export const DEVICE_RESPONSES = {
  activateHello: activateHelloResponse,
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
