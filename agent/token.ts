/**
 * The POS API's bearer token: created on first use as 32 random bytes in
 * `$SCANPAY_HOME/api-token` (owner-only), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanpayError } from './errors.ts';
import { assertOwnerOnly } from './secret-file.ts';

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
  assertOwnerOnly(path, 'the POS API token');
  const token = readFileSync(path, 'utf8').trim();
  if (token.length < 16) throw new ScanpayError('CONFIG_INVALID', { message: `${path} holds no usable token: delete it and a new one is created at the next start` });
  return token;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether a given token is `expected`. Constant-time: hashing first makes both sides the same
 * length, so length leaks nothing either. The expected digest is taken once, not per request.
 */
export function tokenMatcher(expected: string): (given: string) => boolean {
  const want = digest(expected);
  return (given) => timingSafeEqual(digest(given), want);
}
