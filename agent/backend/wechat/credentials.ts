/**
 * What a WeChat Pay merchant holds, read from owner-only files named in config.json
 * (`backend.wechat`): the v2 API key, the merchant's client certificate for `/secapi/`
 * (PKCS#12 or PEM), the v3 private key with its certificate serial, and the platform
 * certificate that signs v3 answers. Each problem is reported with the file and the fix.
 */
import { readFileSync, statSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { ScanpayError } from '../../errors.ts';
import type { V2SignType } from './v2-codec.ts';
import { certSerial } from './v3-signing.ts';

/** The `backend.wechat` section of config.json: paths, never secrets themselves. */
export interface WechatConfig {
  appId?: string | undefined;
  mchId?: string | undefined;
  signType?: V2SignType | undefined;
  apiKeyFile?: string | undefined;
  /** PKCS#12 (.p12/.pfx) or PEM certificate (apiclient_cert.pem). */
  clientCertFile?: string | undefined;
  /** PEM key (apiclient_key.pem) with a PEM certificate; also the v3 request-signing key. */
  clientKeyFile?: string | undefined;
  /** Password of a PKCS#12 file; WeChat's default is the merchant id. */
  clientCertPassphraseFile?: string | undefined;
  /** v3: serial of the merchant API certificate; read from clientCertFile when absent. */
  certSerial?: string | undefined;
  platformCertFile?: string | undefined;
  /** v3: the APIv3 key (APIv3密钥, 32 characters) that decrypts the platform certificates of /v3/certificates. */
  apiV3KeyFile?: string | undefined;
  /** Extra CA for the acquirer's TLS server (the simulator's demo CA); the system CAs otherwise. */
  caFile?: string | undefined;
  /** The terminal's address, sent as spbill_create_ip (v2) / device_ip (v3). */
  deviceIp?: string | undefined;
  /** device_info / store id sent with each pay; this machine's name when absent. */
  terminalId?: string | undefined;
}

export interface ClientCert {
  tls: { pfx: Buffer; passphrase: string } | { cert: Buffer; key: Buffer };
  cert: X509Certificate;
}

export interface WechatCredentials {
  appId: string;
  mchId: string;
  signType: V2SignType;
  /** v2 only. */
  apiKey?: string;
  /** Reloaded when the file changes: a renewed certificate needs no restart. */
  clientCert?: () => ClientCert;
  /** v3 only. */
  merchantKey?: KeyObject;
  serialNo?: string;
  /** By serial; grows when WeChat rotates its certificate (platform-certs.ts). */
  platformCerts?: Map<string, X509Certificate>;
  /** v3: decrypts newly fetched platform certificates; without it a rotation is not followed. */
  apiV3Key?: string;
  ca?: Buffer;
  deviceIp?: string;
}

function fail(message: string, file?: string): ScanpayError {
  return new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message, ...(file ? { detail: { file } } : {}) });
}

/** Reads a secret file, insisting that only its owner can read it. */
export function readSecret(path: string, what: string, checkOwner = true): Buffer {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw fail(`backend.wechat: ${what} file ${path} does not exist: copy it from the WeChat Pay merchant platform (docs/acquirers/wechat.md)`, path);
  }
  if (checkOwner && (mode & 0o077) !== 0) throw fail(`${path} holds ${what} and must be readable by its owner only: chmod 600 ${path}`, path);
  return readFileSync(path);
}

/** The certificate inside a PKCS#12 file or a PEM pair, as Node's TLS will present it. */
export function loadClientCert(c: Pick<WechatConfig, 'clientCertFile' | 'clientKeyFile' | 'clientCertPassphraseFile' | 'mchId'>, checkOwner = true): ClientCert {
  if (!c.clientCertFile) throw fail('backend.wechat.clientCertFile is not set: the merchant API certificate (apiclient_cert.p12 or apiclient_cert.pem) is needed for reverse and refund');
  const file = c.clientCertFile;
  const raw = readSecret(file, 'the merchant API certificate', checkOwner);
  const isPem = raw.includes('-----BEGIN CERTIFICATE-----');
  let options: ClientCert['tls'];
  if (isPem) {
    if (!c.clientKeyFile) throw fail(`backend.wechat.clientKeyFile is not set: ${file} is a PEM certificate and needs its key (apiclient_key.pem)`);
    options = { cert: raw, key: readSecret(c.clientKeyFile, 'the merchant API private key', checkOwner) };
  } else {
    const passphrase = c.clientCertPassphraseFile ? readSecret(c.clientCertPassphraseFile, 'the certificate password', checkOwner).toString('utf8').trim() : (c.mchId ?? '');
    options = { pfx: raw, passphrase };
  }
  let ctx: tls.SecureContext;
  try {
    ctx = tls.createSecureContext(options);
  } catch (e) {
    throw fail(`${file}: ${(e as Error).message}${isPem ? ': the certificate and key do not belong together or are not PEM' : ': wrong password (clientCertPassphraseFile; WeChat sets the merchant id) or not a PKCS#12 file'}`, file);
  }
  // The certificate Node will present: read back from the context, which also reads PKCS#12.
  const socket = new tls.TLSSocket(new net.Socket(), { secureContext: ctx });
  const presented = socket.getCertificate();
  socket.destroy();
  if (!presented || !('raw' in presented) || !presented.raw) throw fail(`${file}: no certificate inside`, file);
  return { tls: options, cert: new X509Certificate(presented.raw) };
}

