/**
 * A taken POS API port, said the way a cashier or technician can act on: which process
 * holds it (found through /proc on Linux: the listening socket's inode, then the process
 * with that socket open; only processes this user may inspect), and how to choose another.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { ScanpayError } from '../errors.ts';

/** Inodes of the sockets listening on `port` (LISTEN is state 0A in /proc/net/tcp). */
function listeningInodes(port: number, procRoot: string): string[] {
  const inodes: string[] = [];
  for (const table of ['net/tcp', 'net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && Number.parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.push(f[9]!);
    }
  }
  return inodes;
}

/** "pid 1234 (node agent/bin/scanpay.js run)" for the process holding the port, when this user can see it. */
export function portHolder(port: number, procRoot = '/proc'): string | undefined {
  const sockets = new Set(listeningInodes(port, procRoot).map((i) => `socket:[${i}]`));
  if (sockets.size === 0) return undefined;
  for (const pid of readdirSync(procRoot).filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone meanwhile
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!sockets.has(target)) continue;
      const cmd = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      return `pid ${pid} (${cmd.length > 120 ? `${cmd.slice(0, 117)}…` : cmd})`;
    }
  }
  return undefined;
}

export function portInUseError(host: string, port: number, cause: unknown): ScanpayError {
  const holder = portHolder(port);
  const who = holder ? `held by ${holder}` : 'held by another process (`ss -ltnp` shows which; run it as root if it shows none)';
  return new ScanpayError('API_PORT_IN_USE', {
    message: `port ${port} on ${host} is ${who}. If that is a scanpay agent already running, use it; else stop it, or start on another port: scanpay run --port N (or api.port in config.json)`,
    cause,
    detail: { host, port, ...(holder ? { holder } : {}) },
  });
}
