/**
 * WeChat Pay v3 platform certificates (平台证书) as `GET /v3/certificates` hands them out
 * (wechatpay-api.gitbook.io/wechatpay-api-v3, 获取平台证书列表; 证书和回调报文解密): each entry
 * names its serial and carries the certificate encrypted with AEAD_AES_256_GCM under the
 * merchant's APIv3 key (nonce and associated_data in clear, the 16-byte tag at the end of
 * the base64 ciphertext). WeChat rotates these certificates; answers name theirs in
 * `Wechatpay-Serial`, so the adapter keeps several, by serial.
 */
import { createDecipheriv, X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { certSerial } from './v3-signing.ts';

export const CERTIFICATES_PATH = '/v3/certificates';

const encrypted = z.object({ algorithm: z.string(), nonce: z.string(), associated_data: z.string().optional(), ciphertext: z.string() });
const certificatesAnswer = z.object({
  data: z.array(z.object({ serial_no: z.string(), effective_time: z.string().optional(), expire_time: z.string().optional(), encrypt_certificate: encrypted })),
});

export type EncryptedResource = z.infer<typeof encrypted>;

/** Decrypts one AEAD_AES_256_GCM resource; throws when the key, nonce, associated data or text do not authenticate. */
export function decryptResource(apiV3Key: string, r: EncryptedResource): string {
  if (r.algorithm !== 'AEAD_AES_256_GCM') throw new Error(`unsupported algorithm ${r.algorithm}`);
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new Error('the APIv3 key must be 32 bytes');
  const all = Buffer.from(r.ciphertext, 'base64');
  if (all.length <= 16) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(r.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'));
  decipher.setAuthTag(all.subarray(all.length - 16));
  return Buffer.concat([decipher.update(all.subarray(0, all.length - 16)), decipher.final()]).toString('utf8');
}

/** The certificates of a `/v3/certificates` answer, each decrypted, parsed and checked against the serial it is listed under. */
export function readCertificatesAnswer(body: string, apiV3Key: string): Map<string, X509Certificate> {
  const parsed = certificatesAnswer.parse(JSON.parse(body));
  const out = new Map<string, X509Certificate>();
  for (const entry of parsed.data) {
    const cert = new X509Certificate(decryptResource(apiV3Key, entry.encrypt_certificate));
    const serial = certSerial(cert);
    if (serial !== entry.serial_no.toUpperCase()) throw new Error(`certificate listed as ${entry.serial_no} has serial ${serial}`);
    out.set(serial, cert);
  }
  return out;
}
