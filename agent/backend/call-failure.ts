/**
 * How a failed HTTP exchange ends for any acquirer adapter: provably not sent (the
 * connection never opened) or unknown (the request may have arrived). One place, so every
 * wire format classifies transport failures the same way.
 */
import { isAxiosError } from './axios-http.ts';
import { TransportError } from './protocol-http.ts';
import { isScanpayError, ScanpayError } from '../errors.ts';
import type { Operation } from '../protocol/messages.ts';
import type { CallResult } from './acquirer.ts';

/**
 * Failures that happen before a single byte of the request is written: the backend cannot
 * have seen it. The connection was refused or never routed, the name did not resolve.
 */
const NOT_CONNECTED_CODES = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN'];

/**
 * Our own check of the server's certificate failed during the handshake. Node writes the
 * request only after the handshake, so none of it left (a server refusing our client
 * certificate is not here: under TLS 1.3 that comes after the request may be on its way).
 */
const TLS_REJECTED_CODES = [
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
];

/** Every code that proves the request never left. Anything else (a timeout, a reset, a cancel) may come after it arrived. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([...NOT_CONNECTED_CODES, ...TLS_REJECTED_CODES]);

/** The system calls a not-sent code may come from: opening the connection, resolving the name. */
const BEFORE_SENDING = new Set(['connect', 'getaddrinfo']);

type Failure = { code?: unknown; syscall?: unknown; cause?: { code?: unknown; syscall?: unknown } };

/** A code that proves the request never left, raised (if by a system call) opening the connection or resolving the name. */
function provesNotSent(code: unknown, syscall: unknown): boolean {
  return typeof code === 'string' && NOT_SENT_CODES.has(code) && (syscall === undefined || BEFORE_SENDING.has(String(syscall)));
}

/**
 * Whether a failed exchange provably never left the device. Protocol v1's transport says
 * whether the connection was open; an open one proves nothing, whatever the code. Under
 * axios (WeChat, Alipay, Upay), axios's own code is trusted; on any error the code of its
 * cause (node's socket error) is. A code raised by a read or a write (an open connection:
 * Linux reports an ICMP "host unreachable" on a connection whose retransmissions timed out)
 * proves nothing.
 */
export function neverSent(e: unknown): boolean {
  if (e instanceof TransportError) return !e.connected && provesNotSent(e.code, e.syscall);
  const f = (typeof e === 'object' && e !== null ? e : {}) as Failure;
  const syscall = f.syscall ?? f.cause?.syscall;
  return (isAxiosError(e) && provesNotSent(f.code, syscall)) || provesNotSent(f.cause?.code, syscall);
}

/** The code a transport failure is named by: our own deadline's abort reads as DEADLINE. */
function failureCode(e: unknown): string {
  if (e instanceof TransportError) return e.code ?? '';
  if (!isAxiosError(e)) return '';
  return e.code === 'ERR_CANCELED' ? 'DEADLINE' : (e.code ?? '');
}

/** A thrown value's words: a promise can be rejected with anything, undefined included. */
const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * How a failed HTTP exchange ends for every acquirer client: provably not sent
 * (BACKEND_NOT_SENT, "<who> unreachable") or unknown (BACKEND_UNKNOWN), never a failure.
 */
export function transportFailure(op: string, e: unknown, who = 'backend'): { kind: 'not_sent' | 'unknown'; error: ScanpayError } {
  const code = failureCode(e);
  if (neverSent(e)) {
    const cause = (e as Failure).cause?.code;
    return { kind: 'not_sent', error: new ScanpayError('BACKEND_NOT_SENT', { message: `${who} unreachable (${typeof cause === 'string' ? cause : code})`, cause: e, detail: { op } }) };
  }
  return { kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN', { message: `no answer to ${op} (${code || describe(e)})`, cause: e, detail: { op } }) };
}

/** A verified-looking exchange that still carries no usable answer. */
export function noAnswer(code: 'BACKEND_SIGNATURE_INVALID' | 'BACKEND_MALFORMED' | 'BACKEND_HTTP_STATUS', op: string, message: string, body?: string): ScanpayError {
  return new ScanpayError(code, { message, detail: { op, ...(body !== undefined ? { body: body.slice(0, 512) } : {}) } });
}

/** The raw outcome of one HTTP exchange: a status and body to judge, or a transport failure. */
export type Exchange = { kind: 'answer'; status: number; body: string } | { kind: 'not_sent' | 'unknown'; error: ScanpayError };

/**
 * One timed acquirer call, judged the same way for every wire format without a signature
 * at the HTTP layer (Alipay, Upay): a transport failure as it was classified, a status
 * other than 200 as no answer, then the wire's own reading. `read` throws a ScanpayError
 * when the answer is not to be believed (e.g. its signature fails), or an error that
 * `unreadable` recognises when it cannot be read: both are no answer, never a failure.
 */
export async function judgedCall<T>(o: {
  op: Operation;
  /** Named in the errors: "Alipay answered pay with HTTP 502". */
  acquirer: string;
  exchange: () => Promise<Exchange>;
  read: (body: string) => T;
  unreadable: (e: unknown) => boolean;
  onCall?: ((op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void) | undefined;
}): Promise<CallResult<T>> {
  const { op } = o;
  const started = performance.now();
  const r = await o.exchange();
  const latencyMs = Math.round(performance.now() - started);
  const judged = ((): CallResult<T> => {
    if (r.kind !== 'answer') return { ...r, latencyMs };
    if (r.status !== 200) return { kind: 'unknown', latencyMs, error: noAnswer('BACKEND_HTTP_STATUS', op, `${o.acquirer} answered ${op} with HTTP ${r.status}`, r.body) };
    try {
      return { kind: 'answer', latencyMs, body: o.read(r.body) };
    } catch (e) {
      if (isScanpayError(e)) return { kind: 'unknown', latencyMs, error: e };
      if (!o.unreadable(e)) throw e;
      return { kind: 'unknown', latencyMs, error: noAnswer('BACKEND_MALFORMED', op, `answer to ${op} is unreadable (${(e as Error).message}): treated as no answer`, r.body) };
    }
  })();
  o.onCall?.(op, judged.kind, latencyMs);
  return judged;
}
