/**
 * What a technician meets when a WeChat Pay merchant's files are read: each problem is a
 * CONFIG_WECHAT_CREDENTIALS error that names the file and the fix, and what loads is what
 * the merchant platform issued (serials as `openssl x509 -noout -serial` prints them, the
 * merchant number in the client certificate's CN).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClientCert, loadPlatformCerts, loadWechatCredentials, readSecret, subjectCn, type WechatConfig } from '../../agent/backend/wechat/credentials.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { DEMO_FILES, DEMO_MERCHANT, issueDemoClientCert } from '../../simulator/backend/wechat/demo-merchant.ts';

const dir = mkdtempSync(join(tmpdir(), 'scanpay-wxcred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** A copy of `src` (or a file holding `text`), owner-only unless `mode` says otherwise. */
function file(o: { src?: string; text?: string; mode?: number }): string {
  const p = join(dir, `f${++n}`);
  if (o.src) copyFileSync(o.src, p);
  else writeFileSync(p, o.text ?? '');
  chmodSync(p, o.mode ?? 0o600);
  return p;
}
/** The error thrown by `f`: a ScanpayError with the credentials code. */
function refusal(f: () => unknown): ScanpayError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ScanpayError);
    expect((e as ScanpayError).code).toBe('CONFIG_WECHAT_CREDENTIALS');
    return e as ScanpayError;
  }
  throw new Error('no error thrown');
}

const MERCHANT_SERIAL = '3D8E410E8738566B541395DDE3FF7373B577E0DA'; // openssl x509 -in merchant.crt -noout -serial
const PLATFORM_SERIAL = '23EEB31F1BC9646852961756687192E431B9B9E6'; // openssl x509 -in platform.crt -noout -serial
const minted = issueDemoClientCert(join(dir, 'minted'));

describe('secret files', () => {
  it('reads an owner-only file; refuses one any group or other can read, naming the chmod; a missing one says where to get it', () => {
    expect(readSecret(file({ text: 'x' }), 'the key').toString()).toBe('x');
    for (const mode of [0o640, 0o604, 0o644, 0o610]) {
      const p = file({ text: 'x', mode });
      const e = refusal(() => readSecret(p, 'the key'));
      expect(e.message).toContain(`chmod 600 ${p}`);
      expect(e.detail).toEqual({ file: p });
      expect(readSecret(p, 'the key', false).toString()).toBe('x');
    }
    const missing = join(dir, 'missing');
    const e = refusal(() => readSecret(missing, 'the key', false));
    expect(e.message).toMatch(/does not exist.*merchant platform/);
    expect(e.detail).toEqual({ file: missing });
  });
});

