/**
 * Upay v2 request signing (WoSai/shouqianba-doc en/api/api_guide.md):
 * `Authorization: <sn> <MD5(body bytes + key)>`, with the vendor's sn/key for activation
 * and the terminal's for everything else. Upay's answers carry no signature: their
 * authenticity rests on TLS alone (docs/acquirers/upay.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function upaySign(body: Buffer | string, key: string): string {
  return createHash('md5').update(Buffer.concat([Buffer.from(body), Buffer.from(key, 'utf8')])).digest('hex');
}

export function authorization(sn: string, body: Buffer | string, key: string): string {
  return `${sn} ${upaySign(body, key)}`;
}

/** Parses `sn sign`; null when the header is not of that shape. */
export function parseAuthorization(header: string | undefined): { sn: string; sign: string } | null {
  const m = /^(\S{1,64}) ([0-9a-fA-F]{32})$/.exec(header ?? '');
  return m ? { sn: m[1]!, sign: m[2]!.toLowerCase() } : null;
}

/** Whether `sign` is MD5(body + key) for one of the keys (current and previous are valid). */
export function signedWithOneOf(body: Buffer, sign: string, keys: readonly string[]): string | undefined {
  const given = Buffer.from(sign, 'hex');
  return keys.find((k) => timingSafeEqual(Buffer.from(upaySign(body, k), 'hex'), given));
}
