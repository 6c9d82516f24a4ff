/**
 * `$SCANPAY_HOME/terminal.json`: the terminal's identity and key, written by provisioning
 * and key rotation. Owner-only (0600) and replaced atomically, so a power cut during a
 * rotation leaves either the old key or the new one, never half of either.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';

export interface TerminalRecord {
  terminalId: string;
  merchantId: string;
  merchantName: string;
  /** base64 */
  key: string;
  keyVersion: number;
  backendUrl: string;
  activatedAt: number;
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
