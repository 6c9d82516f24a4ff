/**
 * Files that hold secrets (the terminal key, the POS API token) must be readable by their
 * owner only: anyone else who can read them can sign payments or drive the POS API.
 */
import { statSync } from 'node:fs';
import { ScanpayError } from './errors.ts';

export function assertOwnerOnly(path: string, holds: string): void {
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new ScanpayError('CONFIG_INVALID', { message: `${path} holds ${holds} and must be readable by its owner only: chmod 600 ${path}`, detail: { file: path } });
  }
}
