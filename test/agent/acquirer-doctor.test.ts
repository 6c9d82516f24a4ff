/**
 * `scanpay doctor` for an acquirer other than protocol v1 (agent/backend/acquirer-doctor.ts):
 * the two checks, each with the fix a technician can act on. The passing round trip against
 * a real Upay gateway is in test/agent/upay-provision.test.ts; here a loopback gateway plays
 * the failures.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquirerChecks } from '../../agent/backend/acquirer-doctor.ts';
import { rsa2Sign } from '../../agent/backend/alipay/alipay-sign.ts';
import { ManualClock } from '../../agent/clock.ts';
import { DEFAULTS, type AgentConfig } from '../../agent/config.ts';
import { closeNewest, listenOnLoopback } from '../support/loopback.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-acquirer-doctor-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const config = (backend: Partial<AgentConfig['backend']>): AgentConfig => ({ ...DEFAULTS, backend: { ...DEFAULTS.backend, ...backend } }) as AgentConfig;
const alipay = { appId: '2021000000000001', appPrivateKeyFile: 'app.key', alipayPublicKeyFile: 'alipay.pub' };
const clock = new ManualClock();

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

/** Writes the app's private key and "Alipay's" public key; returns the private half Alipay signs with. */
function writeAlipayKeys(): string {
  const app = rsa();
  const gateway = rsa();
  writeFileSync(join(home, 'app.key'), app.privateKey, { mode: 0o600 });
  writeFileSync(join(home, 'alipay.pub'), gateway.publicKey);
  return gateway.privateKey;
}

/** An alipay.trade.query answer signed as Alipay signs it (RSA2 over the member's exact text). */
const signedQueryAnswer = (signKey: string, member: object) => (res: http.ServerResponse) => {
  const raw = JSON.stringify(member);
  res.writeHead(200, { 'content-type': 'application/json' }).end(`{"alipay_trade_query_response":${raw},"sign":"${rsa2Sign(raw, signKey)}"}`);
};

async function gateway(answer: (res: http.ServerResponse) => void): Promise<string> {
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await listenOnLoopback(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/gateway.do`;
}

describe('acquirerChecks', () => {
  it('no identity: both checks fail, with the way to provision this acquirer', async () => {
    const upay = await acquirerChecks(home, config({ protocol: 'upay', url: 'http://127.0.0.1:9' }), clock);
    expect(upay).toEqual([
      { name: 'terminal identity', status: 'fail', detail: expect.stringContaining('no Upay terminal'), fix: 'scanpay provision --protocol upay --backend URL --activation-code CODE' },
      { name: 'signature round trip', status: 'fail', detail: 'not checked: no identity', fix: 'scanpay provision --protocol upay --backend URL --activation-code CODE' },
    ]);
    const noKeys = await acquirerChecks(home, config({ protocol: 'alipay', url: 'http://127.0.0.1:9', alipay }), clock);
    expect(noKeys.map((c) => [c.status, c.fix])).toEqual([
      ['fail', 'set backend.url and backend.alipay (docs/acquirers/alipay.md)'],
      ['fail', 'set backend.url and backend.alipay (docs/acquirers/alipay.md)'],
    ]);
  });

  it('keys that load but no backend.url: the identity check says so', async () => {
    writeAlipayKeys();
    const checks = await acquirerChecks(home, config({ protocol: 'alipay', alipay }), clock);
    expect(checks[0]).toMatchObject({ name: 'terminal identity', status: 'fail', detail: 'backend.url is not set' });
  });

  it('a gateway that cannot be reached fails the round trip with a network fix', async () => {
    writeAlipayKeys();
    const url = await gateway(() => {});
    await closeNewest();
    const [identity, trip] = await acquirerChecks(home, config({ protocol: 'alipay', alipay, url }), clock);
    expect(identity).toEqual({ name: 'terminal identity', status: 'pass', detail: 'alipay credentials load (keys owner-only)' });
    expect(trip).toMatchObject({ name: 'signature round trip', status: 'fail', detail: expect.stringMatching(/^BACKEND_NOT_SENT: /), fix: `check the network and that ${url} is up` });
  });

  it('an answer that does not verify fails the round trip with a keys-and-clock fix', async () => {
    writeAlipayKeys();
    const url = await gateway((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"alipay_trade_query_response":{"code":"10000"},"sign":"AAAA"}'));
    const [, trip] = await acquirerChecks(home, config({ protocol: 'alipay', alipay, url }), clock);
    expect(trip).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^BACKEND_/), fix: 'check the keys, the gateway URL and the clock (timedatectl status)' });
  });

  it('a signed "no such order" proves URL, keys and clock together', async () => {
    const alipayKey = writeAlipayKeys();
    const url = await gateway(signedQueryAnswer(alipayKey, { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: 'no such trade' }));
    const [identity, trip] = await acquirerChecks(home, config({ protocol: 'alipay', alipay, url }), clock);
    expect(identity!.status).toBe('pass');
    expect(trip).toEqual({ name: 'signature round trip', status: 'pass', detail: expect.stringMatching(new RegExp(`^${url} answered a signed query in \\d+ ms$`)) });
  });

  it('any other signed answer is a refusal: the round trip fails with the gateway\'s reason', async () => {
    const alipayKey = writeAlipayKeys();
    const url = await gateway(signedQueryAnswer(alipayKey, { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: 'bad app id' }));
    const [, trip] = await acquirerChecks(home, config({ protocol: 'alipay', alipay, url }), clock);
    expect(trip).toEqual({ name: 'signature round trip', status: 'fail', detail: 'the gateway refused a signed query: isv.invalid-app-id bad app id', fix: 'check the keys (re-provision, or the app keys in backend.alipay) and the clock' });
  });
});