describe('the merchant API certificate', () => {
  it('PKCS#12 with WeChat\'s default password (the merchant number), or a password file (trimmed)', () => {
    const p12 = file({ src: minted.p12File });
    const c = loadClientCert({ clientCertFile: p12, mchId: DEMO_MERCHANT.mchId });
    expect(subjectCn(c.cert)).toBe(DEMO_MERCHANT.mchId);
    expect(c.tls).toEqual({ pfx: readFileSync(p12), passphrase: DEMO_MERCHANT.mchId });
    const pw = file({ text: `${minted.passphrase}\n` });
    expect(loadClientCert({ clientCertFile: p12, clientCertPassphraseFile: pw }).cert.serialNumber).toBe(minted.serial);
    expect(refusal(() => loadClientCert({ clientCertFile: p12, mchId: '19999999' })).message).toMatch(/wrong password/);
    expect(refusal(() => loadClientCert({ clientCertFile: p12 })).message).toMatch(/wrong password/);
  });

  it('a PEM certificate needs its key; a key of another certificate is refused', () => {
    const cert = file({ src: DEMO_FILES.merchant.cert });
    const c = loadClientCert({ clientCertFile: cert, clientKeyFile: file({ src: DEMO_FILES.merchant.key }) });
    expect(c.cert.serialNumber).toBe(MERCHANT_SERIAL);
    expect('cert' in c.tls && c.tls.cert.toString()).toBe(readFileSync(DEMO_FILES.merchant.cert, 'utf8'));
    expect(refusal(() => loadClientCert({ clientCertFile: cert })).message).toMatch(/clientKeyFile is not set/);
    const e = refusal(() => loadClientCert({ clientCertFile: cert, clientKeyFile: file({ src: DEMO_FILES.platform.key }) }));
    expect(e.message).toMatch(/do not belong together/);
    expect(e.detail).toEqual({ file: cert });
    expect(refusal(() => loadClientCert({})).message).toMatch(/clientCertFile is not set/);
  });

  it('a PKCS#12 file without a password loads with the empty password when no merchant number is set', () => {
    // openssl as the second implementation: the merchant's PEM pair exported with an empty password.
    const p12 = join(dir, 'nopass.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-in', DEMO_FILES.merchant.cert, '-inkey', DEMO_FILES.merchant.key, '-passout', 'pass:', '-out', p12]);
    chmodSync(p12, 0o600);
    expect(loadClientCert({ clientCertFile: p12 }).cert.serialNumber).toBe(MERCHANT_SERIAL);
  });

  it('a certificate file removed after loading: the next use is the missing-file refusal, never a crash', () => {
    const p12 = file({ src: minted.p12File });
    const creds = loadWechatCredentials('wechat-v2', { appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKeyFile: file({ src: DEMO_FILES.apiKey }), clientCertFile: p12 });
    unlinkSync(p12);
    expect(refusal(() => creds.clientCert!()).message).toBe(`backend.wechat: the merchant API certificate file ${p12} does not exist: copy it from the WeChat Pay merchant platform (docs/acquirers/wechat.md)`);
  });

  it('the certificate file must be owner-only, unless told not to check', () => {
    const p12 = file({ src: minted.p12File, mode: 0o644 });
    expect(refusal(() => loadClientCert({ clientCertFile: p12, mchId: DEMO_MERCHANT.mchId })).message).toContain('chmod 600');
    expect(loadClientCert({ clientCertFile: p12, mchId: DEMO_MERCHANT.mchId }, false).cert.serialNumber).toBe(minted.serial);
  });

  it('v2 keeps the loaded certificate until the file changes, then reads the renewed one without a restart', () => {
    const p12 = file({ src: minted.p12File });
    const creds = loadWechatCredentials('wechat-v2', { appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKeyFile: file({ src: DEMO_FILES.apiKey }), clientCertFile: p12 });
    const first = creds.clientCert!();
    expect(creds.clientCert!()).toBe(first);
    const renewed = issueDemoClientCert(join(dir, 'renewed'));
    copyFileSync(renewed.p12File, p12);
    utimesSync(p12, new Date(), new Date(Date.now() + 5_000));
    const second = creds.clientCert!();
    expect(second.cert.serialNumber).toBe(renewed.serial);
    expect(second.cert.serialNumber).not.toBe(first.cert.serialNumber);
  });
});

describe('a missing file is named for what it holds', () => {
  const missing = join(dir, 'absent');
  const says = (what: string) => `backend.wechat: ${what} file ${missing} does not exist: copy it from the WeChat Pay merchant platform (docs/acquirers/wechat.md)`;
  const v2 = (o: Partial<WechatConfig>): WechatConfig => ({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKeyFile: file({ src: DEMO_FILES.apiKey }), clientCertFile: file({ src: minted.p12File }), ...o });
  const v3 = (o: Partial<WechatConfig>): WechatConfig => ({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, clientKeyFile: file({ src: DEMO_FILES.merchant.key }), certSerial: MERCHANT_SERIAL, platformCertFile: file({ src: DEMO_FILES.platform.cert }), ...o });

  it.each([
    ['the merchant API certificate', () => loadClientCert({ clientCertFile: missing })],
    ['the merchant API private key', () => loadClientCert({ clientCertFile: file({ src: DEMO_FILES.merchant.cert }), clientKeyFile: missing })],
    ['the certificate password', () => loadClientCert({ clientCertFile: file({ src: minted.p12File }), clientCertPassphraseFile: missing })],
    ['the WeChat Pay API key', () => loadWechatCredentials('wechat-v2', v2({ apiKeyFile: missing }))],
    ['the WeChat Pay platform certificate', () => loadWechatCredentials('wechat-v3', v3({ platformCertFile: missing }))],
    ['the WeChat Pay APIv3 key', () => loadWechatCredentials('wechat-v3', v3({ apiV3KeyFile: missing }))],
  ])('%s', (what, load) => {
    expect(refusal(load).message).toBe(says(what));
  });

  it('the owner-only check is on unless turned off', () => {
    const open = file({ src: DEMO_FILES.apiKey, mode: 0o644 });
    expect(refusal(() => loadWechatCredentials('wechat-v2', v2({ apiKeyFile: open }))).message).toContain(`chmod 600 ${open}`);
  });
});

