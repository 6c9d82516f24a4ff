/**
 * The WeChat wire formats checked against what we did not write: the published v2 signing
 * test vector (../shared/reference/acquirer-apis.md) and v3 RSA signatures made once with
 * the `openssl dgst -sha256 -sign` command line over the demo keys.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildV2, parseV2, signV2, v2SigningString, verifyV2, V2FormatError } from '../../agent/backend/wechat/v2-codec.ts';
import { certSerial, newNonce, parseV3Authorization, rsaSign, rsaVerify, V3_HEADERS, V3_SCHEME, v3AnswerMessage, v3Authorization, v3RequestMessage } from '../../agent/backend/wechat/v3-signing.ts';

const KEYS = new URL('../../simulator/backend/wechat/demo-keys/', import.meta.url);
const read = (f: string) => readFileSync(new URL(f, KEYS));

describe('v2 signing: the published test vector', () => {
  const fields = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
  const key = '192006250b4c09247ec02edce69f6a2d';

  it('builds the documented signing string', () => {
    expect(v2SigningString(fields, key)).toBe('appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d');
  });

  it('MD5', () => {
    expect(signV2(fields, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('HMAC-SHA256', () => {
    expect(signV2(fields, key, 'HMAC-SHA256')).toBe('6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6');
  });

  it('leaves out empty fields and sign itself, so extra empty or sign fields change nothing', () => {
    expect(signV2({ ...fields, attach: '', sign: 'WHATEVER' }, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('verifies a signed answer, refuses a changed field, a wrong key and an unsigned answer', () => {
    const signed = { ...fields, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' };
    expect(verifyV2(signed, key, 'MD5')).toBe(true);
    expect(verifyV2({ ...signed, body: 'tesT' }, key, 'MD5')).toBe(false);
    expect(verifyV2(signed, '192006250b4c09247ec02edce69f6a2e', 'MD5')).toBe(false);
    expect(verifyV2(fields, key, 'MD5')).toBe(false);
    // The answer names its algorithm: that one is used, whatever the request used.
    const hmac = { ...fields, sign_type: 'HMAC-SHA256' };
    expect(verifyV2({ ...hmac, sign: signV2(hmac, key, 'HMAC-SHA256') }, key, 'MD5')).toBe(true);
  });
});

describe('v2 XML', () => {
  it('round-trips fields in CDATA, including markup characters and Chinese text', () => {
    const fields = { appid: 'wx1', body: '咖啡 <b>&amp;</b> ]]> x', total_fee: '0010' };
    const xml = buildV2(fields);
    expect(xml.startsWith('<xml>')).toBe(true);
    expect(parseV2(xml)).toEqual(fields);
  });

  it('reads an answer as WeChat writes it: CDATA, plain text, whitespace-free numbers kept as strings', () => {
    const text = '<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>0100</total_fee><err_code_des><![CDATA[需要用户输入支付密码]]></err_code_des><unknown_new_field>x</unknown_new_field></xml>';
    expect(parseV2(text)).toEqual({ return_code: 'SUCCESS', total_fee: '0100', err_code_des: '需要用户输入支付密码', unknown_new_field: 'x' });
  });

  it('refuses what is not one flat <xml>', () => {
    for (const bad of ['', 'not xml', '{"a":1}', '<xml><a>1</a>', '<root><a>1</a></root>', '<xml><a><b>1</b></a></xml>', '<xml><a>1</a><a>2</a></xml>']) {
      expect(() => parseV2(bad), bad).toThrow(V2FormatError);
    }
  });
});

describe('v3 RSA signatures against openssl', () => {
  const merchantKey = createPrivateKey(read('merchant.key'));
  const platformKey = createPrivateKey(read('platform.key'));
  const platform = new X509Certificate(read('platform.crt'));
  const merchant = new X509Certificate(read('merchant.crt'));
  const body = '{"appid":"wxd930ea5d5a258f4f","mchid":"10000100","out_trade_no":"T0001"}';
  // printf 'POST\n/v3/pay/transactions/codepay\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n<body>\n' | openssl dgst -sha256 -sign merchant.key | base64 -w0
  const OPENSSL_REQUEST_SIGNATURE =
    'NvChHP2hAOvE20UgVu2LwKSjno7qP8GFWXRUIP2uM5zfIFU84dUQvFmhCa9qx2D1oW+f2ato03mwJOVsRLNKsWHqD1jKFbK9tEyrgKEsYw77D2arCuVPtz9Ba00R0RNoPtf5y538RTM+rPXKNgzSb/bz83w6pc9wvRzfQhZEqa4VZQhHaqu49UHrgXSPqz9yUCtCTOVUKrUiaDd8oUVlDO61DyEOSBq8r3s6Rp53131NuhatYG4Yo+wXHpG8G6VUlD+5pl1JUfB9GXBioBkUL0pGqNaaeswB+C26rNzZp/g/XEvZezovYDgTCmCpOqK6ID3IcX70VuT6Goi6PQhWWw==';
  // printf '1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"out_trade_no":"T0001","trade_state":"SUCCESS"}\n' | openssl dgst -sha256 -sign platform.key | base64 -w0
  const OPENSSL_ANSWER_SIGNATURE =
    'Wr8natC8hOS3/pisWHpf/mddBHne0CWfnYkjpFf5r6fGnYVI4dwZg78K8UkJoxgkcJGGU1Mu8FFsd3wDIcYTNZESfcj3r1buxC8IoKMaGTZRteMMC5EuxDls6q9dtODXcouxhz3yoCTcsYuy/W5I7lFmNMUJbQEtv0Z4cfuZSK/9n7gk7vseJaUCRxbZ+dPsRZ93fXmkZNCTm8/shKSRjJxsKmckjiEFItoEHeAixmASOSwOvr2D2Xfb4dYeDTT3GR2cXxWd3d7ZpzjzwBGO7zrvi+mrcha+OFlLBsn69urJQ+CDw+3O1OR6lxWPmymWYB9bCo6NY3wMSp37HRUK8w==';

  it('signs a request exactly as openssl does (PKCS#1 v1.5 is deterministic)', () => {
    const message = v3RequestMessage('POST', '/v3/pay/transactions/codepay', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242', body);
    expect(rsaSign(message, merchantKey)).toBe(OPENSSL_REQUEST_SIGNATURE);
    expect(rsaVerify(message, OPENSSL_REQUEST_SIGNATURE, merchant)).toBe(true);
  });

  it('verifies an answer openssl signed with the platform key, and nothing else', () => {
    const message = v3AnswerMessage('1554209980', 'c5ac7061fccab6bf3e254dcf98995b8c', '{"out_trade_no":"T0001","trade_state":"SUCCESS"}');
    expect(rsaVerify(message, OPENSSL_ANSWER_SIGNATURE, platform)).toBe(true);
    expect(rsaVerify(message.replace('SUCCESS', 'SUCCESs'), OPENSSL_ANSWER_SIGNATURE, platform)).toBe(false);
    expect(rsaVerify(message, OPENSSL_ANSWER_SIGNATURE, merchant)).toBe(false);
    expect(rsaVerify(message, 'not base64 at all', platform)).toBe(false);
    expect(rsaSign(message, platformKey)).toBe(OPENSSL_ANSWER_SIGNATURE);
  });

  it('writes and reads the Authorization header; the serial is upper-case hex as openssl prints it', () => {
    // openssl x509 -in merchant.crt -noout -serial → serial=3D8E410E8738566B541395DDE3FF7373B577E0DA
    expect(certSerial(merchant)).toBe('3D8E410E8738566B541395DDE3FF7373B577E0DA');
    const header = v3Authorization({ mchid: '10000100', serialNo: certSerial(merchant), key: merchantKey, method: 'POST', url: '/v3/pay/transactions/codepay', body, timestamp: '1554208460', nonce: '593BEC0C930BF1AFEB40B4A08C8FB242' });
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="10000100",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="3D8E410E8738566B541395DDE3FF7373B577E0DA",signature="${OPENSSL_REQUEST_SIGNATURE}"`,
    );
    expect(parseV3Authorization(header)).toEqual({ mchid: '10000100', nonce_str: '593BEC0C930BF1AFEB40B4A08C8FB242', timestamp: '1554208460', serial_no: '3D8E410E8738566B541395DDE3FF7373B577E0DA', signature: OPENSSL_REQUEST_SIGNATURE });
    expect(parseV3Authorization('Bearer x')).toBeUndefined();
    expect(parseV3Authorization('WECHATPAY2-SHA256-RSA2048 mchid="1"')).toBeUndefined();
  });
});

describe('v2 answers as WeChat writes them', () => {
  const key = '192006250b4c09247ec02edce69f6a2d';
  const vector = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };

  it('the line breaks and indentation between fields are not a field: the published vector verifies when written one field a line', () => {
    const text = `<xml>\n  <appid><![CDATA[wxd930ea5d5a258f4f]]></appid>\n  <mch_id>10000100</mch_id>\n\t<device_info>1000</device_info>\r\n  <body><![CDATA[test]]></body>\n  <nonce_str>ibuaiVcKdpRxkhJA</nonce_str>\n  <sign><![CDATA[9A0A8659F005D6984697E2CA0A9CF3B7]]></sign>\n</xml>\n`;
    const fields = parseV2(text);
    expect(fields).toEqual({ ...vector, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' });
    expect(verifyV2(fields, key, 'MD5')).toBe(true);
  });

  it('text beside the fields, an empty <xml>, empty fields and attributes', () => {
    expect(() => parseV2('<xml>stray<a>1</a></xml>')).toThrow(V2FormatError);
    expect(() => parseV2('<xml>only text</xml>')).toThrow(V2FormatError);
    expect(parseV2('<xml></xml>')).toEqual({});
    expect(parseV2('<xml/>')).toEqual({});
    expect(parseV2('<?xml version="1.0" encoding="UTF-8"?><xml><a></a><b/><c><![CDATA[]]></c><d> 1 </d></xml>')).toEqual({ a: '', b: '', c: '', d: ' 1 ' });
    expect(parseV2('<xml lang="zh"><a x="1">v</a></xml>')).toEqual({ a: 'v' });
    expect(() => parseV2('<xml><a>1</a></xml><xml><a>2</a></xml>')).toThrow(V2FormatError);
  });

  it('a signature in lower case verifies; one of another length, or made with the other algorithm, does not', () => {
    expect(verifyV2({ ...vector, sign: '9a0a8659f005d6984697e2ca0a9cf3b7' }, key, 'MD5')).toBe(true);
    expect(verifyV2({ ...vector, sign: '9A0A8659F005D6984697E2CA0A9CF3B' }, key, 'MD5')).toBe(false);
    expect(verifyV2({ ...vector, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, key, 'HMAC-SHA256')).toBe(false);
    expect(verifyV2({ ...vector, sign: '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6' }, key, 'HMAC-SHA256')).toBe(true);
    expect(verifyV2({ ...vector, sign: '' }, key, 'MD5')).toBe(false);
    // An answer naming MD5 is checked with MD5 even after an HMAC-SHA256 request; an unknown name falls back to the request's.
    const md5 = { ...vector, sign_type: 'MD5' };
    expect(verifyV2({ ...md5, sign: signV2(md5, key, 'MD5') }, key, 'HMAC-SHA256')).toBe(true);
    const odd = { ...vector, sign_type: 'SHA1' };
    expect(verifyV2({ ...odd, sign: signV2(odd, key, 'HMAC-SHA256') }, key, 'HMAC-SHA256')).toBe(true);
    expect(verifyV2({ ...odd, sign: signV2(odd, key, 'MD5') }, key, 'HMAC-SHA256')).toBe(false);
    expect(signV2(vector, key)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('outside CDATA the XML entities are text: a value is read as the characters WeChat signed', () => {
    expect(parseV2('<xml><err_code_des>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</err_code_des></xml>')).toEqual({ err_code_des: 'a & b <c> "d" \'e\'' });
    const text = '<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><attach>&lt;&amp;&gt;</attach></xml>';
    const fields = parseV2(text);
    expect(fields.attach).toBe('<&>');
    expect(v2SigningString(fields, key)).toBe('appid=wxd930ea5d5a258f4f&attach=<&>&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d');
  });

  it('a field a JavaScript caller left undefined is left out of the signature, like an empty one', () => {
    expect(signV2({ ...vector, attach: undefined as unknown as string }, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('each refusal says why, for the BACKEND_MALFORMED a technician reads', () => {
    const why: Array<[string, RegExp]> = [
      ['<xml><a>1</a>', /^not XML \(.+, line 1\)$/],
      ['<root><a>1</a></root>', /root element is not <xml>/],
      ['<xml>only text</xml>', /<xml> holds no fields/],
      ['<xml>stray<a>1</a></xml>', /text outside its fields/],
      ['<xml><a>1</a><a>2</a></xml>', /field a appears more than once/],
      ['<xml><a><b>1</b></a></xml>', /field a is not a plain value/],
    ];
    for (const [bad, message] of why) expect(() => parseV2(bad), bad).toThrow(message);
    expect(() => buildV2({ 'a-b': '1' })).toThrow('field name "a-b" is not a valid XML element name');
  });

  it('builds only valid element names, each value in CDATA', () => {
    expect(buildV2({ _a: '1', b2: '<x>' })).toBe('<xml><_a><![CDATA[1]]></_a><b2><![CDATA[<x>]]></b2></xml>');
    for (const bad of ['2a', 'a-b', 'a b', '', 'a>', 'é']) expect(() => buildV2({ [bad]: '1' }), bad).toThrow(V2FormatError);
  });
});

describe('v3 headers', () => {
  it('names the answer headers as WeChat sends them, and makes 32-hex-digit nonces', () => {
    expect(V3_HEADERS).toEqual({ signature: 'wechatpay-signature', serial: 'wechatpay-serial', timestamp: 'wechatpay-timestamp', nonce: 'wechatpay-nonce' });
    expect(newNonce()).toMatch(/^[0-9A-F]{32}$/);
    expect(newNonce()).not.toBe(newNonce());
  });

  it('reads an Authorization header only when it is complete', () => {
    const full = { mchid: '1', nonce_str: 'N', timestamp: '2', serial_no: 'S', signature: 'X' };
    const header = (p: Record<string, string>) => `${V3_SCHEME} ${Object.entries(p).map(([k, v]) => `${k}="${v}"`).join(',')}`;
    expect(parseV3Authorization(header(full))).toEqual(full);
    for (const k of Object.keys(full)) {
      const { [k]: _, ...rest } = full as Record<string, string>;
      expect(parseV3Authorization(header(rest)), k).toBeUndefined();
      expect(parseV3Authorization(header({ ...full, [k]: '' })), k).toBeUndefined();
    }
    expect(parseV3Authorization(undefined)).toBeUndefined();
    expect(parseV3Authorization(header(full).replace(' ', ''))).toBeUndefined();
    expect(parseV3Authorization(`x${header(full)}`)).toBeUndefined();
  });

  it('verifies with a PEM string as well as a certificate, and a bad key is false, not a throw', () => {
    const message = v3AnswerMessage('1', 'n', '{}');
    const sig = rsaSign(message, createPrivateKey(read('platform.key')));
    expect(rsaVerify(message, sig, new X509Certificate(read('platform.crt')).publicKey.export({ type: 'spki', format: 'pem' }) as string)).toBe(true);
    expect(rsaVerify(message, sig, 'not a key')).toBe(false);
  });
});
