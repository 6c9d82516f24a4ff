/**
 * A technician sets a device up for a WeChat Pay merchant: `provisionWechat` stores the
 * credential files owner-only and writes config.json; `doctor` says exactly what is missing
 * or wrong (missing file, readable by others, wrong password, expired certificate).
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realDoctorDeps } from '../../agent/cli/doctor.ts';
import { runDoctor } from '../../agent/doctor.ts';
import { loadConfig } from '../../agent/config.ts';
import { provisionWechat } from '../../agent/backend/wechat/provision-wechat.ts';
import type { ScanpayError } from '../../agent/errors.ts';
import { issueClientCert } from '../../simulator/backend/wechat/client-cert.ts';
import { DEMO_FILES, DEMO_MERCHANT, issueDemoClientCert } from '../../simulator/backend/wechat/demo-merchant.ts';

let home: string;
let src: string;
let minted: string;
const from = (f: string, name: string) => {
  const dest = join(src, name);
  copyFileSync(f, dest);
  return dest;
};
const doctorCheck = async () => (await runDoctor({ ...realDoctorDeps(home), deviceNodes: () => [], agentScanners: async () => undefined })).find((c) => c.name === 'wechat credentials')!;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-wxprov-'));
  src = mkdtempSync(join(tmpdir(), 'scanpay-wxsrc-'));
  // As the simulator hands one out: `scanpay sim backend --protocol wechat-v2 --issue-client-cert DIR`.
  minted = issueDemoClientCert(join(src, 'minted')).p12File;
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(src, { recursive: true, force: true });
});

const v2 = () => ({ home, protocol: 'wechat-v2' as const, backendUrl: 'https://127.0.0.1:9', appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKeyFile: from(DEMO_FILES.apiKey, 'apikey.txt'), clientCertFile: from(minted, 'apiclient_cert.p12') });

describe('provision --protocol wechat-v2 / wechat-v3', () => {
  it('stores owner-only copies, writes config.json, and doctor passes', async () => {
    const r = provisionWechat(v2());
    expect(statSync(join(home, 'wechat')).mode & 0o777).toBe(0o700);
    for (const f of [r.config.apiKeyFile!, r.config.clientCertFile!]) {
      expect(f.startsWith(join(home, 'wechat'))).toBe(true);
      expect(statSync(f).mode & 0o777).toBe(0o600);
    }
    const config = loadConfig(home);
    expect(config.backend).toMatchObject({ protocol: 'wechat-v2', url: 'https://127.0.0.1:9', wechat: { mchId: '10000100' } });
    expect(readFileSync(join(home, 'config.json'), 'utf8')).not.toContain(DEMO_MERCHANT.apiKey);
    const check = await doctorCheck();
    expect(check).toMatchObject({ status: 'pass' });
    expect(check.detail).toContain('valid until');
  });

  it('v3: signing key, serial read from the certificate, platform certificate', () => {
    const r = provisionWechat({ home, protocol: 'wechat-v3', appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, clientKeyFile: from(DEMO_FILES.merchant.key, 'apiclient_key.pem'), clientCertFile: from(DEMO_FILES.merchant.cert, 'apiclient_cert.pem'), platformCertFile: from(DEMO_FILES.platform.cert, 'wechatpay.pem') });
    expect(r.credentials.serialNo).toBe('3D8E410E8738566B541395DDE3FF7373B577E0DA');
    expect(loadConfig(home).backend.url).toBe('https://api.mch.weixin.qq.com');
  });

  it('names everything that is missing', () => {
    expect(() => provisionWechat({ home, protocol: 'wechat-v2', appId: '', mchId: '10000100' })).toThrow(/--app-id.*--api-key-file.*--client-cert/);
    expect(() => provisionWechat({ home, protocol: 'wechat-v3', appId: DEMO_MERCHANT.appId, mchId: '10000100' })).toThrow(/--client-key.*--client-cert.*--platform-cert/);
  });

  it('names every missing item in the merchant platform\'s words; v3 takes a serial instead of the certificate', () => {
    const refusal = (i: Parameters<typeof provisionWechat>[0]) => {
      try {
        provisionWechat(i);
      } catch (e) {
        expect((e as ScanpayError).code).toBe('CONFIG_WECHAT_CREDENTIALS');
        return (e as Error).message;
      }
      throw new Error('provisioned');
    };
    expect(refusal({ home, protocol: 'wechat-v2', appId: '', mchId: '' })).toBe(
      'scanpay provision --protocol wechat-v2: missing --app-id (the app id bound to the merchant, wx…); --mch-id (商户号); --api-key-file (a file holding the 32-character API key, API密钥); --client-cert (apiclient_cert.p12, or apiclient_cert.pem with --client-key): reverse and refund need it',
    );
    expect(refusal({ home, protocol: 'wechat-v3', appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId })).toBe(
      'scanpay provision --protocol wechat-v3: missing --client-key (apiclient_key.pem: v3 signs every request with it); --client-cert (apiclient_cert.pem) or --cert-serial (the certificate serial); --platform-cert (the WeChat Pay platform certificate that signs every answer)',
    );
    expect(refusal({ home, protocol: 'wechat-v3', appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, certSerial: 'ABC', clientKeyFile: 'k', platformCertFile: 'p' })).toBe('k (clientKeyFile) does not exist');
  });

  it('a file that is not there is named, with its field, before anything is written', () => {
    const gone = join(src, 'gone.p12');
    let error: ScanpayError | undefined;
    try {
      provisionWechat({ ...v2(), clientCertFile: gone });
    } catch (e) {
      error = e as ScanpayError;
    }
    expect([error?.code, error?.message, error?.detail]).toEqual(['CONFIG_WECHAT_CREDENTIALS', `${gone} (clientCertFile) does not exist`, { file: gone }]);
    expect(existsSync(join(home, 'wechat'))).toBe(false);
    expect(existsSync(join(home, 'config.json'))).toBe(false);
  });

  it('config.json keeps its other sections and backend fields; the sign type and serial are written only when given', () => {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ pos: { port: 8080 }, backend: { timeoutMs: { pay: 9000 }, url: 'https://old.example' } }));
    provisionWechat({ ...v2(), signType: 'HMAC-SHA256' });
    const text = readFileSync(join(home, 'config.json'), 'utf8');
    const written = JSON.parse(text);
    // Indented and ending in a newline, for the technician who reads or edits it.
    expect(text).toBe(`${JSON.stringify(written, null, 2)}\n`);
    expect(statSync(join(home, 'config.json')).mode & 0o777).toBe(0o600);
    expect(written).toMatchObject({ pos: { port: 8080 }, backend: { timeoutMs: { pay: 9000 }, url: 'https://127.0.0.1:9', protocol: 'wechat-v2' } });
    expect(written.backend.wechat).toMatchObject({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, signType: 'HMAC-SHA256' });
    expect('certSerial' in written.backend.wechat).toBe(false);
    const v3 = provisionWechat({ home, protocol: 'wechat-v3', appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, certSerial: '3D8E410E8738566B541395DDE3FF7373B577E0DA', clientKeyFile: from(DEMO_FILES.merchant.key, 'apiclient_key.pem'), platformCertFile: from(DEMO_FILES.platform.cert, 'wechatpay.pem') });
    expect(v3.config).toEqual({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, certSerial: '3D8E410E8738566B541395DDE3FF7373B577E0DA', clientKeyFile: join(home, 'wechat', 'apiclient_key.pem'), platformCertFile: join(home, 'wechat', 'wechatpay.pem') });
  });

  it('provisioning again from the stored copies keeps them, owner-only, in an owner-only folder', () => {
    const first = provisionWechat(v2());
    chmodSync(join(home, 'wechat'), 0o755);
    chmodSync(first.config.apiKeyFile!, 0o644);
    const before = readFileSync(first.config.clientCertFile!);
    const again = provisionWechat({ ...v2(), apiKeyFile: first.config.apiKeyFile, clientCertFile: first.config.clientCertFile });
    expect(again.config).toEqual(first.config);
    expect(readFileSync(again.config.clientCertFile!)).toEqual(before);
    expect(statSync(again.config.apiKeyFile!).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'wechat')).mode & 0o777).toBe(0o700);
  });

  it('refuses a wrong PKCS#12 password and a bad API key before writing anything', () => {
    const pw = join(src, 'pw.txt');
    writeFileSync(pw, 'not-the-password');
    expect(() => provisionWechat({ ...v2(), clientCertPassphraseFile: pw })).toThrow(/wrong password/);
    const badKey = join(src, 'bad.txt');
    writeFileSync(badKey, 'short');
    expect(() => provisionWechat({ ...v2(), apiKeyFile: badKey })).toThrow(/32 letters and digits/);
    expect(() => readFileSync(join(home, 'config.json'))).toThrow();
  });

  it('doctor: a credential readable by others, a missing file, an expired certificate', async () => {
    const r = provisionWechat(v2());
    chmodSync(r.config.apiKeyFile!, 0o644);
    expect(await doctorCheck()).toMatchObject({ status: 'fail', detail: expect.stringContaining(`chmod 600 ${r.config.apiKeyFile}`) });
    rmSync(r.config.apiKeyFile!);
    expect(await doctorCheck()).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${r.config.apiKeyFile} does not exist`) });
    provisionWechat({ ...v2(), clientCertFile: from(DEMO_FILES.clientExpired.cert, 'apiclient_cert.pem'), clientKeyFile: from(DEMO_FILES.clientExpired.key, 'apiclient_key.pem') });
    const expired = await doctorCheck();
    expect(expired).toMatchObject({ status: 'fail', detail: expect.stringContaining('expired on Jan  1 00:00:00 2021 GMT') });
    expect(expired.fix).toContain('scanpay provision --protocol wechat-v2 --client-cert');
  });

  it('doctor: a client certificate issued to another merchant', async () => {
    const other = issueClientCert(join(src, 'other'), { mchId: '19999999', ca: { cert: DEMO_FILES.ca, key: DEMO_FILES.caKey } });
    const pw = join(src, 'pw.txt');
    writeFileSync(pw, other.passphrase);
    provisionWechat({ ...v2(), clientCertFile: other.p12File, clientCertPassphraseFile: pw });
    expect(await doctorCheck()).toMatchObject({ status: 'fail', detail: expect.stringContaining('issued to merchant 19999999, not 10000100') });
  });
});
