/**
 * One agent per `$SCANPAY_HOME`: two would drive the same unfinished payments twice and
 * the second would delete the first's agent.json when it stops. `agent.lock` holds the
 * running agent's pid, created exclusively; a lock whose process is gone (power cut,
 * SIGKILL) is taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { ScanpayError } from './errors.ts';

/** Homes locked by this process: a lock naming our own pid is stale unless it is in here (pid 1 in a container restarts as pid 1). */
const held = new Set<string>();

export interface InstanceLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists, under another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a power cut the pid may have been reused by something else (pids wrap at 32768
  // on many systems): where /proc says what runs under it, only a node process counts.
  try {
    return /node|scanpay|tsx/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

export function acquireInstanceLock(home: string, pid = process.pid): InstanceLock {
  const path = join(home, 'agent.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      held.add(path);
      return {
        release: () => {
          held.delete(path);
          // Only our own: a lock taken over after we were presumed dead is not ours to remove.
          if (readPid(path) === pid) rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readPid(path);
      const running = holder === pid ? held.has(path) : holder !== undefined && alive(holder);
      if (running) {
        throw new ScanpayError('JOURNAL_LOCKED', {
          message: `another agent (pid ${holder}) is running on ${home}: stop it first, or give this one its own SCANPAY_HOME`,
          detail: { pid: holder, home },
        });
      }
      rmSync(path, { force: true });
    }
  }
  throw new ScanpayError('JOURNAL_LOCKED', { message: `could not take ${path}: another agent is starting on ${home}`, detail: { home } });
}

function readPid(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
