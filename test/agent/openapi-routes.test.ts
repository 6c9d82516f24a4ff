/**
 * docs/openapi.json and the POS API's routes stay in step: every route the app registers
 * is documented with its methods, every documented operation is served, and the one open
 * endpoint (the agent's proof) is documented as needing no token and answers as it says,
 * checked against openssl's HMAC.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newChallenge } from '../../agent/agent-proof.ts';
import { silentLogger } from '../../agent/log.ts';
import { buildPosApi } from '../../agent/pos-api/build-pos-api.ts';
import { listenPosApi } from '../../agent/pos-api/listen.ts';
import type { PosService } from '../../agent/pos-service.ts';

type Operation = { security?: unknown[]; parameters?: Array<{ name: string; in: string; required?: boolean }> };
const openapi = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, Operation>> };
const TOKEN = 'test-token-for-the-route-listing';

// Only the route table and the proof endpoint are exercised: no handler here reaches the service.
const noService = { onEvent: () => () => {} } as unknown as PosService;
const app = buildPosApi({
  service: noService,
  token: TOKEN,
  logger: silentLogger,
  metrics: { contentType: 'text/plain', text: async () => '' },
  openapi,
  info: () => ({}),
  scan: () => {
    throw new Error('not reached');
  },
  startOfToday: () => 0,
});
let base: string;
beforeAll(async () => {
  base = await listenPosApi(app, { host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

/** Every route the server answers: its route table, the one it dispatches on. */
const served = () => [...app.routes].sort();

function documented(): string[] {
  return Object.entries(openapi.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('docs/openapi.json', () => {
  it('documents exactly the routes the POS API serves', () => {
    expect(served()).toContain('GET /v1/agent/proof');
    expect(documented()).toEqual(served());
  });

  it('every documented operation is answered over HTTP, and a path or method not documented is not found', async () => {
    const notFound = async (method: string, path: string) => {
      const res = await fetch(`${base}${path.replace(/\{\w+\}/g, 'X1')}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
      const body = res.headers.get('content-type')?.startsWith('application/json') ? ((await res.json()) as { error?: { code: string } }) : (await res.body?.cancel(), {});
      return body.error?.code === 'API_NOT_FOUND';
    };
    for (const op of documented()) {
      const [method, path] = op.split(' ') as [string, string];
      expect(await notFound(method, path), op).toBe(false);
    }
    expect(await notFound('GET', '/v1/payments/X1/nothing')).toBe(true);
    expect(await notFound('DELETE', '/v1/payments/X1')).toBe(true);
    expect(await notFound('GET', '/v1/payments/')).toBe(true);
  });

  it('documents the proof endpoint as open, with its challenge, and the agent answers it without a token as documented', async () => {
    const op = openapi.paths['/v1/agent/proof']!.get!;
    expect(op.security).toEqual([]);
    expect(op.parameters).toEqual([expect.objectContaining({ name: 'challenge', in: 'query', required: true })]);
    const port = Number(new URL(base).port);
    const challenge = newChallenge();
    const res = await fetch(`${base}/v1/agent/proof?challenge=${challenge}`);
    expect(res.status).toBe(200);
    const { proof } = (await res.json()) as { proof: string };
    // The documented construction, computed by openssl: HMAC-SHA256 under the token, base64url.
    const mac = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `key:${TOKEN}`, '-binary'], { input: `scanpay-agent-proof-v1\n${challenge}\n${port}` });
    expect(proof).toBe(mac.toString('base64url'));
    expect((await fetch(`${base}/v1/agent/proof?challenge=short`)).status).toBe(400);
  });
});
