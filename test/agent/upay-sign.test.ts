/**
 * Upay's request signature (WoSai/shouqianba-doc en/api/api_guide.md): `Authorization: <sn>
 * <MD5(body + key)>`, checked against RFC 1321's MD5 test vectors and `openssl md5`.
 */
import { describe, expect, it } from 'vitest';
import { authorization, parseAuthorization, signedWithOneOf, upaySign } from '../../agent/backend/upay/upay-sign.ts';

describe('Upay signature', () => {
  it('MD5 over the body bytes, then the key bytes, as lower-case hex', () => {
    // RFC 1321 appendix A.5: MD5("message digest"), split between body and key.
    expect(upaySign('message ', 'digest')).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    expect(upaySign(Buffer.from('message '), 'digest')).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    // printf '%s' '{"a":"咖啡"}k' | openssl md5
    expect(upaySign('{"a":"咖啡"}', 'k')).toBe('52998f55b9fbe35db568d1ccec72af65');
    expect(authorization('100000000001', 'message ', 'digest')).toBe('100000000001 f96b697d7cb7938d525a2f31aaf161d0');
  });

  it('reads "sn sign" and nothing else', () => {
    expect(parseAuthorization('100000000001 F96B697D7CB7938D525A2F31AAF161D0')).toEqual({ sn: '100000000001', sign: 'f96b697d7cb7938d525a2f31aaf161d0' });
    for (const bad of [undefined, '', 'f96b697d7cb7938d525a2f31aaf161d0', '100 f96b697d7cb7938d525a2f31aaf161d', '100 f96b697d7cb7938d525a2f31aaf161d0x', '100  f96b697d7cb7938d525a2f31aaf161d0', `${'s'.repeat(65)} f96b697d7cb7938d525a2f31aaf161d0`, '100 g96b697d7cb7938d525a2f31aaf161d0', 'x100 f96b697d7cb7938d525a2f31aaf161d0 '])
      expect(parseAuthorization(bad), String(bad)).toBeNull();
    expect(parseAuthorization(`${'s'.repeat(64)} f96b697d7cb7938d525a2f31aaf161d0`)?.sn).toHaveLength(64);
  });

  it('names the key, current or previous, that signed the body', () => {
    const body = Buffer.from('message ');
    expect(signedWithOneOf(body, 'f96b697d7cb7938d525a2f31aaf161d0', ['new', 'digest'])).toBe('digest');
    expect(signedWithOneOf(body, 'f96b697d7cb7938d525a2f31aaf161d0', ['new', 'old'])).toBeUndefined();
    expect(signedWithOneOf(body, 'f96b697d7cb7938d525a2f31aaf161d0', [])).toBeUndefined();
  });
});