describe('wechat-v2 credentials', () => {
  const v2 = (o: Partial<WechatConfig> = {}): WechatConfig => ({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKeyFile: file({ text: `${DEMO_MERCHANT.apiKey}\n` }), clientCertFile: file({ src: minted.p12File }), ...o });

  it('the API key (trimmed), MD5 unless HMAC-SHA256 is named, the CA and device address when given', () => {
    const c = loadWechatCredentials('wechat-v2', v2());
    expect(c).toMatchObject({ appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, apiKey: DEMO_MERCHANT.apiKey, signType: 'MD5' });
    expect(c.ca).toBeUndefined();
    expect(c.deviceIp).toBeUndefined();
    const h = loadWechatCredentials('wechat-v2', v2({ signType: 'HMAC-SHA256', caFile: DEMO_FILES.ca, deviceIp: '10.0.0.7' }));
    expect(h).toMatchObject({ signType: 'HMAC-SHA256', deviceIp: '10.0.0.7' });
    expect(h.ca?.toString()).toBe(readFileSync(DEMO_FILES.ca, 'utf8'));
  });

  it('names what is missing or wrong, and where the merchant finds it', () => {
    expect(refusal(() => loadWechatCredentials('wechat-v2', v2({ appId: '' }))).message).toMatch(/appId is not set.*wx/);
    expect(refusal(() => loadWechatCredentials('wechat-v2', v2({ mchId: undefined }))).message).toMatch(/mchId is not set.*商户号/);
    expect(refusal(() => loadWechatCredentials('wechat-v2', v2({ apiKeyFile: undefined }))).message).toMatch(/apiKeyFile is not set/);
    for (const bad of [DEMO_MERCHANT.apiKey.slice(1), `${DEMO_MERCHANT.apiKey}0`, `${DEMO_MERCHANT.apiKey.slice(1)}-`]) {
      const keyFile = file({ text: bad });
      const e = refusal(() => loadWechatCredentials('wechat-v2', v2({ apiKeyFile: keyFile })));
      expect(e.message).toMatch(/32 letters and digits/);
      expect(e.detail).toEqual({ file: keyFile });
    }
    expect(refusal(() => loadWechatCredentials('wechat-v2', v2({ clientCertFile: undefined }))).message).toMatch(/clientCertFile is not set/);
  });
});

