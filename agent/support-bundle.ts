/**
 * The support bundle of `scanpay logs --export FILE`: one gzipped JSON document with the
 * doctor's checks, the configuration and terminal identity without secrets, the parameter
 * set, a journal summary with recent events, and recent agent logs. Everything passes
 * through `scrub` before it is written: the terminal key and API token are removed
 * wherever they appear, fields that name a secret are masked, and any long run of digits
 * (a payment or card number) is masked as payment codes are on screens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from './atomic-file.ts';
import type { Check } from './doctor.ts';
import { Journal } from './journal/journal.ts';
import { loadParams } from './params.ts';
import { maskCode } from './payment-code.ts';
import { keyFingerprint, readTerminalRecord } from './terminal-store.ts';
import { tokenPath } from './token.ts';
import { AGENT_VERSION } from './version.ts';

export interface BundleDeps {
  home: string;
  now: number;
  doctor: () => Promise<Check[]>;
  /** Recent log lines of the agent and where they came from. */
  recentLogs: () => { source: string; lines: string[] };
}

const SECRET_FIELDS = /^(key|wrappedKey|privateKey|token|authorization|paymentCode|code_plain|password)$/i;
/**
 * Payment codes are 16–24 digits, card numbers 13–19. Standing alone, no other value
 * scanpay keeps is that long a run of digits; order numbers mix in letters and stay readable.
 */
const LONG_DIGITS = /(?<![A-Za-z0-9])\d{13,}(?![A-Za-z0-9])/g;
const RECENT_PAYMENTS = 20;
const SUMMARY_WINDOW = 10_000;

/**
 * Eight or more byte values in a row, as a serialized Buffer or Uint8Array shows them in a
 * log line ("data":[71,69,84,...]): a request's raw bytes, which may hold the token or a code.
 */
const BYTE_RUN = /\[\s*(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\s*,\s*){7,}(?:25[0-5]|2[0-4]\d|1?\d?\d)\s*\]/g;

function scrubText(text: string, known: string[]): string {
  let s = text;
  for (const k of known) if (k) s = s.split(k).join('[masked]');
  return s.replace(LONG_DIGITS, (d) => maskCode(d)).replace(/\/\/[^/@\s]+@/g, '//[masked]@');
}

/** Bytes are decoded and scrubbed as the text they carry, and kept only as that scrubbed text. */
function scrubBytes(bytes: number[], known: string[]): string {
  return scrubText(Buffer.from(bytes).toString('latin1'), known);
}

const isByteArray = (v: unknown): v is number[] => Array.isArray(v) && v.length >= 8 && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255);

/**
 * Masks secrets in any JSON-like value; `known` are exact secret strings to remove
 * wherever they occur, as text or as bytes (arrays of byte values, in a value or inside a
 * log line's text).
 */
export function scrub(value: unknown, known: string[]): unknown {
  if (typeof value === 'string') {
    // Inside a JSON log line the run becomes a JSON string, so the line still parses.
    return scrubText(value.replace(BYTE_RUN, (run) => JSON.stringify(scrubBytes(JSON.parse(run) as number[], known))), known);
  }
  if (isByteArray(value)) return scrubBytes(value, known);
  if (Array.isArray(value)) return value.map((v) => scrub(v, known));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.test(k) && v !== null ? '[masked]' : scrub(v, known)]));
  }
  return value;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function journalSummary(path: string): unknown {
  if (!existsSync(path)) return { note: 'no journal yet' };
  const j = Journal.open(path);
  try {
    const payments = j.listPayments({ limit: SUMMARY_WINDOW });
    const count = <T>(rows: T[], key: (r: T) => string) => rows.reduce<Record<string, number>>((n, r) => ((n[key(r)] = (n[key(r)] ?? 0) + 1), n), {});
    const outbox = j.outbox();
    return {
      payments: { window: `newest ${SUMMARY_WINDOW}`, byState: count(payments, (p) => p.state), byOutcome: count(payments, (p) => p.outcome ?? 'unfinished') },
      outbox: count(outbox, (o) => o.status),
      queue: outbox.filter((o) => o.status !== 'done').map(({ payload: _payload, ...o }) => o),
      settlements: j.settlements(10).map(({ report: _report, ...s }) => s),
      recent: payments.slice(0, RECENT_PAYMENTS).map((p) => ({
        orderNo: p.order_no,
        wallet: p.wallet,
        amount: p.amount,
        currency: p.currency,
        code: p.code_masked,
        state: p.state,
        outcome: p.outcome,
        reasonCode: p.reason_code,
        createdAt: p.created_at,
        events: j.events(p.order_no).map((e) => ({ at: e.at, state: e.state, cause: e.cause, detail: e.detail })),
      })),
    };
  } finally {
    j.close();
  }
}

function configSummary(home: string): unknown {
  const text = readOptional(join(home, 'config.json'));
  if (text === undefined) return { note: 'no config.json: defaults' };
  try {
    return JSON.parse(text);
  } catch {
    return { unparsable: text };
  }
}

export async function buildBundle(d: BundleDeps): Promise<Record<string, unknown>> {
  const record = readTerminalRecord(d.home);
  const known = [record?.key, readOptional(tokenPath(d.home))].filter((s): s is string => Boolean(s));
  const bundle = {
    createdAt: new Date(d.now).toISOString(),
    agentVersion: AGENT_VERSION,
    node: process.version,
    home: d.home,
    doctor: await d.doctor(),
    config: configSummary(d.home),
    terminal: record
      ? { terminalId: record.terminalId, merchantId: record.merchantId, merchantName: record.merchantName, keyVersion: record.keyVersion, keyFingerprint: keyFingerprint(Buffer.from(record.key, 'base64')), backendUrl: record.backendUrl, activatedAt: record.activatedAt }
      : null,
    params: loadParams(d.home) ?? null,
    journal: journalSummary(join(d.home, 'journal.db')),
    logs: d.recentLogs(),
  };
  return scrub(bundle, known) as Record<string, unknown>;
}

/** Writes the bundle gzipped and owner-only; returns its size in bytes. */
export async function exportBundle(file: string, d: BundleDeps): Promise<number> {
  const gz = gzipSync(`${JSON.stringify(await buildBundle(d), null, 2)}\n`);
  writeFileAtomic(file, gz, 0o600);
  return gz.length;
}
