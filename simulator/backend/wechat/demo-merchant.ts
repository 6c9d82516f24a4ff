/**
 * The WeChat Pay merchant every simulated WeChat backend knows, and where its credentials
 * lie. DEMO CREDENTIALS ONLY: the app id, merchant id and API key are the ones of WeChat's
 * published signing example, and the keys and certificates in demo-keys/ (made once with
 * openssl) are in this repository: they protect nothing. Never configure them against the
 * real service.
 */
import { fileURLToPath } from 'node:url';
import type { WechatConfig } from '../../../agent/backend/wechat/credentials.ts';

const file = (name: string) => fileURLToPath(new URL(`./demo-keys/${name}`, import.meta.url));

export const DEMO_MERCHANT = {
  appId: 'wxd930ea5d5a258f4f',
  mchId: '10000100',
  apiKey: '192006250b4c09247ec02edce69f6a2d',
} as const;

export const DEMO_FILES = {
  apiKey: file('api-key.txt'),
  ca: file('ca.crt'),
  caKey: file('ca.key'),
  server: { cert: file('server.crt'), key: file('server.key') },
  /** The merchant API certificate for /secapi/, as PKCS#12 (password: the merchant id) and PEM. */
  clientP12: file('client.p12'),
  client: { cert: file('client.crt'), key: file('client.key') },
  /** The same merchant's certificate, expired on 2021-01-01: for the expired-certificate scenario. */
  clientExpired: { cert: file('client-expired.crt'), key: file('client.key') },
  /** v3: the merchant's request-signing key and certificate, and the platform's. */
  merchant: { cert: file('merchant.crt'), key: file('merchant.key') },
  platform: { cert: file('platform.crt'), key: file('platform.key') },
} as const;

/** backend.wechat for the demo merchant, as a merchant would write it in config.json. */
export function demoWechatConfig(protocol: 'wechat-v2' | 'wechat-v3'): WechatConfig {
  const base = { appId: DEMO_MERCHANT.appId, mchId: DEMO_MERCHANT.mchId, caFile: DEMO_FILES.ca, deviceIp: '127.0.0.1' };
  return protocol === 'wechat-v2'
    ? { ...base, apiKeyFile: DEMO_FILES.apiKey, clientCertFile: DEMO_FILES.clientP12 }
    : { ...base, clientKeyFile: DEMO_FILES.merchant.key, clientCertFile: DEMO_FILES.merchant.cert, platformCertFile: DEMO_FILES.platform.cert };
}
