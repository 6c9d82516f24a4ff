/**
 * The agent's configuration: one DEFAULTS, `$SCANPAY_HOME/config.json` merged over it and
 * validated once here, with errors that name the field and the fix. The terminal's
 * identity and key come from `$SCANPAY_HOME/terminal.json` (written by provisioning,
 * owner-only) or, in demo mode only, from the public demo terminal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { ScanpayError } from './errors.ts';
import { DEMO_TERMINAL } from '../simulator/backend/demo-terminal.ts';
import { assertOwnerOnly } from './secret-file.ts';
import { isLoopback } from './loopback.ts';
import { acquirerRulesSchema, type AcquirerRules } from './backend/acquirer-profile.ts';
import { PROTOCOLS, type ProtocolName } from './backend/acquirer-profile.ts';
import type { WechatConfig } from './backend/wechat/credentials.ts';

export const DEFAULTS = {
  api: { host: '127.0.0.1', port: 8471 },
  backend: {
    url: undefined as string | undefined,
    timeoutMs: {} as Partial<Record<'pay' | 'query' | 'reverse' | 'refund', number>>,
    /** The acquirer's wire format (agent/backend/create-acquirer.ts): scanpay-v1, alipay or upay. */
    protocol: 'scanpay-v1' as ProtocolName,
    /** Alipay app credentials, paths relative to SCANPAY_HOME (docs/acquirers/alipay.md); demo mode uses the demo app. */
    alipay: undefined as { appId: string; appPrivateKeyFile: string; alipayPublicKeyFile: string } | undefined,
    /** WeChat Pay merchant credentials: paths to owner-only files (docs/acquirers/wechat.md). */
    wechat: undefined as WechatConfig | undefined,
  },
  /** Lanes and the SOURCE specs (docs/scanners.md) of their scanners. Demo mode adds `virtual:<lane>` where a lane has no virtual scanner. */
  lanes: [{ id: '1', scanners: [] as string[] }],
  currency: 'CNY',
  /** Largest payment in minor units: 5000.00, the PBOC level-B daily limit for a dynamic code. */
  maxAmount: 500_000,
  /** How long a payment waits for the customer's code before it ends, not charged. */
  scanTimeoutMs: 120_000,
  /** Per-wallet timing overrides (agent/payment/profiles.ts), e.g. {"wechat": {"queryDeadlineMs": 30000}}. */
  profiles: {} as Record<string, Record<string, unknown>>,
  /** Automatic end-of-day settlement at this local time ("HH:MM"), or null for `scanpay settle` by hand only. */
  settlement: { autoAt: null as string | null },
  /** Retry backoff of the offline queue (reversals, refunds): doubles from base to max, with jitter. */
  outbox: { retryBaseMs: 1_000, retryMaxMs: 60_000 },
  /** Overrides of the acquirer profile's rules (agent/backend/acquirer-profile.ts), e.g. {"earliestReverseMs": 15000}. */
  acquirerRules: {} as AcquirerRules,
  /** The journal's size cap: past it a payment is refused (JOURNAL_WRITE_FAILED, nothing sent) before the disk fills. */
  journalMaxBytes: 1024 * 1024 * 1024,
};

const ms = z.number().int().positive();
const id = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1–32 letters, digits, "-" or "_"');

