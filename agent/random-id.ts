/**
 * Random ids (order numbers, trace ids, POS ids) from the same CSPRNG as `randomBytes`,
 * drawn 4 KiB at a time, as Node's own `randomUUID` does: each `randomBytes` call is a trip
 * into OpenSSL, and a payment took two or three. Each byte is used once. Not for keys.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

/** `bytes` random bytes (at most 4 KiB) as text. */
export function randomId(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (used + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  const text = pool.toString(encoding, used, used + bytes);
  used += bytes;
  return text;
}
