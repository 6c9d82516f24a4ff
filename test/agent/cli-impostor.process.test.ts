/**
 * Issue 17 (and 19's usability item): the CLI must not hand the POS API token to whatever
 * listens on the agent's address. The agent proves it holds the token first; anything
 * else (a squatter, a relay to the real agent, another home's agent) gets nothing and the
 * CLI says the agent found is not the one for this $SCANPAY_HOME, exit status 4.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAgentFile } from '../../agent/agent-file.ts';
import { PosClient } from '../../agent/cli/pos-client.ts';
import { startAgent, type RunningAgent } from '../../agent/daemon.ts';
import { silentLogger } from '../../agent/log.ts';
import { ensureToken } from '../../agent/token.ts';

const bin = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

let home: string;
let impostor: { server: Server; url: string; seen: IncomingHttpHeaders[] } | undefined;
let agent: RunningAgent | undefined;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-impostor-'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  if (impostor) await new Promise((r) => impostor!.server.close(r));
  impostor = undefined;
  rmSync(home, { recursive: true, force: true });
});

/** Records every request's headers; answers "PAID" to everything, or relays to `relayTo`. */
async function startImpostor(relayTo?: string): Promise<NonNullable<typeof impostor>> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (!relayTo) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', status: 'paid', result: 'paid', state: 'paid', proof: 'AAAA', payments: [] }));
      return;
    }
    const up = httpRequest(`${relayTo}${req.url}`, { method: req.method, headers: req.headers }, (a) => {
      res.writeHead(a.statusCode ?? 502, a.headers);
      a.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  impostor = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  return impostor;
}

const tokenSent = (seen: IncomingHttpHeaders[], token: string) => seen.some((h) => JSON.stringify(h).includes(token));

describe('the CLI checks it reached its own agent before sending the token', () => {
  it('a program squatting on the API address (agent stopped) gets no token and cannot say PAID', async () => {
    const token = ensureToken(home);
    const fake = await startImpostor();
    writeAgentFile(home, { apiUrl: fake.url, pid: 1, demo: false, simulatorUrl: null });
    await expect(PosClient.forHome(home, { SCANPAY_HOME: home }).create({ id: 'sale-1', amount: 100, paymentCode: '134567890123456789' })).rejects.toMatchObject({ code: 'API_AGENT_MISMATCH' });
    expect(fake.seen.length).toBeGreaterThan(0);
    expect(tokenSent(fake.seen, token)).toBe(false);
  });

  it('a relay to the real agent gets a proof for the wrong port: still no token', async () => {
    agent = await startAgent({ home, logger: silentLogger, demo: true, port: 0 });
    const relay = await startImpostor(agent.apiUrl);
    await expect(new PosClient({ baseUrl: relay.url, token: agent.token, home }).list()).rejects.toMatchObject({ code: 'API_AGENT_MISMATCH' });
    expect(tokenSent(relay.seen, agent.token)).toBe(false);
    // The real agent, reached directly, proves itself and serves.
    await expect(new PosClient({ baseUrl: agent.apiUrl, token: agent.token, home }).list()).resolves.toMatchObject({ payments: [] });
  });

  it('another home\'s agent: `scanpay list` says it is not the agent for this SCANPAY_HOME, exit 4', async () => {
    const other = mkdtempSync(join(tmpdir(), 'scanpay-impostor-other-'));
    try {
      agent = await startAgent({ home: other, logger: silentLogger, demo: true, port: 0 });
      ensureToken(home);
      writeFileSync(join(home, 'agent.json'), JSON.stringify({ apiUrl: agent.apiUrl, pid: 1, demo: true, simulatorUrl: null }));
      const r = await new Promise<{ code: number; err: string }>((resolve) =>
        execFile(process.execPath, [bin, 'list'], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent' } }, (e, _out, err) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, err })),
      );
      expect(r.code).toBe(4);
      expect(r.err).toContain('API_AGENT_MISMATCH');
      expect(r.err).toContain(`is not the one for ${home}`);
    } finally {
      await agent?.stop();
      agent = undefined;
      rmSync(other, { recursive: true, force: true });
    }
  }, 60_000);
});
