/** Where scanpay keeps its data: $SCANPAY_HOME, else a per-user directory. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

export function scanpayHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SCANPAY_HOME) return env.SCANPAY_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'scanpay');
  return join(homedir(), '.local', 'share', 'scanpay');
}

/** The data directory, created owner-only when missing. */
export function ensureHome(env: NodeJS.ProcessEnv = process.env): string {
  const dir = scanpayHome(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
