/**
 * The POS API's bearer token: created on first use as 32 random bytes in
 * `$SCANPAY_HOME/api-token` (owner-only), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function tokenPath(home: string): string {
  return join(home, 'api-token');
}

/** Reads the token, creating it when there is none yet; never overwrites one. */
export function ensureToken(home: string): string {
  const path = tokenPath(home);
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readFileSync(path, 'utf8').trim();
}

/** Constant-time: hashing first makes both sides the same length, so length leaks nothing either. */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
