/**
 * `$SCANPAY_HOME/terminal.json`: the terminal's identity and key, written by provisioning
 * and key rotation. Owner-only (0600) and replaced atomically, so a power cut during a
 * rotation leaves either the old key or the new one, never half of either.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { newX25519, rawPrivate, x25519FromPrivate, type X25519Pair } from './protocol/device-messages.ts';
import { assertOwnerOnly } from './secret-file.ts';

export interface TerminalRecord {
  terminalId: string;
  merchantId: string;
  merchantName: string;
  /** base64 */
  key: string;
  keyVersion: number;
  backendUrl: string;
  activatedAt: number;
  /**
   * The device's X25519 share of a rotation under way (raw private key, base64), on disk
   * before the request leaves: a lost answer is asked again with the same share, and the
   * backend takes a different share for the same rotation as a sign of a copied key.
   */
  rotation?: { privateKey: string };
}

export const terminalPath = (home: string) => join(home, 'terminal.json');

export function readTerminalRecord(home: string): TerminalRecord | undefined {
  try {
    return JSON.parse(readFileSync(terminalPath(home), 'utf8')) as TerminalRecord;
  } catch {
    return undefined;
  }
}

export function writeTerminalRecord(home: string, r: TerminalRecord): void {
  writeFileAtomic(terminalPath(home), `${JSON.stringify(r, null, 2)}\n`, 0o600);
}

/** Identifies a key in logs and support bundles without revealing it. */
export function keyFingerprint(key: Buffer): string {
  return `${key.length * 8}-bit, sha256 ${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

export const deviceKeyPath = (home: string) => join(home, 'device-key');

/**
 * The device's long-term X25519 key, made on first activation and kept owner-only: an
 * activation code, once used, activates again only for the holder of this key.
 */
export function ensureDeviceKey(home: string): X25519Pair {
  const path = deviceKeyPath(home);
  try {
    writeFileSync(path, `${rawPrivate(newX25519().privateKey)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  assertOwnerOnly(path, 'the device key');
  return x25519FromPrivate(readFileSync(path, 'utf8').trim());
}
