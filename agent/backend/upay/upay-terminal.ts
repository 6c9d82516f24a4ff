/**
 * The Upay terminal's identity and its device operations (WoSai/shouqianba-doc
 * en/api/terminal/): activation with the vendor's credentials and an activation code,
 * daily check-in that rotates the terminal key (Upay keeps the current and the previous one
 * valid), and log upload. The identity lives in `$SCANPAY_HOME/upay-terminal.json`,
 * owner-only, replaced atomically: a new key is on disk before any request is signed with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { writeFileAtomic } from '../../atomic-file.ts';
import { ScanpayError } from '../../errors.ts';
import { assertOwnerOnly } from '../../secret-file.ts';
import { envelope } from './upay-answers.ts';
import type { UpayCredentials } from './upay-acquirer.ts';
import { UpayHttp } from './upay-http.ts';

export interface UpayVendor {
  vendorSn: string;
  vendorKey: string;
  appId: string;
}

const record = z.object({
  terminalSn: z.string().min(1).max(32),
  terminalKey: z.string().min(1),
  /** The key before the last check-in: still valid at Upay, kept for requests signed with it. */
  previousKey: z.string().optional(),
  deviceId: z.string().min(1).max(32),
  backendUrl: z.string(),
  activatedAt: z.number().int(),
  checkedInAt: z.number().int().optional(),
  logsUploadedAt: z.number().int().optional(),
});
export type UpayTerminalRecord = z.infer<typeof record>;

export const upayTerminalPath = (home: string) => join(home, 'upay-terminal.json');

export function readUpayTerminal(home: string): UpayTerminalRecord | undefined {
  const path = upayTerminalPath(home);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  assertOwnerOnly(path, 'the Upay terminal key');
  const r = record.safeParse(JSON.parse(text));
  if (!r.success) throw new ScanpayError('CONFIG_INVALID', { message: `${path}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}: provision again with --protocol upay` });
  return r.data;
}

export function writeUpayTerminal(home: string, r: UpayTerminalRecord): void {
  writeFileAtomic(upayTerminalPath(home), `${JSON.stringify(r, null, 2)}\n`, 0o600);
}

const TIMEOUT_MS = 15_000;

/** Device operations on the wire; every failure is a typed error, never a half-done state. */
export class UpayTerminalClient {
  readonly #http: UpayHttp;

  constructor(baseUrl: string) {
    this.#http = new UpayHttp(baseUrl);
  }

  async activate(v: UpayVendor, o: { code: string; deviceId: string; name?: string }): Promise<UpayCredentials> {
    const body = { app_id: v.appId, code: o.code, device_id: o.deviceId, client_sn: o.deviceId, ...(o.name ? { name: o.name } : {}), os_info: `${process.platform} ${process.arch}` };
    const biz = await this.#biz('/terminal/activate', Buffer.from(JSON.stringify(body)), v.vendorSn, v.vendorKey, 'CONFIG_ACTIVATION_REFUSED');
    return credentialsOf(biz);
  }

  /** Rotates the key: the answer's key is the new current one. Signed with the current key. */
  async checkin(c: UpayCredentials, deviceId: string): Promise<UpayCredentials> {
    const biz = await this.#biz('/terminal/checkin', Buffer.from(JSON.stringify({ terminal_sn: c.terminalSn, device_id: deviceId })), c.terminalSn, c.terminalKey, 'CONFIG_KEY_ROTATION_FAILED');
    const next = credentialsOf(biz);
    if (next.terminalSn !== c.terminalSn) throw new ScanpayError('CONFIG_KEY_ROTATION_FAILED', { message: 'the check-in answered for another terminal' });
    return next;
  }

  /** The body is the gzipped log itself, signed like any request. */
  async uploadLog(c: UpayCredentials, gzipped: Buffer): Promise<void> {
    const r = await this.#http.post('/terminal/uploadLog', gzipped, c.terminalSn, c.terminalKey, TIMEOUT_MS, 'application/octet-stream');
    if (r.kind !== 'answer' || r.status !== 200 || !/"result_code"\s*:\s*"200"/.test(r.body)) {
      throw new ScanpayError('BACKEND_UNKNOWN', { message: `log upload not accepted (${r.kind === 'answer' ? `HTTP ${r.status}: ${r.body.slice(0, 200)}` : r.error.message})` });
    }
  }

  async #biz(path: string, body: Buffer, sn: string, key: string, refused: 'CONFIG_ACTIVATION_REFUSED' | 'CONFIG_KEY_ROTATION_FAILED'): Promise<Record<string, unknown>> {
    const r = await this.#http.post(path, body, sn, key, TIMEOUT_MS);
    if (r.kind !== 'answer') throw new ScanpayError(refused === 'CONFIG_ACTIVATION_REFUSED' ? 'BACKEND_UNKNOWN' : refused, { message: `${path}: ${r.error.message}`, cause: r.error });
    try {
      const e = envelope(JSON.parse(r.body));
      if (e.kind === 'biz') return e.biz;
      throw new ScanpayError(e.kind === 'refused' ? refused : 'BACKEND_UNKNOWN', { message: `${path} refused: ${e.code}${e.message ? ` (${e.message})` : ''}`, detail: { code: e.code } });
    } catch (e) {
      if (e instanceof ScanpayError) throw e;
      throw new ScanpayError('BACKEND_MALFORMED', { message: `${path}: unreadable answer (${(e as Error).message})`, detail: { status: r.status } });
    }
  }
}

function credentialsOf(biz: Record<string, unknown>): UpayCredentials {
  const { terminal_sn: sn, terminal_key: key } = biz;
  // A typed error like every other failure here: an answer without an identity is unreadable.
  if (typeof sn !== 'string' || !sn || typeof key !== 'string' || !key) throw new ScanpayError('BACKEND_MALFORMED', { message: 'no terminal_sn/terminal_key in the answer' });
  return { terminalSn: sn, terminalKey: key };
}
