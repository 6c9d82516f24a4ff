/**
 * Sets a device up for a WeChat Pay merchant: the credential files the merchant downloaded
 * are copied into `$SCANPAY_HOME/wechat/` owner-only, checked by loading them exactly as the
 * agent will, and config.json gets the `backend` section that names them. Nothing is
 * written unless every file loads; the error says which file and what to do.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.ts';
import { ScanpayError } from '../../errors.ts';
import { loadWechatCredentials, type WechatConfig, type WechatCredentials } from './credentials.ts';

export const WECHAT_API_URL = 'https://api.mch.weixin.qq.com';

export interface WechatProvisionInput {
  home: string;
  protocol: 'wechat-v2' | 'wechat-v3';
  backendUrl?: string | undefined;
  appId: string;
  mchId: string;
  signType?: 'MD5' | 'HMAC-SHA256' | undefined;
  /** Source files as the merchant has them; copied, never moved. */
  apiKeyFile?: string | undefined;
  clientCertFile?: string | undefined;
  clientKeyFile?: string | undefined;
  clientCertPassphraseFile?: string | undefined;
  platformCertFile?: string | undefined;
  /** v3: the APIv3 key file, to follow WeChat's platform-certificate rotations. */
  apiV3KeyFile?: string | undefined;
  certSerial?: string | undefined;
  caFile?: string | undefined;
}

const FILE_FIELDS = ['apiKeyFile', 'clientCertFile', 'clientKeyFile', 'clientCertPassphraseFile', 'platformCertFile', 'caFile', 'apiV3KeyFile'] as const;

/** What each protocol cannot do without, in the words of the merchant platform. */
export function missingFor(i: Omit<WechatProvisionInput, 'home'>): string[] {
  const missing: string[] = [];
  if (!i.appId) missing.push('--app-id (the app id bound to the merchant, wx…)');
  if (!i.mchId) missing.push('--mch-id (商户号)');
  if (i.protocol === 'wechat-v2') {
    if (!i.apiKeyFile) missing.push('--api-key-file (a file holding the 32-character API key, API密钥)');
    if (!i.clientCertFile) missing.push('--client-cert (apiclient_cert.p12, or apiclient_cert.pem with --client-key): reverse and refund need it');
  } else {
    if (!i.clientKeyFile) missing.push('--client-key (apiclient_key.pem: v3 signs every request with it)');
    if (!i.clientCertFile && !i.certSerial) missing.push('--client-cert (apiclient_cert.pem) or --cert-serial (the certificate serial)');
    if (!i.platformCertFile) missing.push('--platform-cert (the WeChat Pay platform certificate that signs every answer)');
  }
  return missing;
}

export function provisionWechat(i: WechatProvisionInput): { config: WechatConfig; credentials: WechatCredentials; configPath: string } {
  const missing = missingFor(i);
  if (missing.length) throw new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: `scanpay provision --protocol ${i.protocol}: missing ${missing.join('; ')}` });
  for (const f of FILE_FIELDS) {
    const path = i[f];
    if (path && !existsSync(path)) throw new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: `${path} (${f}) does not exist`, detail: { file: path } });
  }
  const dir = join(i.home, 'wechat');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const config: WechatConfig = { appId: i.appId, mchId: i.mchId, ...(i.signType ? { signType: i.signType } : {}), ...(i.certSerial ? { certSerial: i.certSerial } : {}) };
  for (const f of FILE_FIELDS) {
    const src = i[f];
    if (!src) continue;
    const dest = join(dir, basename(src));
    if (dest !== src) copyFileSync(src, dest);
    chmodSync(dest, 0o600);
    config[f] = dest;
  }
  // Loaded as the agent will: a wrong password, a mismatched key or a bad API key stops here.
  const credentials = loadWechatCredentials(i.protocol, config, true);
  const configPath = join(i.home, 'config.json');
  const current = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, Record<string, unknown>>) : {};
  const next = { ...current, backend: { ...current.backend, url: i.backendUrl ?? WECHAT_API_URL, protocol: i.protocol, wechat: config } };
  writeFileAtomic(configPath, `${JSON.stringify(next, null, 2)}\n`, 0o600);
  return { config, credentials, configPath };
}
