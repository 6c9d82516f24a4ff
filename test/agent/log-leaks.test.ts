/**
 * Issue 17: trace logs must not leak the POS token or payment codes (fastify's rawPacket,
 * axios' request config), error codes must stay readable in logs, and the support
 * bundle's scrub must see secrets carried as byte values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/daemon.ts';
import { createLogger } from '../../agent/log.ts';
import { scrub } from '../../agent/support-bundle.ts';

const CODE = '134567890123456789';
const asBytes = (s: string) => [...Buffer.from(s, 'latin1')].join(',');

function memoryLogger(level = 'trace') {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level, destination: { write: (s: string) => void lines.push(s) } }) };
}

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-logs-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('logs', () => {
  it('a malformed request at trace level logs neither the bearer token nor the payment code, as text or as bytes', async () => {
    const { lines, logger } = memoryLogger();
    const agent = await startAgent({ home, logger, demo: true, port: 0 });
    try {
      const { port } = new URL(agent.apiUrl);
      const body = JSON.stringify({ amount: 100, paymentCode: CODE });
      // An invalid Content-Length makes Node's HTTP parser fail with the whole packet on the error.
      const raw = `POST /v1/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${agent.token}\r\nContent-Length: 1x\r\n\r\n${body}`;
      const answer = await new Promise<string>((resolve, reject) => {
        const s = net.connect(Number(port), '127.0.0.1', () => s.end(raw));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1.1 400/);
    } finally {
      await agent.stop();
    }
    const all = lines.join('\n');
    for (const secret of [agent.token, CODE]) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(asBytes(secret.slice(0, 12)));
    }
    expect(all).toContain('malformed HTTP request refused');
  });

  it('errors keep their codes readable; request configs and raw packets on errors are not logged', () => {
    const { lines, logger } = memoryLogger('info');
    logger.warn({ code: 'BACKEND_UNKNOWN', message: 'no answer' }, 'device sync step failed');
    const err = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
      config: { data: JSON.stringify({ paymentCode: CODE }), headers: { authorization: 'Bearer sekrit-token-value' } },
      rawPacket: Buffer.from(`Authorization: Bearer sekrit-token-value ${CODE}`),
      cause: Object.assign(new Error('inner'), { request: { body: CODE } }),
    });
    logger.error({ err }, 'call failed');
    const all = lines.join('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ code: 'BACKEND_UNKNOWN' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ err: { message: expect.stringContaining('socket hang up'), code: 'ECONNRESET' } });
    expect(all).not.toContain(CODE);
    expect(all).not.toContain('sekrit');
    expect(all).not.toContain(asBytes('Authorization'));
  });
});

describe('support bundle scrub', () => {
  const token = 'tOkEn-0123456789abcdefghij';
  const packet = `POST /v1/payments HTTP/1.1\r\nAuthorization: Bearer ${token}\r\n\r\n{"paymentCode":"${CODE}"}`;

  it('masks the token and codes carried as byte values inside a log line, and the line still parses', () => {
    const line = JSON.stringify({ level: 10, err: { type: 'Error', rawPacket: { type: 'Buffer', data: [...Buffer.from(packet)] } }, msg: 'client error' });
    const [out] = scrub([line], [token]) as string[];
    expect(out).not.toContain(asBytes(token.slice(0, 10)));
    expect(out).not.toContain(token);
    expect(out).not.toContain(CODE);
    expect(out).not.toContain(asBytes(CODE.slice(0, 10)));
    expect(JSON.parse(out!).err.rawPacket.data).toContain('Bearer [masked]');
  });

  it('masks byte arrays in values too', () => {
    const out = JSON.stringify(scrub({ packet: [...Buffer.from(packet)], ports: [8471, 8470] }, [token]));
    expect(out).not.toContain(token);
    expect(out).not.toContain(CODE);
    expect(out).not.toContain(asBytes(token.slice(0, 10)));
    expect(out).toContain('[8471,8470]');
  });
});
