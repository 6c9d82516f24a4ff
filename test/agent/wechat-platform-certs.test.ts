/**
 * WeChat Pay v3 platform-certificate rotation: the AEAD_AES_256_GCM decryption checked
 * against a second implementation (Python's `cryptography`), and the adapter following a
 * rotation of the simulator's platform certificate through GET /v3/certificates, keeping
 * the old and the new by serial. Without the APIv3 key, an answer under the new
 * certificate stays what it is: no verified answer.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { loadWechatCredentials, type WechatConfig } from '../../agent/backend/wechat/credentials.ts';
import { loadCachedPlatformCerts, platformCertCacheFile, saveCachedPlatformCerts } from '../../agent/backend/wechat/platform-cert-cache.ts';
import { decryptResource, readCertificatesAnswer } from '../../agent/backend/wechat/platform-certs.ts';
import { certSerial } from '../../agent/backend/wechat/v3-signing.ts';
import { WechatV3Acquirer } from '../../agent/backend/wechat/wechat-v3-acquirer.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { DEMO_FILES, demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import { PlatformKeys } from '../../simulator/backend/wechat/platform-keys.ts';
import { wechatWire, type WechatWire } from '../../simulator/backend/wechat/wechat-wire.ts';

const API_V3_KEY = readFileSync(DEMO_FILES.apiV3Key, 'utf8').trim();
const dir = mkdtempSync(join(tmpdir(), 'scanpay-wxplat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('AEAD_AES_256_GCM resources', () => {
  it('decrypts what Python cryptography encrypted, and refuses it with a wrong key, nonce, associated data or a flipped bit', () => {
    const plain = readFileSync(DEMO_FILES.platform.cert, 'utf8');
    writeFileSync(join(dir, 'plain.pem'), plain);
    const script = [
      'import base64, sys',
      'from cryptography.hazmat.primitives.ciphers.aead import AESGCM',
      'key, nonce, aad, path = sys.argv[1:5]',
      'data = open(path, "rb").read()',
      'print(base64.b64encode(AESGCM(key.encode()).encrypt(nonce.encode(), data, aad.encode())).decode())',
    ].join('\n');
    const ciphertext = execFileSync('python3', ['-c', script, API_V3_KEY, 'a1b2c3d4e5f6', 'certificate', join(dir, 'plain.pem')]).toString().trim();
    const r = { algorithm: 'AEAD_AES_256_GCM', nonce: 'a1b2c3d4e5f6', associated_data: 'certificate', ciphertext };
    expect(decryptResource(API_V3_KEY, r)).toBe(plain);
    expect(() => decryptResource(`${API_V3_KEY.slice(1)}x`, r)).toThrow();
    expect(() => decryptResource(API_V3_KEY, { ...r, nonce: 'a1b2c3d4e5f7' })).toThrow();
    expect(() => decryptResource(API_V3_KEY, { ...r, associated_data: 'certificatE' })).toThrow();
    const flipped = Buffer.from(ciphertext, 'base64');
    flipped[10]! ^= 1;
    expect(() => decryptResource(API_V3_KEY, { ...r, ciphertext: flipped.toString('base64') })).toThrow();
    expect(() => decryptResource(API_V3_KEY, { ...r, algorithm: 'AES_128_CBC' })).toThrow(/unsupported/);
    expect(() => decryptResource(API_V3_KEY.slice(1), r)).toThrow(/32 bytes/);
    expect(() => decryptResource(`${API_V3_KEY}x`, r)).toThrow(/32 bytes/);
    expect(() => decryptResource(API_V3_KEY, { ...r, ciphertext: Buffer.alloc(16).toString('base64') })).toThrow(/too short/);
    // Without associated_data WeChat's AAD is empty, as Python's None.
    const noAad = execFileSync('python3', ['-c', script.replace('aad.encode()', 'None'), API_V3_KEY, 'a1b2c3d4e5f6', '', join(dir, 'plain.pem')]).toString().trim();
    expect(decryptResource(API_V3_KEY, { algorithm: 'AEAD_AES_256_GCM', nonce: 'a1b2c3d4e5f6', ciphertext: noAad })).toBe(plain);
  });

  it('reads a certificate list only when each certificate has the serial it is listed under', () => {
    const keys = new PlatformKeys();
    const body = keys.certificatesBody(API_V3_KEY) as { data: Array<{ serial_no: string }> };
    expect([...readCertificatesAnswer(JSON.stringify(body), API_V3_KEY).keys()]).toEqual([keys.current.serial]);
    body.data[0]!.serial_no = keys.current.serial.toLowerCase();
    expect([...readCertificatesAnswer(JSON.stringify(body), API_V3_KEY).keys()]).toEqual([keys.current.serial]);
    expect(() => readCertificatesAnswer('{"data":[{"serial_no":"1"}]}', API_V3_KEY)).toThrow();
    body.data[0]!.serial_no = 'ABCDEF0123';
    expect(() => readCertificatesAnswer(JSON.stringify(body), API_V3_KEY)).toThrow(/has serial/);
  });
});

describe('the platform certificate cache', () => {
  it('is PEM, one certificate after another, owner-only; read back are those valid at the time given, to the millisecond', () => {
    const file = platformCertCacheFile(dir);
    expect(file).toBe(join(dir, 'wechat-platform-certs.pem'));
    const platform = new X509Certificate(readFileSync(DEMO_FILES.platform.cert));
    const expired = new X509Certificate(readFileSync(DEMO_FILES.clientExpired.cert));
    saveCachedPlatformCerts(file, new Map([[certSerial(platform), platform], [certSerial(expired), expired]]));
    expect(readFileSync(file, 'utf8')).toBe(`${platform.toString().trim()}\n${expired.toString().trim()}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect([...loadCachedPlatformCerts(file, Date.parse(expired.validTo) - 1).keys()]).toEqual([certSerial(platform), certSerial(expired)]);
    expect([...loadCachedPlatformCerts(file, Date.parse(expired.validTo)).keys()]).toEqual([certSerial(platform)]);
    expect([...loadCachedPlatformCerts(file, Date.parse(platform.validTo) - 1).keys()]).toEqual([certSerial(platform)]);
    expect(loadCachedPlatformCerts(file, Date.parse(platform.validTo)).size).toBe(0);
  });

  it('no cache file, or one without a certificate, is an empty cache', () => {
    expect(loadCachedPlatformCerts(join(dir, 'never-written.pem'), Date.now()).size).toBe(0);
    writeFileSync(join(dir, 'blank.pem'), 'nothing here\n');
    expect(loadCachedPlatformCerts(join(dir, 'blank.pem'), Date.now()).size).toBe(0);
  });
});

describe('wechat-v3 platform certificate rotation', () => {
  const clock = new ManualClock(Date.now());
  let wire: WechatWire;
  let backend: RunningBackend;
  beforeAll(async () => {
    wire = wechatWire('wechat-v3');
    backend = await startBackend({ wire, clock });
  });
  afterAll(() => backend.close());

  const adapter = (config: WechatConfig) => {
    const credentials = loadWechatCredentials('wechat-v3', config, false);
    return { credentials, acquirer: new WechatV3Acquirer({ baseUrl: backend.url, credentials, clock, terminalId: 'T0000001' }) };
  };
  let n = 0;
  const pay = (a: WechatV3Acquirer) => a.pay({ orderNo: `ROT${String(++n).padStart(8, '0')}`, paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }), amount: 500, currency: 'CNY' });

  it('follows a rotation: fetches /v3/certificates, decrypts, verifies, and keeps old and new by serial', async () => {
    const withKey = adapter(demoWechatConfig('wechat-v3'));
    const { apiV3KeyFile: _k, ...noKeyConfig } = demoWechatConfig('wechat-v3');
    const withoutKey = adapter(noKeyConfig);
    const first = certSerial(new X509Certificate(readFileSync(DEMO_FILES.platform.cert)));
    expect(await pay(withKey.acquirer)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect([...withKey.credentials.platformCerts!.keys()]).toEqual([first]);

    const next = wire.platform!.rotate();
    expect(next).not.toBe(first);
    expect(await pay(withKey.acquirer)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect([...withKey.credentials.platformCerts!.keys()].sort()).toEqual([first, next].sort());
    // The certificate it now trusts is the one the simulator minted from its CA, as openssl sees it.
    writeFileSync(join(dir, 'next.pem'), withKey.credentials.platformCerts!.get(next)!.toString());
    expect(execFileSync('openssl', ['verify', '-CAfile', DEMO_FILES.ca, join(dir, 'next.pem')]).toString()).toMatch(/: OK$/m);

    // No APIv3 key, no way to learn the new certificate: the paid answer is no answer (the engine queries on).
    const blind = await pay(withoutKey.acquirer);
    expect(blind).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID' } });
    expect(backend.sim.ledger().filter((e) => e.kind === 'charge')).toHaveLength(3);
  });
  it('keeps what a fetch learnt across a restart: the restarted agent, without the APIv3 key, verifies the rotated certificate at once', async () => {
    const cache = join(dir, 'wechat-platform-certs.pem');
    const credentials = loadWechatCredentials('wechat-v3', demoWechatConfig('wechat-v3'), false);
    const saved: string[][] = [];
    const learner = new WechatV3Acquirer({
      baseUrl: backend.url,
      credentials,
      clock,
      terminalId: 'T0000001',
      onPlatformCerts: (certs) => (saved.push([...certs.keys()]), saveCachedPlatformCerts(cache, certs)),
    });
    const next = wire.platform!.rotate();
    expect(await pay(learner)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(saved.at(-1)).toContain(next);

    // The restart: the configured certificate plus the cache, and no APIv3 key to fetch with.
    const { apiV3KeyFile: _k, ...noKeyConfig } = demoWechatConfig('wechat-v3');
    const restarted = loadWechatCredentials('wechat-v3', noKeyConfig, false);
    expect(restarted.platformCerts!.has(next)).toBe(false);
    for (const [serial, cert] of loadCachedPlatformCerts(cache, clock.now())) restarted.platformCerts!.set(serial, cert);
    const after = new WechatV3Acquirer({ baseUrl: backend.url, credentials: restarted, clock, terminalId: 'T0000001' });
    expect(await pay(after)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    // Expired certificates are not brought back, and a damaged cache is read as far as it goes.
    const cached = [...loadCachedPlatformCerts(cache, clock.now()).values()];
    const lastExpiry = Math.max(...cached.map((c) => Date.parse(c.validTo)));
    expect(loadCachedPlatformCerts(cache, lastExpiry - 1).size).toBeGreaterThan(0);
    expect(loadCachedPlatformCerts(cache, lastExpiry + 1).size).toBe(0);
    writeFileSync(cache, `${readFileSync(cache, 'utf8')}-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n`);
    expect(loadCachedPlatformCerts(cache, clock.now()).has(next)).toBe(true);
  });
});
