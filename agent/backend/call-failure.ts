/**
 * How a failed HTTP exchange ends for any acquirer adapter: provably not sent (the
 * connection never opened) or unknown (the request may have arrived). One place, so every
 * wire format classifies transport failures the same way.
 */
import { AxiosError } from 'axios';
import { ScanpayError } from '../errors.ts';
import { NOT_SENT_CODES } from './http-acquirer.ts';

export function transportFailure(op: string, e: unknown): { kind: 'not_sent' | 'unknown'; error: ScanpayError } {
  const code = e instanceof AxiosError ? (e.code ?? '') : '';
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