const schema = z
  .object({
    api: z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65_535), allowRemote: z.boolean().optional() }).strict(),
    backend: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. https://acquirer.example/' }).optional(),
        timeoutMs: z.object({ pay: ms, query: ms, reverse: ms, refund: ms }).partial().strict(),
        /** Accept a plain http:// acquirer URL off this machine (docs/security.md): payment codes and activation then travel in clear. */
        allowInsecureHttp: z.boolean().optional(),
        protocol: z.enum(PROTOCOLS, { error: `must be one of ${PROTOCOLS.join(', ')}` }),
        alipay: z.object({ appId: z.string().regex(/^\d{16}$/, 'must be the 16-digit Alipay app id'), appPrivateKeyFile: z.string().min(1), alipayPublicKeyFile: z.string().min(1) }).strict().optional(),
        wechat: z
          .object({
            appId: z.string().regex(/^wx[0-9a-f]{16}$/, 'must be the app id bound to the merchant, wx + 16 hex digits'),
            mchId: z.string().regex(/^\d{6,12}$/, 'must be the merchant number (商户号), digits'),
            signType: z.enum(['MD5', 'HMAC-SHA256']),
            ...Object.fromEntries(['apiKeyFile', 'clientCertFile', 'clientKeyFile', 'clientCertPassphraseFile', 'platformCertFile', 'caFile', 'apiV3KeyFile'].map((k) => [k, z.string().min(1)])),
            certSerial: z.string().regex(/^[0-9A-Fa-f]{8,40}$/, 'must be the certificate serial in hex'),
            deviceIp: z.string().min(1),
            terminalId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1–32 letters, digits, "-" or "_"'),
          })
          .partial()
          .strict()
          .optional(),
      })
      .strict(),
    lanes: z
      .array(z.object({ id, scanners: z.array(z.string().min(1)) }).strict())
      .min(1, 'configure at least one lane')
      .refine((ls) => new Set(ls.map((l) => l.id)).size === ls.length, 'lane ids must be unique'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as CNY'),
    maxAmount: z.number().int().positive(),
    scanTimeoutMs: ms,
    profiles: z.partialRecord(z.enum(['wechat', 'alipay', 'unionpay', 'ecny']), z.record(z.string(), z.unknown())),
    settlement: z.object({ autoAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time such as "23:30"').nullable() }).strict(),
    outbox: z
      .object({ retryBaseMs: ms, retryMaxMs: ms })
      .strict()
      .refine((o) => o.retryBaseMs <= o.retryMaxMs, 'retryBaseMs must not exceed retryMaxMs'),
    acquirerRules: acquirerRulesSchema,
    journalMaxBytes: z.number().int().min(64 * 1024, 'must be at least 64 KiB (65536)'),
  })
  .strict();

export type AgentConfig = z.infer<typeof schema>;

export interface ConfigOverrides {
  backendUrl?: string | undefined;
  protocol?: ProtocolName | undefined;
  port?: number | undefined;
  host?: string | undefined;
}

function invalid(where: string, message: string): ScanpayError {
  return new ScanpayError('CONFIG_INVALID', { message: `${where}: ${message}`, detail: { file: where } });
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(path, `cannot be read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(path, `is not valid JSON (${(e as Error).message}): fix the syntax or delete the file to use the defaults`);
  }
}

/** Defaults, then config.json, then command-line overrides; validated as a whole. */
export function loadConfig(home: string, overrides: ConfigOverrides = {}): AgentConfig {
  const path = join(home, 'config.json');
  const file = (readJson(path) ?? {}) as Record<string, Record<string, unknown>>;
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw invalid(path, 'must be a JSON object such as {"api": {"port": 8471}}');
  const merged = {
    ...DEFAULTS,
    ...file,
    api: { ...DEFAULTS.api, ...file.api, ...(overrides.port !== undefined ? { port: overrides.port } : {}), ...(overrides.host ? { host: overrides.host } : {}) },
    backend: { ...DEFAULTS.backend, ...file.backend, ...(overrides.backendUrl ? { url: overrides.backendUrl } : {}), ...(overrides.protocol ? { protocol: overrides.protocol } : {}) },
    settlement: { ...DEFAULTS.settlement, ...file.settlement },
    outbox: { ...DEFAULTS.outbox, ...file.outbox },
  };
  const r = schema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    throw invalid(path, `${field}: ${issue.message} (see the DEFAULTS in agent/config.ts)`);
  }
  return r.data;
}

export interface TerminalIdentity {
  terminalId: string;
  key: Buffer;
  demo: boolean;
}

const terminalFile = z.object({ terminalId: z.string().min(1).max(32), key: z.base64().min(16, 'must be the base64 key from provisioning') });

/** The provisioned terminal, else in demo mode the public demo terminal. */
export function loadTerminal(home: string, demo: boolean): TerminalIdentity {
  const path = join(home, 'terminal.json');
  const raw = readJson(path);
  if (raw === undefined) {
    if (demo) return { terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, demo: true };
    throw new ScanpayError('CONFIG_TERMINAL_MISSING', { message: `no ${path}: provision this device, or run with --demo to use the public demo terminal` });
  }
  assertOwnerOnly(path, 'the terminal key');
  const r = terminalFile.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalid(path, `${issue.path.join('.')}: ${issue.message}`);
  }
  return { terminalId: r.data.terminalId, key: Buffer.from(r.data.key, 'base64'), demo: false };
}

/**
 * Payment codes and the activation exchange must not cross a network in clear. http:// is
 * accepted in demo mode, to this machine (a local TLS proxy, the simulator: `warning`
 * says so), or with `backend.allowInsecureHttp: true`; anything else is refused.
 */
export function checkBackendTransport(url: string, o: { demo?: boolean; allowInsecureHttp?: boolean | undefined }): { warning?: string } {
  const u = new URL(url);
  if (u.protocol === 'https:') return {};
  if (o.demo) return {};
  if (isLoopback(u.hostname)) return { warning: `backend ${u.origin} is plain HTTP on this machine: fine for a local TLS proxy or the simulator, never for a remote acquirer` };
  if (o.allowInsecureHttp) return { warning: `backend ${u.origin} is plain HTTP (backend.allowInsecureHttp): payment codes and activation travel in clear` };
  throw new ScanpayError('CONFIG_BACKEND_CLEARTEXT', {
    message: `backend ${u.origin} is plain HTTP: payment codes and the activation exchange would travel in clear; use the acquirer's https:// URL (or, for a lab only, set "backend": {"allowInsecureHttp": true} in config.json)`,
  });
}
