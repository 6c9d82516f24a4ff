/**
 * Alipay RSA2 signing and answer verification against vectors computed once, outside this
 * code, by OpenSSL with the demo keys (simulator/backend/alipay/demo-keys.ts):
 *   printf '%s' "$CONTENT" | openssl dgst -sha256 -sign app.pem | base64 -w0
 * PKCS#1 v1.5 signatures are deterministic, so the vectors are exact.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rawMember, rsa2Sign, rsa2Verify, signContent, verifyAnswer } from '../../agent/backend/alipay/alipay-sign.ts';
import { beijingDay, beijingTimestamp, parseBeijingTimestamp } from '../../agent/backend/alipay/beijing-time.ts';
import { DEMO_ALIPAY_PRIVATE_KEY, DEMO_ALIPAY_PUBLIC_KEY, DEMO_APP_PRIVATE_KEY, DEMO_APP_PUBLIC_KEY } from '../../simulator/backend/alipay/demo-keys.ts';

const appKey = createPrivateKey(DEMO_APP_PRIVATE_KEY);
const appPub = createPublicKey(DEMO_APP_PUBLIC_KEY);
const alipayPub = createPublicKey(DEMO_ALIPAY_PUBLIC_KEY);

const REQUEST_PARAMS = {
  app_id: '2021000000000001',
  method: 'alipay.trade.pay',
  format: 'JSON',
  charset: 'utf-8',
  sign_type: 'RSA2',
  timestamp: '2026-01-01 16:00:00',
  version: '1.0',
  biz_content: '{"out_trade_no":"T00000012601010800a1b2c3d4","scene":"bar_code","auth_code":"286648048691290423","subject":"scanpay","total_amount":"12.34"}',
  notify_url: '',
};
const REQUEST_CONTENT = 'app_id=2021000000000001&biz_content={"out_trade_no":"T00000012601010800a1b2c3d4","scene":"bar_code","auth_code":"286648048691290423","subject":"scanpay","total_amount":"12.34"}&charset=utf-8&format=JSON&method=alipay.trade.pay&sign_type=RSA2&timestamp=2026-01-01 16:00:00&version=1.0';
/** openssl dgst -sha256 -sign app.pem over REQUEST_CONTENT. */
const REQUEST_SIGNATURE = 'TZVuC89gsn8lNEvzyL3SA4Jbg2WkVUzgjNVywtJKUL0kLllYVeln78T3YzhseHA79KVlHkIwy0786xsT7G4h9/DfUXFhRK3WBS7oit8Iu/vy/wGD9UKb4KIkdbXpev2NGJY2nylrhDRqq9qbDlR0PyMfjesUeEzKxltj9IUqnaG6iWT4R9JTnQ0eux+VbNh7z7AsNEpFAKzNFnu+ffTcGV8Z+LK5LXIC5qGS2SD2EVAwDZmgYIRmPcej6ClT0ZHovswgBeUvi0Jzf+J7sVRD6LD1TxY5crsfCKVKGE9tSSr6p7qm1V7qPVTarUsh2hp2BvdQw2e5H0LxpCcUXyvRpA==';

const RESPONSE_TEXT = '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.BUYER_BALANCE_NOT_ENOUGH","sub_msg":"买家余额不足，\\"sign\\" alipay_trade_pay_response","out_trade_no":"T00000012601010800a1b2c3d4","trade_no":"2026010122001400001234567890","buyer_logon_id":"158****1562","memo":"a\\/b"}';
/** openssl dgst -sha256 -sign alipay.pem over RESPONSE_TEXT. */
const RESPONSE_SIGNATURE = 'Vvb1mGQfu32Sk5zTXyKBuqFhBkuCbsXJH00rJIcR5L38FsYA5XNaVpKqK/0VsVCi2UDIMxDLHvuUk7ypySVPaWNcHUXs13rz578o891nWQpfUjqN51zbyHJ1046J7GdxRaPWSP0B5N3VcP9uKsZfVBjqi6Ob2u0HURSmRkomAcdfAsP2ZHaQ6v7ttoPtzwqMiDXgDgmyMyYVCZHedhYS/Nehrer8LCiM/4uOsEVpIU/+v+eBEuyPP7O391ToVrG7eIGZxCzK4wAJbdZCv/zATSWRlA6MJLA6nc8BKJjfR/6Wt0sgMjmQUxf8sIpYaZ9ufLyur2PMz5gvwo/frZcCUw==';
const KEY = 'alipay_trade_pay_response';

