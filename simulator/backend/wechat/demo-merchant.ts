/**
 * The WeChat Pay merchant every simulated WeChat backend knows, and where its credentials
 * lie. DEMO CREDENTIALS ONLY: the app id, merchant id and API key are the ones of WeChat's
 * published signing example, and the keys and certificates in demo-keys/ (made once with
 * openssl) are in this repository: they protect nothing. Never configure them against the
 * real service. The merchant's client certificate for /secapi/ is not among them: the
 * simulator mints a fresh one for each merchant set-up (client-cert.ts).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_CERT_FILES, issueClientCert, type IssuedClientCert } from './client-cert.ts';
import type { WechatConfig } from '../../../agent/backend/wechat/credentials.ts';

const file = (name: string) => fileURLToPath(new URL(`./demo-keys/${name}`, import.meta.url));

export const DEMO_MERCHANT = {
  appId: 'wxd930ea5d5a258f4f',
  mchId: '10000100',
  apiKey: '192006250b4c09247ec02edce69f6a2d',
} as const;

export const DEMO_FILES = {
  apiKey: file('api-key.txt'),
  /** v3: the APIv3 key (APIv3密钥) that encrypts the platform certificates of /v3/certificates. */
  apiV3Key: file('api-v3-key.txt'),
  ca: file('ca.crt'),
  caKey: file('ca.key'),
  server: { cert: file('server.crt'), key: file('server.key') },
  /** A merchant API certificate expired on 2021-01-01, for the expired-certificate scenario (a valid one is minted: client-cert.ts). */
  clientExpired: { cert: file('client-expired.crt'), key: file('client.key') },
  /** v3: the merchant's request-signing key and certificate, and the platform's. */
  merchant: { cert: file('merchant.crt'), key: file('merchant.key') },
  platform: { cert: file('platform.crt'), key: file('platform.key') },
} as const;

let scratch: string | undefined;

/**
 * backend.wechat for the demo merchant, as a merchant would write it in config.json. v2's
 * client certificate is minted into `certDir` (kept while valid for 30 more days), or into
 * a temporary directory of this process when none is given.
 */
export function demoWechatConfig(protocol: 'wechat-v2' | 'wechat-v3', certDir?: string): WechatConfig {
  const base = { appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, caFile: DEMO_FILES.ca, deviceIp: '127.0.0.1' };
  if (protocol === 'wechat-v3') return { ...base, clientKeyFile: DEMO_FILES.merchant.key, clientCertFile: DEMO_FILES.merchant.cert, platformCertFile: DEMO_FILES.platform.cert, apiV3KeyFile: DEMO_FILES.apiV3Key };
  const dir = certDir ?? (scratch ??= mkdtempSync(join(tmpdir(), 'scanpay-wechat-demo-')));
  const p12 = join(dir, CLIENT_CERT_FILES.p12);
  const fresh = existsSync(p12) && Date.parse(new X509Certificate(readFileSync(join(dir, CLIENT_CERT_FILES.cert))).validTo) > Date.now() + 30 * 86_400_000;
  return { ...base, apiKeyFile: DEMO_FILES.apiKey, clientCertFile: fresh ? p12 : issueDemoClientCert(dir).p12File };
}

/** A fresh client certificate of the demo merchant, from the demo CA, into `dir`. */
export function issueDemoClientCert(dir: string, o: { keyFile?: string } = {}): IssuedClientCert {
  return issueClientCert(dir, { mchId: DEMO_MERCHANT.mchId, ca: { cert: DEMO_FILES.ca, key: DEMO_FILES.caKey }, ...o });
}