describe('wechat-v3 credentials', () => {
  const v3 = (o: Partial<WechatConfig> = {}): WechatConfig => ({
    appId: DEMO_MERCHANT.appId,
    mchId: DEMO_MERCHANT.mchId,
    clientKeyFile: file({ src: DEMO_FILES.merchant.key }),
    clientCertFile: file({ src: DEMO_FILES.merchant.cert }),
    platformCertFile: file({ src: DEMO_FILES.platform.cert }),
    ...o,
  });

  it('the signing key, the serial read from the certificate or given, the platform certificate by its serial, the APIv3 key when given', () => {
    const c = loadWechatCredentials('wechat-v3', v3());
    expect(c.serialNo).toBe(MERCHANT_SERIAL);
    expect(c.merchantKey?.type).toBe('private');
    expect([...c.platformCerts!.keys()]).toEqual([PLATFORM_SERIAL]);
    expect(c.apiV3Key).toBeUndefined();
    expect(c.apiKey).toBeUndefined();
    const key = readFileSync(DEMO_FILES.apiV3Key, 'utf8').trim();
    const given = loadWechatCredentials('wechat-v3', v3({ clientCertFile: undefined, certSerial: 'ABC123', apiV3KeyFile: file({ text: `${key}\n` }) }));
    expect(given).toMatchObject({ serialNo: 'ABC123', apiV3Key: key });
  });

  it('names what is missing or wrong', () => {
    expect(refusal(() => loadWechatCredentials('wechat-v3', v3({ clientKeyFile: undefined }))).message).toMatch(/clientKeyFile is not set/);
    const notKey = file({ text: 'not a key' });
    const e = refusal(() => loadWechatCredentials('wechat-v3', v3({ clientKeyFile: notKey })));
    expect(e.message).toMatch(/not a PEM private key/);
    expect(e.detail).toEqual({ file: notKey });
    // A missing key file is reported as missing, not as a bad key.
    const nope = join(dir, 'nope');
    const missing = refusal(() => loadWechatCredentials('wechat-v3', v3({ clientKeyFile: nope })));
    expect(missing.message).toBe(`backend.wechat: the merchant API private key file ${nope} does not exist: copy it from the WeChat Pay merchant platform (docs/acquirers/wechat.md)`);
    expect(refusal(() => loadWechatCredentials('wechat-v3', v3({ clientCertFile: undefined }))).message).toMatch(/certSerial is not set/);
    expect(refusal(() => loadWechatCredentials('wechat-v3', v3({ platformCertFile: undefined }))).message).toMatch(/platformCertFile is not set/);
    for (const bad of ['x'.repeat(31), 'x'.repeat(33), `${'x'.repeat(31)}é`]) {
      const keyFile = file({ text: bad });
      const r = refusal(() => loadWechatCredentials('wechat-v3', v3({ apiV3KeyFile: keyFile })));
      expect(r.message).toMatch(/APIv3 key must be 32/);
      expect(r.detail).toEqual({ file: keyFile });
    }
  });

  it('a platform certificate file may hold several; one without a certificate is refused', () => {
    const both = file({ text: `${readFileSync(DEMO_FILES.platform.cert, 'utf8')}\n${readFileSync(DEMO_FILES.merchant.cert, 'utf8')}` });
    expect([...loadPlatformCerts(both, true).keys()].sort()).toEqual([PLATFORM_SERIAL, MERCHANT_SERIAL].sort());
    const empty = file({ text: 'no certificate here' });
    const e = refusal(() => loadPlatformCerts(empty, true));
    expect(e.message).toMatch(/no PEM certificate/);
    expect(e.detail).toEqual({ file: empty });
  });

  it('the subject CN of a merchant certificate', () => {
    expect(subjectCn(loadClientCert({ clientCertFile: file({ src: DEMO_FILES.merchant.cert }), clientKeyFile: file({ src: DEMO_FILES.merchant.key }) }).cert)).toBe('10000100 merchant API demo');
  });

  it('the CN is a whole subject line: none when the subject has no CN, never "CN=" inside another field', () => {
    // Self-signed by openssl with the subjects given, as Node prints them (one field a line).
    const cert = (subj: string) => {
      const out = join(dir, `cn${++n}.pem`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `cn${n}.key`), '-subj', subj, '-days', '1', '-out', out], { stdio: 'ignore' });
      return new X509Certificate(readFileSync(out));
    };
    expect(subjectCn(cert('/O=scanpay demo/OU=no common name'))).toBeUndefined();
    const tricky = cert('/O=ACN=19999999/CN=1900000001');
    expect(tricky.subject).toBe('O=ACN=19999999\nCN=1900000001');
    expect(subjectCn(tricky)).toBe('1900000001');
  });
});
