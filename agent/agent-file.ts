/**
 * `$SCANPAY_HOME/agent.json`: where the running agent listens, so that `scanpay pay` and
 * friends find it even on an ephemeral port. Written at start, removed at a clean stop;
 * a stale one (after a power cut) only makes the client fail to connect, exit status 4.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AgentFile {
  apiUrl: string;
  pid: number;
  demo: boolean;
  /** The embedded simulated backend, in demo mode. */
  simulatorUrl: string | null;
}

const path = (home: string) => join(home, 'agent.json');

export function writeAgentFile(home: string, f: AgentFile): void {
  writeFileSync(path(home), `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 });
}

export function readAgentFile(home: string): AgentFile | undefined {
  try {
    return JSON.parse(readFileSync(path(home), 'utf8')) as AgentFile;
  } catch {
    return undefined;
  }
}

export function removeAgentFile(home: string): void {
  rmSync(path(home), { force: true });
}
