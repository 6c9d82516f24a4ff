/**
 * The device operations' client (agent/backend/device-client.ts) against small real HTTP
 * servers on loopback: what it sends (docs/protocol.md, "Device operations"), which answers
 * it takes, and the typed error each other outcome becomes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DeviceClient, type Credentials } from '../../agent/backend/device-client.ts';
import { ManualClock } from '../../agent/clock.ts';
import { HEADER, NonceCache, signResponse, verifyRequest } from '../../agent/protocol/signing.ts';
import { closeNewest, listenOnLoopback } from '../support/loopback.ts';

const key = Buffer.from('device-client-test-key-0123456789');
const creds: Credentials = { terminalId: 'T-7', key };
const clock = new ManualClock();
interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A server that records each request and answers what `answer` says. */
async function serve(answer: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(r);
      answer(r, res);
    });
  });
  await listenOnLoopback(s);
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

/** A 200 answer signed as the backend signs it, for the request it answers. */
const signed = (body: unknown, signKey = key) => (req: Seen, res: http.ServerResponse) => {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers = signResponse({ method: 'POST', path: req.path, terminalId: String(req.headers[HEADER.terminal]), body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, signKey, clock.now());
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(raw);
};

const refuse = (status: number, body: unknown) => (_: Seen, res: http.ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

const client = (baseUrl: string, credentials: () => Credentials = () => creds, timeoutMs?: number) =>
  new DeviceClient({ baseUrl, clock, credentials, ...(timeoutMs ? { timeoutMs } : {}) });

const heartbeatAnswer = { result: 'OK', serverTime: 5, paramsVersion: 3, rotateKey: false };
const xKey = 'A'.repeat(43) + '=';
const helloAnswer = { result: 'HELLO', activationId: `S-${'ab'.repeat(16)}`, serverEphemeral: xKey, salt: 'c2FsdA==', kdf: { N: 2 ** 15, r: 8, p: 1 } };

describe('signed device operations', () => {
  it('sends the body as JSON to the operation\'s path, signed as docs/protocol.md writes it, and takes a verified answer', async () => {
    const gw = await serve(signed({ result: 'UNCHANGED', version: 2 }));
    const before = performance.now();
    const r = await client(gw.url).call('params', { version: 2 });
    const elapsed = performance.now() - before;
    expect(r.body).toEqual({ result: 'UNCHANGED', version: 2 });
    // The latency reported is the round trip's, within the time the call took.
    expect(r.latencyMs).toBeLessThanOrEqual(Math.ceil(elapsed));
    const [req] = gw.seen;
    expect(req!.path).toBe('/v1/params');
    expect(JSON.parse(req!.body.toString())).toEqual({ version: 2 });
    expect(req!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req!.headers[HEADER.terminal]).toBe('T-7');
    // The gateway's side of the check: the request verifies under the terminal's key.
    expect(() => verifyRequest({ method: 'POST', path: '/v1/params', terminalId: 'T-7', body: req!.body }, req!.headers, key, { now: clock.now(), nonces: new NonceCache() })).not.toThrow();
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('returns the answer as its schema reads it', async () => {
    const gw = await serve(signed({ ...heartbeatAnswer, extra: 'dropped' }));
    const r = await client(gw.url).call('heartbeat', {});
    expect(r.body).toEqual(heartbeatAnswer);
  });

  it('reads the credentials at each call: a rotated key signs the next call; a call may name its own', async () => {
    let current = creds;
    const newKey = Buffer.from('rotated-key-abcdefghijklmnopqrstuv');
    const gw = await serve((req, res) => signed(heartbeatAnswer, String(req.headers[HEADER.terminal]) === 'T-8' ? newKey : key)(req, res));
    const c = client(gw.url, () => current);
    await c.call('heartbeat', {});
    current = { terminalId: 'T-8', key: newKey };
    await c.call('heartbeat', {});
    await c.call('heartbeat', {}, creds);
    expect(gw.seen.map((s) => s.headers[HEADER.terminal])).toEqual(['T-7', 'T-8', 'T-7']);
    const verify = (i: number, k: Buffer) => verifyRequest({ method: 'POST', path: '/v1/heartbeat', terminalId: String(gw.seen[i]!.headers[HEADER.terminal]), body: gw.seen[i]!.body }, gw.seen[i]!.headers, k, { now: clock.now(), nonces: new NonceCache() });
    expect(() => verify(1, newKey)).not.toThrow();
    expect(() => verify(1, key)).toThrow();
  });

  it('an answer that does not verify is refused: unsigned, signed with another key, or replayed', async () => {
    const unsigned = await serve(refuse(200, heartbeatAnswer));
    await expect(client(unsigned.url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_SIGNATURE_INVALID', detail: { op: 'heartbeat' } });
    const forged = await serve(signed(heartbeatAnswer, Buffer.from('not-the-terminal-key-0123456789')));
    await expect(client(forged.url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_SIGNATURE_INVALID', message: expect.stringContaining('PROTO_SIGNATURE_INVALID') });
    // A genuine answer to the first request, played back to the second: bound to the first's nonce.
    let first: { headers: Record<string, string>; raw: Buffer } | undefined;
    const replay = await serve((req, res) => {
      if (!first) {
        const raw = Buffer.from(JSON.stringify(heartbeatAnswer));
        first = { raw, headers: signResponse({ method: 'POST', path: req.path, terminalId: 'T-7', body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, key, clock.now()) as unknown as Record<string, string> };
      }
      res.writeHead(200, { 'content-type': 'application/json', ...first.headers });
      res.end(first.raw);
    });
    const c = client(replay.url);
    await expect(c.call('heartbeat', {})).resolves.toMatchObject({ body: heartbeatAnswer });
    await expect(c.call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_SIGNATURE_INVALID' });
  });

  it('a verified answer out of shape or not JSON is malformed, never taken', async () => {
    const wrong = await serve(signed({ ...heartbeatAnswer, serverTime: 'noon', paramsVersion: 0 }));
    // Every field at fault, by its path, for the technician reading the error.
    await expect(client(wrong.url).call('heartbeat', {})).rejects.toMatchObject({
      code: 'BACKEND_MALFORMED',
      detail: { op: 'heartbeat' },
      message: expect.stringMatching(/^answer to heartbeat is malformed \(serverTime: [^;]+; paramsVersion: [^;]+\)$/),
    });
    const nested = await serve(signed({ result: 'NEW', params: {} }));
    await expect(client(nested.url).call('params', {})).rejects.toMatchObject({ code: 'BACKEND_MALFORMED', message: expect.stringContaining('(params.version: ') });
    const text = await serve(signed('<html>'));
    await expect(client(text.url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_MALFORMED', detail: { op: 'heartbeat' } });
  });

  it('a refusal for clock skew says by how much this device is off (device minus backend)', async () => {
    const gw = await serve(refuse(401, { error: { code: 'PROTO_TIMESTAMP_SKEW', message: 'skew' }, serverTime: clock.now() - 90_000 }));
    const e = await client(gw.url).call('heartbeat', {}).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'PROTO_TIMESTAMP_SKEW', detail: { op: 'heartbeat', status: 401, code: 'PROTO_TIMESTAMP_SKEW', serverTime: clock.now() - 90_000, skewMs: 90_000 } });
    expect((e as Error).message).toContain('about 90 s');
  });

  it('other refusals are HTTP status errors named by their protocol code; a 401 at activation means a wrong code', async () => {
    const gw = await serve(refuse(403, { error: { code: 'PROTO_ROTATION_REFUSED', message: 'no' } }));
    const e = await client(gw.url).call('rotateKey', {}).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { op: 'rotateKey', status: 403, code: 'PROTO_ROTATION_REFUSED' } });
    expect((e as { detail: object }).detail).not.toHaveProperty('skewMs');
    const denied = await serve(refuse(401, { error: { code: 'PROTO_SIGNATURE_INVALID', message: 'bad signature' } }));
    await expect(client(denied.url).call('activate', {})).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED', detail: { op: 'activate', status: 401 } });
    // A 401 elsewhere is not about an activation code.
    await expect(client(denied.url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { status: 401 } });
    // Nor is an unknown terminal on a heartbeat (a revoked device), or another status at activate.
    const unknown = await serve(refuse(401, { error: { code: 'PROTO_UNKNOWN_TERMINAL', message: 'revoked' } }));
    await expect(client(unknown.url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { code: 'PROTO_UNKNOWN_TERMINAL' } });
    const busy = await serve(refuse(503, { error: { code: 'PROTO_BUSY', message: 'later' } }));
    await expect(client(busy.url).call('activate', {})).rejects.toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { op: 'activate', status: 503 } });
    // A bare 401 at activate (no JSON body) is still a refused code.
    const bare = await serve(refuse(401, 'Unauthorized'));
    const b = await client(bare.url).call('activate', {}).catch((x: unknown) => x);
    expect(b).toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED', detail: { status: 401 } });
    expect((b as Error).message).toContain('unknown code');
    const proxy = await serve(refuse(502, '<html>bad gateway</html>'));
    const p = await client(proxy.url).call('upload', {}).catch((x: unknown) => x);
    expect(p).toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { op: 'upload', status: 502, code: undefined }, message: 'the backend answered upload with HTTP 502' });
    expect((p as { detail: object }).detail).not.toHaveProperty('serverTime');
  });

  it('a refusal\'s message names the status, then the protocol code and the backend\'s words when it sent them', async () => {
    const worded = await serve(refuse(403, { error: { code: 'PROTO_ROTATION_REFUSED', message: 'rotation disabled' } }));
    await expect(client(worded.url).call('rotateKey', {})).rejects.toMatchObject({ message: 'the backend answered rotateKey with HTTP 403 (PROTO_ROTATION_REFUSED: rotation disabled)' });
    const bare = await serve(refuse(409, { error: { code: 'PROTO_BATCH_OPEN' } }));
    await expect(client(bare.url).call('settle', {})).rejects.toMatchObject({ message: 'the backend answered settle with HTTP 409 (PROTO_BATCH_OPEN: )' });
  });

  it('no gateway listening is not sent; a connection cut after the request is unknown', async () => {
    const gw = await serve(() => {});
    const url = gw.url;
    await closeNewest();
    await expect(client(url).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_NOT_SENT', detail: { op: 'heartbeat' }, message: `the backend at ${url} unreachable (ECONNREFUSED)` });
    const cut = await serve((_, res) => res.socket!.destroy());
    await expect(client(cut.url).call('settle', {})).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN', detail: { op: 'settle' }, message: 'no answer to settle (ECONNRESET)' });
  });

  it('a gateway slower than the client\'s timeout is no answer', async () => {
    const slow = await serve((req, res) => setTimeout(() => signed(heartbeatAnswer)(req, res), 3_000));
    await expect(client(slow.url, () => creds, 300).call('heartbeat', {})).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN' });
  });
});

describe('the unsigned activation hello', () => {
  it('sends the hello unsigned as JSON and takes an answer in shape', async () => {
    const gw = await serve(refuse(200, helloAnswer));
    const hello = { codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey };
    await expect(client(gw.url).hello(hello)).resolves.toEqual(helloAnswer);
    const [req] = gw.seen;
    expect(req!.path).toBe('/v1/activate/hello');
    expect(JSON.parse(req!.body.toString())).toEqual(hello);
    expect(req!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req!.headers[HEADER.signature]).toBeUndefined();
  });

  it('refuses a weakened or malformed hello answer', async () => {
    const weak = await serve(refuse(200, { ...helloAnswer, kdf: { N: 2 ** 10, r: 8, p: 1 } }));
    await expect(client(weak.url).hello({ codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED', detail: { op: 'activateHello' } });
    const text = await serve(refuse(200, 'hello'));
    await expect(client(text.url).hello({ codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED', message: expect.stringMatching(/^answer to activateHello is malformed \(.*JSON/) });
  });

  it('an unknown code is an activation refusal with the backend\'s reason; other refusals are status errors', async () => {
    const gw = await serve(refuse(401, { error: { code: 'PROTO_UNKNOWN_TERMINAL', message: 'code spent' } }));
    const e = await client(gw.url).hello({ codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED', detail: { op: 'activateHello', status: 401, code: 'PROTO_UNKNOWN_TERMINAL' } });
    expect((e as Error).message).toContain('code spent');
    const other = await serve(refuse(500, { error: { code: 'PROTO_INTERNAL', message: 'x' } }));
    await expect(client(other.url).hello({ codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey })).rejects.toMatchObject({ code: 'BACKEND_HTTP_STATUS', detail: { status: 500 }, message: 'the backend answered activateHello with HTTP 500 (PROTO_INTERNAL: x)' });
  });

  it('no gateway listening is not sent', async () => {
    const gw = await serve(() => {});
    await closeNewest();
    await expect(client(gw.url).hello({ codeId: 'K7QP', ephemeralKey: xKey, deviceKey: xKey })).rejects.toMatchObject({ code: 'BACKEND_NOT_SENT', detail: { op: 'activateHello' } });
  });
});