describe('Alipay request signing', () => {
  it('builds the sorted content without sign and empty parameters', () => {
    expect(signContent({ ...REQUEST_PARAMS, sign: 'x' })).toBe(REQUEST_CONTENT);
  });

  it('signs exactly as OpenSSL does, and the signature verifies with the public key', () => {
    const sig = rsa2Sign(signContent(REQUEST_PARAMS), appKey);
    expect(sig).toBe(REQUEST_SIGNATURE);
    expect(rsa2Verify(REQUEST_CONTENT, REQUEST_SIGNATURE, appPub)).toBe(true);
    expect(rsa2Verify(REQUEST_CONTENT.replace('12.34', '12.35'), REQUEST_SIGNATURE, appPub)).toBe(false);
  });
});

describe('Alipay answer verification over the raw response text', () => {
  const body = (inner: string, sign: string | null = RESPONSE_SIGNATURE, spacing = '') => `{"${KEY}":${spacing}${inner}${spacing}${sign === null ? '' : `,"sign":"${sign}"`}}`;

  it('accepts the OpenSSL-signed answer and reads it', () => {
    const r = verifyAnswer(body(RESPONSE_TEXT), KEY, alipayPub);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.data).toMatchObject({ code: '40004', sub_code: 'ACQ.BUYER_BALANCE_NOT_ENOUGH', memo: 'a/b' });
  });

  it('cuts the value out as it stands, whitespace around it and "sign" inside strings included', () => {
    expect(rawMember(body(RESPONSE_TEXT, RESPONSE_SIGNATURE, ' \n'), KEY)).toBe(RESPONSE_TEXT);
    expect(verifyAnswer(body(RESPONSE_TEXT, RESPONSE_SIGNATURE, ' \n'), KEY, alipayPub).ok).toBe(true);
  });

  it('refuses a re-serialised, tampered, unsigned or wrongly keyed answer', () => {
    // Same content, other text: JSON.stringify drops the \/ escape, so the signature no longer holds.
    const reserialised = JSON.stringify(JSON.parse(RESPONSE_TEXT));
    expect(verifyAnswer(body(reserialised), KEY, alipayPub)).toMatchObject({ ok: false });
    expect(verifyAnswer(body(RESPONSE_TEXT.replace('40004', '10000')), KEY, alipayPub)).toMatchObject({ ok: false });
    expect(verifyAnswer(body(RESPONSE_TEXT, null), KEY, alipayPub)).toMatchObject({ ok: false, why: 'the answer is unsigned' });
    expect(verifyAnswer(body(RESPONSE_TEXT), KEY, appPub)).toMatchObject({ ok: false });
    expect(verifyAnswer(body(RESPONSE_TEXT).slice(0, 100), KEY, alipayPub)).toMatchObject({ ok: false });
  });

  it('ignores a second, unsigned member of the same name (JSON.parse would keep the last)', () => {
    const smuggled = `{"${KEY}":${RESPONSE_TEXT},"${KEY}":{"code":"10000"},"sign":"${RESPONSE_SIGNATURE}"}`;
    const r = verifyAnswer(smuggled, KEY, alipayPub);
    expect(r.ok && r.data.code).toBe('40004');
  });

  it('signs answers the simulator makes with the same algorithm OpenSSL verifies', () => {
    const sig = rsa2Sign(RESPONSE_TEXT, createPrivateKey(DEMO_ALIPAY_PRIVATE_KEY));
    expect(sig).toBe(RESPONSE_SIGNATURE);
  });
});

describe('Beijing time, whatever the device zone', () => {
  it('formats and parses in UTC+8', () => {
    const at = Date.UTC(2026, 0, 1, 8, 0, 0);
    expect(beijingTimestamp(at)).toBe('2026-01-01 16:00:00');
    expect(parseBeijingTimestamp('2026-01-01 16:00:00')).toBe(at);
    expect(Number.isNaN(parseBeijingTimestamp('2026-01-01T16:00:00'))).toBe(true);
  });

  it('puts 15:59:59 UTC and 16:00:00 UTC on different Beijing days', () => {
    expect(beijingDay(Date.UTC(2026, 0, 1, 15, 59, 59))).toBe(beijingDay(Date.UTC(2026, 0, 1, 0, 0, 0)));
    expect(beijingDay(Date.UTC(2026, 0, 1, 16, 0, 0))).toBe(beijingDay(Date.UTC(2026, 0, 1, 15, 59, 59)) + 1);
  });
});

