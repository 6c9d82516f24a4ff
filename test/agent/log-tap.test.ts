/**
 * The suite-wide log-leak scan cannot pass by not looking: the tap is on in every test
 * file, it sees the lines of the silent logger and of children, and the scan that fails a
 * file finds a payment code, a token or a key wherever it was logged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../agent/log.ts';
import { maskCode } from '../../agent/payment-code.ts';
import { newTraceId } from '../../agent/payment/engine.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { leaksIn, scanTapDir } from '../support/log-scan.ts';

const CODE = '134567890123456789';

describe('log tap', () => {
  it('is on in this test file, and the silent logger and a created one both write to it', () => {
    const dir = process.env.SCANPAY_LOG_TAP;
    expect(dir).toMatch(/scanpay-log-tap-/);
    silentLogger.debug({ probe: 'silent-probe' }, 'tap probe');
    createLogger({ level: 'warn', destination: { write: () => {} } }).trace({ probe: 'trace-probe' }, 'tap probe');
    const { lines, leaks } = scanTapDir(dir!);
    expect(lines).toBeGreaterThanOrEqual(2);
    expect(leaks).toEqual([]);
    expect(readdirSync(dir!)).toContain(`${process.pid}.ndjson`);
  });

  it('finds a payment code under any key, as text or as bytes, and tokens and keys; not masked codes or order numbers', () => {
    expect(leaksIn(JSON.stringify({ codeMasked: CODE }))).toEqual([`payment code ${maskCode(CODE)}`]);
    expect(leaksIn(JSON.stringify({ msg: `scan ${CODE} refused` }))).toHaveLength(1);
    expect(leaksIn(JSON.stringify({ rawPacket: { type: 'Buffer', data: [...Buffer.from(`{"x":"${CODE}"}`)] } }))).toHaveLength(1);
    expect(leaksIn('{"headers":"Authorization: Bearer AbCdEf0123456789"}')).toEqual(['bearer token']);
    expect(leaksIn('{"token":"AbCdEf0123456789xyz"}')).toEqual(['unmasked "token"']);
    expect(leaksIn(`{"secret":"${DEMO_TERMINAL.key.toString('hex')}"}`)).toEqual(['the demo terminal key']);
    expect(leaksIn(JSON.stringify({ codeMasked: maskCode(CODE), orderNo: 'T000000126113009061234abcd', token: '[masked]', headers: 'Bearer [masked]' }))).toEqual([]);
  });

  it('a trace id is never taken for a payment code (a 16-digit hex id could be, and once failed a CI run)', () => {
    // The old hex form: this id is valid hex and reads as an Alipay code.
    expect(leaksIn(JSON.stringify({ traceId: '2611830472253126' }))).toHaveLength(1);
    const ids = Array.from({ length: 20_000 }, newTraceId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(ids.flatMap((id) => leaksIn(JSON.stringify({ traceId: id })))).toEqual([]);
  });

  it('catches a code a child process logs through the real logger under a key redaction does not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-log-tap-planted-'));
    try {
      const script = `import { createLogger } from ${JSON.stringify(new URL('../../agent/log.ts', import.meta.url).href)};
createLogger({ level: 'silent' }).info({ codeMasked: '${CODE}' }, 'payment accepted');`;
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, SCANPAY_LOG_TAP: dir }, stdio: 'pipe' });
      const { lines, leaks } = scanTapDir(dir);
      expect(lines).toBe(1);
      expect(leaks).toEqual([expect.objectContaining({ what: `payment code ${maskCode(CODE)}` })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
