/**
 * WeChat Pay API v3 signatures (wechatpay-api.gitbook.io/wechatpay-api-v3, 签名生成 and
 * 签名验证): the merchant signs `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` with SHA256withRSA and
 * sends it in `Authorization: WECHATPAY2-SHA256-RSA2048 …`; the platform signs
 * `TIMESTAMP\nNONCE\nBODY\n` of every answer and names its certificate in `Wechatpay-Serial`.
 * Shared by the agent's adapter and the simulator.
 */
import { createSign, createVerify, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';

export const V3_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

export const V3_HEADERS = {
  signature: 'wechatpay-signature',
  serial: 'wechatpay-serial',
  timestamp: 'wechatpay-timestamp',
  nonce: 'wechatpay-nonce',
} as const;

export function v3RequestMessage(method: string, url: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

export function v3AnswerMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function rsaSign(message: string, key: KeyObject | string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(key, 'base64');
}

export function rsaVerify(message: string, signature: string, key: KeyObject | X509Certificate | string): boolean {
  try {
    const pub = key instanceof X509Certificate ? key.publicKey : key;
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(pub, signature, 'base64');
  } catch {
    return false;
  }
}

export function newNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** The certificate serial as WeChat writes it: upper-case hex without separators. */
export function certSerial(cert: X509Certificate): string {
  return cert.serialNumber.replace(/:/g, '').toUpperCase();
}

export interface V3AuthParts {
  mchid: string;
  nonce_str: string;
  timestamp: string;
  serial_no: string;
  signature: string;
}

export function v3Authorization(p: {
  mchid: string;
  serialNo: string;
  key: KeyObject | string;
  method: string;
  url: string;
  body: string;
  timestamp: string;
  nonce: string;
}): string {
  const signature = rsaSign(v3RequestMessage(p.method, p.url, p.timestamp, p.nonce, p.body), p.key);
  return `${V3_SCHEME} mchid="${p.mchid}",nonce_str="${p.nonce}",timestamp="${p.timestamp}",serial_no="${p.serialNo}",signature="${signature}"`;
}

/** Reads an Authorization header; undefined when it is not a complete v3 one. */
export function parseV3Authorization(header: string | undefined): V3AuthParts | undefined {
  if (!header?.startsWith(`${V3_SCHEME} `)) return undefined;
  const parts: Record<string, string> = {};
  for (const m of header.slice(V3_SCHEME.length + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) parts[m[1]!] = m[2]!;
  const { mchid, nonce_str, timestamp, serial_no, signature } = parts;
  if (!mchid || !nonce_str || !timestamp || !serial_no || !signature) return undefined;
  return { mchid, nonce_str, timestamp, serial_no, signature };
}
