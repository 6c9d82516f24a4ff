/**
 * How a failed HTTP exchange ends for any acquirer adapter: provably not sent (the
 * connection never opened) or unknown (the request may have arrived). One place, so every
 * wire format classifies transport failures the same way.
 */
import { isAxiosError } from './protocol-http.ts';
import { isScanpayError, ScanpayError } from '../errors.ts';
import type { Operation } from '../protocol/messages.ts';
import type { CallResult } from './acquirer.ts';
import { NOT_SENT_CODES } from './http-acquirer.ts';

export function transportFailure(op: string, e: unknown): { kind: 'not_sent' | 'unknown'; error: ScanpayError } {
  const code = isAxiosError(e) ? (e.code ?? '') : '';
  const cause = (e as { cause?: { code?: string } }).cause?.code ?? code;
  if (NOT_SENT_CODES.has(code) || NOT_SENT_CODES.has(cause)) {
    return { kind: 'not_sent', error: new ScanpayError('BACKEND_NOT_SENT', { message: `backend unreachable (${cause || code})`, cause: e, detail: { op } }) };
  }
  return { kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN', { message: `no answer to ${op} (${code || (e as Error).message})`, cause: e, detail: { op } }) };
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
