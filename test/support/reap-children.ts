/**
 * Every process a test file started dies with the file, whatever happened: a test that
 * hit its timeout abandons its promise, and with it the `finally` that would have stopped
 * its agent, simulator or socat. Registered for every file by vitest.config.ts; vitest
 * runs each file in its own worker process, so the worker's descendants are exactly what
 * the file's tests spawned.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll } from 'vitest';

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // gone already, or not Linux
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

/** Every live descendant of `pid`, children before grandchildren. */
export function descendantsOf(pid: number): number[] {
  const seen: number[] = [];
  const queue = childrenOf(pid);
  while (queue.length) {
    const p = queue.shift()!;
    seen.push(p);
    queue.push(...childrenOf(p));
  }
  return seen;
}

/** SIGKILLs what this process started and returns the pids it killed. */
export function reapChildren(pid = process.pid): number[] {
  const all = descendantsOf(pid);
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  return all;
}

afterAll(() => {
  const killed = reapChildren();
  if (killed.length) process.stderr.write(`reap-children: killed ${killed.length} process(es) a test left running: ${killed.join(' ')}\n`);
});