/** Keeps the loaded certificate until the file changes on disk. */
function reloading(load: () => ClientCert, file: string): () => ClientCert {
  let cached: { mtimeMs: number; value: ClientCert } | undefined;
  return () => {
    const mtimeMs = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, value: load() };
    return cached.value;
  };
}

function required(c: WechatConfig, field: 'appId' | 'mchId'): string {
  const v = c[field];
  if (!v) throw fail(`backend.wechat.${field} is not set: it is on the WeChat Pay merchant platform (${field === 'appId' ? 'the app id bound to the merchant, wx…' : 'the merchant number, 商户号'})`);
  return v;
}

export function loadPlatformCerts(file: string | undefined, checkOwner: boolean): Map<string, X509Certificate> {
  if (!file) throw fail('backend.wechat.platformCertFile is not set: download the platform certificate (平台证书) so that answers can be verified');
  const raw = readSecret(file, 'the WeChat Pay platform certificate', checkOwner).toString('utf8');
  const pems = raw.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw fail(`${file}: no PEM certificate inside`, file);
  return new Map(pems.map((p) => new X509Certificate(p)).map((c) => [certSerial(c), c]));
}

/**
 * Everything the adapter of `protocol` needs. `checkOwner` is off only for the published
 * demo credentials, which are public anyway.
 */
export function loadWechatCredentials(protocol: 'wechat-v2' | 'wechat-v3', c: WechatConfig, checkOwner = true): WechatCredentials {
  const base = {
    appId: required(c, 'appId'),
    mchId: required(c, 'mchId'),
    signType: c.signType ?? 'MD5',
    ...(c.caFile ? { ca: readFileSync(c.caFile) } : {}),
    ...(c.deviceIp ? { deviceIp: c.deviceIp } : {}),
  };
  if (protocol === 'wechat-v2') {
    if (!c.apiKeyFile) throw fail('backend.wechat.apiKeyFile is not set: the file holds the 32-character API key (API密钥) set on the merchant platform');
    const apiKey = readSecret(c.apiKeyFile, 'the WeChat Pay API key', checkOwner).toString('utf8').trim();
    if (!/^[A-Za-z0-9]{32}$/.test(apiKey)) throw fail(`${c.apiKeyFile}: the API key must be 32 letters and digits`, c.apiKeyFile);
    const first = loadClientCert(c, checkOwner);
    const clientCert = reloading(() => loadClientCert(c, checkOwner), c.clientCertFile!);
    void first;
    return { ...base, apiKey, clientCert };
  }
  if (!c.clientKeyFile) throw fail('backend.wechat.clientKeyFile is not set: v3 signs every request with the merchant API private key (apiclient_key.pem)');
  let merchantKey: KeyObject;
  try {
    merchantKey = createPrivateKey(readSecret(c.clientKeyFile, 'the merchant API private key', checkOwner));
  } catch (e) {
    if (e instanceof ScanpayError) throw e;
    throw fail(`${c.clientKeyFile}: not a PEM private key (${(e as Error).message})`, c.clientKeyFile);
  }
  let serialNo = c.certSerial;
  if (!serialNo) {
    if (!c.clientCertFile) throw fail('backend.wechat.certSerial is not set (nor clientCertFile to read it from): the merchant API certificate serial is on the merchant platform');
    serialNo = certSerial(loadClientCert(c, checkOwner).cert);
  }
  let apiV3Key: string | undefined;
  if (c.apiV3KeyFile) {
    apiV3Key = readSecret(c.apiV3KeyFile, 'the WeChat Pay APIv3 key', checkOwner).toString('utf8').trim();
    if (Buffer.byteLength(apiV3Key) !== 32) throw fail(`${c.apiV3KeyFile}: the APIv3 key must be 32 characters`, c.apiV3KeyFile);
  }
  return { ...base, merchantKey, serialNo, platformCerts: loadPlatformCerts(c.platformCertFile, checkOwner), ...(apiV3Key ? { apiV3Key } : {}) };
}

/** The CN of a certificate's subject: a WeChat Pay merchant API certificate's is the merchant number. */
export function subjectCn(cert: X509Certificate): string | undefined {
  return /^CN=(.*)$/m.exec(cert.subject)?.[1];
}
