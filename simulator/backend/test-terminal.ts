/**
 * A minimal signing terminal: sends protocol v1 requests over real HTTP and verifies the
 * answers, with hooks to forge the envelope (missing, tampered, wrong key, skewed,
 * replayed). For tests and QA scripts; the agent has its own backend client.
 */
import { request as httpRequest } from 'node:http';
import type { Clock } from '../../agent/clock.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { PATHS, RESPONSE_SCHEMAS, type Operation } from '../../agent/protocol/messages.ts';
import { HEADER, NonceCache, newNonce, signRequest, verifyResponse } from '../../agent/protocol/signing.ts';

export interface TestTerminalOptions {
  /** Base URL of the backend, e.g. http://127.0.0.1:8470 */
  url: string;
  terminal: { terminalId: string; key: Buffer };
  clock: Clock;
}

export interface CallOptions {
  /** Sign with this key instead of the terminal's. */
  key?: Buffer;
  /** Sign with this timestamp instead of clock.now(). */
  timestamp?: number;
  /** Use this nonce (to replay one). */
  nonce?: string;
  /** Leave out the signature headers (terminal id still sent). */
  unsigned?: boolean;
  /** Change the bytes after signing. */
  tamper?: (body: Buffer) => Buffer;
  /** Send these bytes instead of the JSON of `body` (signed as sent). */
  rawBody?: Buffer;
}

export interface CallResult {
  status: number;
  /** The parsed JSON body, or undefined when it is not JSON. */
  body: unknown;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  /** The response signature verified against this request's nonce. */
  verified: boolean;
  /** Why it did not verify (a ScanpayError code), when it did not. */
  verifyError?: string;
  /** The body matched the operation's response schema (only for 200s). */
  valid: boolean;
  /** The request nonce sent, so a test can replay it. */
  nonce: string;
}

export interface TestTerminal {
  /** Rejects with the socket error (ECONNRESET, ECONNREFUSED, …) when no answer comes. */
  call(op: Operation, body: unknown, options?: CallOptions): Promise<CallResult>;
}

export function createTestTerminal({ url, terminal, clock }: TestTerminalOptions): TestTerminal {
  const responseNonces = new NonceCache();
  return {
    call(op, body, options = {}) {
      const path = PATHS[op];
      const signedBytes = options.rawBody ?? Buffer.from(JSON.stringify(body));
      const nonce = options.nonce ?? newNonce();
      const parts = { method: 'POST', path, terminalId: terminal.terminalId, body: signedBytes };
      const signed = signRequest(parts, options.key ?? terminal.key, options.timestamp ?? clock.now(), nonce);
      const sent = options.tamper ? options.tamper(signedBytes) : signedBytes;
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(sent.length),
        [HEADER.terminal]: terminal.terminalId,
        ...(options.unsigned ? {} : signed),
      };
      return new Promise<CallResult>((resolve, reject) => {
        const req = httpRequest(new URL(path, url), { method: 'POST', headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            let verifyError: string | undefined;
            try {
              verifyResponse({ ...parts, status, requestNonce: nonce, body: raw }, res.headers, terminal.key, { now: clock.now(), nonces: responseNonces });
            } catch (e) {
              verifyError = isScanpayError(e) ? e.code : String(e);
            }
            const text = raw.toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const valid = status === 200 && RESPONSE_SCHEMAS[op].safeParse(parsed).success;
            resolve({ status, body: parsed, text, headers: res.headers, verified: !verifyError, ...(verifyError ? { verifyError } : {}), valid, nonce });
          });
        });
        req.on('error', reject);
        req.end(sent);
      });
    },
  };
}
