/**
 * The suite-wide log-leak scan (issue 13). Registered for every test file by
 * vitest.config.ts, before the file's own imports: every logger the file's tests create, in
 * this process and in every child it starts (they inherit SCANPAY_LOG_TAP), writes every
 * line at trace level to a private directory (agent/log.ts). After the file, once its
 * children are reaped, every line is scanned (test/support/log-scan.ts); a leak fails the
 * file, naming the file, the line and what leaked (masked). test/agent/log-tap.test.ts
 * proves the tap is on and that the scan catches a planted leak, in process and in a child.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { scanTapDir } from './log-scan.ts';

const dir = mkdtempSync(join(tmpdir(), 'scanpay-log-tap-'));
process.env.SCANPAY_LOG_TAP = dir;

afterAll(() => {
  const { leaks } = scanTapDir(dir);
  if (leaks.length) {
    // The directory is kept so that the whole line can be read: a leak is rare enough to be worth it.
    const list = leaks.slice(0, 20).map((l) => `  ${l.what} (process ${l.file}, line ${l.line})`);
    throw new Error(`log lines written during this file carry secrets or payment codes (kept in ${dir}):\n${list.join('\n')}`);
  }
  rmSync(dir, { recursive: true, force: true });
});
