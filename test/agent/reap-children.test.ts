import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { descendantsOf, reapChildren } from '../support/reap-children.ts';

describe('reaping what a test file left running', () => {
  it('kills children and grandchildren of the worker', async () => {
    // A shell that starts a grandchild, as `npx` or a socat wrapper would.
    const child = spawn('sh', ['-c', 'sleep 300 & wait'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    for (let i = 0; i < 200 && descendantsOf(child.pid!).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const grandchild = descendantsOf(child.pid!)[0]!;
    expect(grandchild).toBeGreaterThan(0);
    const killed = reapChildren();
    expect(killed).toEqual(expect.arrayContaining([child.pid, grandchild]));
    expect(await exited).toBe('SIGKILL');
    // Orphaned by the kill, the grandchild is reaped by init: wait until it is gone.
    const alive = () => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${grandchild}/status`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive()).toBe(false);
  });
});