describe('cutting the signed member out of the raw body', () => {
  it('finds the member among others, whatever their kind of value', () => {
    const text = `{ "a" : 1 , "b":"x,}\\"]" ,"c":[1,{"d":"}"}],"e":true,"f":null,"${KEY}" :\t{"k":[{}]} , "sign":"s"}`;
    expect(rawMember(text, KEY)).toBe('{"k":[{}]}');
    expect(rawMember(text, 'a')).toBe('1');
    expect(rawMember(text, 'b')).toBe('"x,}\\"]"');
    expect(rawMember(text, 'c')).toBe('[1,{"d":"}"}]');
    expect(rawMember(text, 'e')).toBe('true');
    expect(rawMember(text, 'f')).toBe('null');
    expect(rawMember(text, 'sign')).toBe('"s"');
    expect(rawMember(text, 'missing')).toBeNull();
  });

  it('gives nothing for text that is not one JSON object', () => {
    for (const bad of ['', '[]', `"${KEY}"`, '{', '{}', `{"${KEY}"}`, `{"${KEY}" 1}`, `{"${KEY}":}`, `{"${KEY}`, `{${KEY}:1}`, '{"a":1 "b":2}', `{"a":1;"${KEY}":2}`, `{"${KEY}":"open}`, `{"${KEY}":{"a":"open}}`])
      expect(rawMember(bad, KEY), bad).toBeNull();
    expect(rawMember(` \r\n\t{"${KEY}":{}}`, KEY)).toBe('{}');
  });
});

describe('answer verification: every way it can be no answer', () => {
  const alipayKey = createPrivateKey(DEMO_ALIPAY_PRIVATE_KEY);
  const signed = (inner: string, key = KEY) => `{"${key}":${inner},"sign":"${rsa2Sign(inner, alipayKey)}"}`;

  it('a gateway error arrives signed under error_response and is read like an answer', () => {
    const inner = '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature"}';
    expect(verifyAnswer(signed(inner, 'error_response'), KEY, alipayPub)).toEqual({ ok: true, data: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' } });
    // The named response wins over an error_response beside it.
    const both = `{"error_response":{"code":"40002"},"${KEY}":{"code":"10000"},"sign":"${rsa2Sign('{"code":"10000"}', alipayKey)}"}`;
    expect(verifyAnswer(both, KEY, alipayPub)).toMatchObject({ ok: true, data: { code: '10000' } });
  });

  it.each([
    ['not JSON', 'nope', 'the body is not JSON'],
    ['an array', '[1]', 'the body is not a JSON object'],
    ['null', 'null', 'the body is not a JSON object'],
    ['a number', '7', 'the body is not a JSON object'],
    ['an empty sign', `{"${KEY}":{},"sign":""}`, 'the answer is unsigned'],
    ['a sign that is not text', `{"${KEY}":{},"sign":5}`, 'the answer is unsigned'],
    ['another method’s answer', `{"alipay_trade_query_response":{},"sign":"x"}`, `no ${KEY} in the answer`],
  ])('%s', (_, text, why) => {
    expect(verifyAnswer(text, KEY, alipayPub)).toEqual({ ok: false, why });
  });

  it('a signed value that is not an object, or a key that cannot verify, is no answer', () => {
    expect(verifyAnswer(signed('[1]'), KEY, alipayPub)).toEqual({ ok: false, why: `${KEY} is not an object` });
    expect(verifyAnswer(signed('"text"'), KEY, alipayPub)).toEqual({ ok: false, why: `${KEY} is not an object` });
    expect(verifyAnswer(signed('null'), KEY, alipayPub)).toEqual({ ok: false, why: `${KEY} is not an object` });
    expect(verifyAnswer(signed('{"code":"10000"}'), KEY, 'not a key')).toMatchObject({ ok: false });
    expect(rsa2Verify(REQUEST_CONTENT, REQUEST_SIGNATURE, DEMO_APP_PUBLIC_KEY)).toBe(true);
    expect(rsa2Sign(REQUEST_CONTENT, DEMO_APP_PRIVATE_KEY)).toBe(REQUEST_SIGNATURE);
  });

  it('leaves out undefined parameters as it does empty ones', () => {
    expect(signContent({ b: '2', a: '1', c: undefined, d: '', sign: 's' })).toBe('a=1&b=2');
  });
});

describe('cutting the signed member: the edges of the scan', () => {
  it('gives nothing for text that only looks like an object, rather than a wrong cut or a throw', () => {
    for (const [bad, key] of [
      [`["${KEY}":1]`, KEY], // not an object at all
      [`{"${KEY}"=1}`, KEY], // no colon after the name
      [`{x"${KEY}":1}`, KEY], // a name that is not a string
      ['{"a":1 x"b":2}', 'b'], // members not separated by a comma
      [`{"${KEY}":{"a":1`, KEY], // an object value never closed
    ] as const)
      expect(rawMember(bad, key), bad).toBeNull();
  });

  it('reads a last scalar up to the end of a cut-short text, and a key that cannot verify is a plain false', () => {
    expect(rawMember('{"a":12', 'a')).toBe('12');
    expect(rawMember('{"a":12', 'b')).toBeNull();
    expect(rsa2Verify(REQUEST_CONTENT, REQUEST_SIGNATURE, 'not a key')).toBe(false);
  });
});
