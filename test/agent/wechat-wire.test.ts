/**
 * The WeChat adapters on the wire, against a scripted HTTPS server rather than our own
 * simulator: every request is checked as WeChat would read it (the documented paths,
 * fields and signatures, recomputed here from the documents with node:crypto, not with our
 * codec), and every answer the server writes by hand shows what the cashier gets. An answer
 * that is unsigned, badly signed, stale, unparseable or about someone else is unknown,
 * never a failure (money rule 2).
 */
import { createHash, createHmac, createPrivateKey, sign as rsaSignRaw, verify as rsaVerifyRaw, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CallResult } from '../../agent/backend/acquirer.ts';
import { loadWechatCredentials } from '../../agent/backend/wechat/credentials.ts';
import { signV2 } from '../../agent/backend/wechat/v2-codec.ts';
import { localIp, WechatV2Acquirer } from '../../agent/backend/wechat/wechat-v2-acquirer.ts';
import { WechatV3Acquirer } from '../../agent/backend/wechat/wechat-v3-acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { DEMO_FILES, DEMO_MERCHANT, demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import { PlatformKeys } from '../../simulator/backend/wechat/platform-keys.ts';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The CN of the client certificate presented in the TLS handshake, if any. */
  clientCn: string | undefined;
}
interface Answer {
  /** Drop the connection instead of answering. */
  reset?: boolean;
  /** Never answer (the connection is closed when the tests end). */
  hang?: boolean;
  status?: number;
  headers?: Record<string, string>;
  body: string;
}

const seen: Seen[] = [];
let answers: Array<Answer | ((s: Seen) => Answer)> = [];
/** When set, answers every request (concurrent calls), instead of the queue. */
let route: ((s: Seen) => Answer) | undefined;
let server: https.Server;
let baseUrl: string;

beforeAll(async () => {
  server = https.createServer({ key: readFileSync(DEMO_FILES.server.key), cert: readFileSync(DEMO_FILES.server.cert), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), clientCn: peer?.subject?.CN as string | undefined };
      seen.push(s);
      const next = route ?? answers.shift();
      const a = typeof next === 'function' ? next(s) : (next ?? { status: 599, body: '' });
      if (a.reset) return void req.socket.destroy();
      if (a.hang) return;
      res.writeHead(a.status ?? 200, a.headers ?? {});
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));
beforeEach(() => {
  seen.length = 0;
  answers = [];
  route = undefined;
});

// Real time: the demo merchant certificate for /secapi/ is minted valid from now.
const clock = new ManualClock(Date.now());
const KEY = DEMO_MERCHANT.apiKey;

/** Fields of a v2 body, read with a regular expression as a reader of the document would. */
function xmlFields(xml: string): Record<string, string> {
  expect(xml).toMatch(/^<xml>.*<\/xml>$/s);
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<([A-Za-z_][A-Za-z0-9_]*)><!\[CDATA\[(.*?)\]\]><\/\1>/gs)) out[m[1]!] = m[2]!;
  return out;
}

/** The v2 signing string as the document ("安全规范") spells it out, and its MD5 or HMAC-SHA256. */
function documentedV2Sign(f: Record<string, string>, type: 'MD5' | 'HMAC-SHA256'): string {
  const s = `${Object.keys(f).filter((k) => k !== 'sign' && f[k] !== '').sort().map((k) => `${k}=${f[k]}`).join('&')}&key=${KEY}`;
  return (type === 'MD5' ? createHash('md5').update(s) : createHmac('sha256', KEY).update(s)).digest('hex').toUpperCase();
}

function v2Xml(f: Record<string, string>): string {
  return `<xml>${Object.entries(f).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join('')}</xml>`;
}
/** A v2 answer signed with the merchant key (the codec's MD5 is checked against the published vector in wechat-codec.test.ts). */
function signedV2(f: Record<string, string>, key: string = KEY): Answer {
  return { body: v2Xml({ ...f, sign: signV2(f, key, 'MD5') }) };
}
const HEAD = { return_code: 'SUCCESS', appid: DEMO_MERCHANT.appId, mch_id: DEMO_MERCHANT.mchId, nonce_str: 'n0nce' };

function unknownCode(r: CallResult<unknown>): string | undefined {
  expect(r.kind).toBe('unknown');
  return r.kind === 'unknown' ? r.error.code : undefined;
}

describe('wechat-v2 on the wire', () => {
  const make = (signType?: 'MD5' | 'HMAC-SHA256', deviceIp: string | null = '10.1.2.3', terminalId = 'T0000001') => {
    const { deviceIp: _, ...config } = demoWechatConfig('wechat-v2');
    const credentials = loadWechatCredentials('wechat-v2', { ...config, ...(signType ? { signType } : {}), ...(deviceIp ? { deviceIp } : {}) }, false);
    return new WechatV2Acquirer({ baseUrl, credentials, clock, terminalId });
  };
  const payReq = { orderNo: 'WXV2W0001', paymentCode: '134567890123456789', amount: 1234, currency: 'CNY', description: '咖啡 <b>' };
  const paid = { ...HEAD, result_code: 'SUCCESS', out_trade_no: 'WXV2W0001', transaction_id: '4200000001', total_fee: '1234', fee_type: 'CNY', time_end: '20261130140000' };

  it('micropay: the documented fields, in CDATA, signed MD5 over the documented string, without a client certificate', async () => {
    answers = [signedV2(paid)];
    const r = await make().pay(payReq);
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { amount: 1234, state: 'SUCCESS', acquirerTradeNo: '4200000001', paidAt: Date.parse('2026-11-30T06:00:00Z') } } });
    const s = seen[0]!;
    expect([s.method, s.url, s.headers['content-type']]).toEqual(['POST', '/pay/micropay', 'text/xml; charset=utf-8']);
    expect(s.clientCn).toBeUndefined();
    const f = xmlFields(s.body);
    expect(f).toMatchObject({ appid: DEMO_MERCHANT.appId, mch_id: DEMO_MERCHANT.mchId, device_info: 'T0000001', body: '咖啡 <b>', out_trade_no: 'WXV2W0001', total_fee: '1234', fee_type: 'CNY', spbill_create_ip: '10.1.2.3', auth_code: '134567890123456789' });
    expect(f.nonce_str).toMatch(/^[0-9a-f]{32}$/);
    expect(f.sign_type).toBeUndefined();
    expect(f.sign).toBe(documentedV2Sign(f, 'MD5'));
  });

  it('HMAC-SHA256: the request names sign_type and is signed with it; a fresh nonce each call', async () => {
    const hmacPaid = { ...paid, sign_type: 'HMAC-SHA256' };
    answers = [{ body: v2Xml({ ...hmacPaid, sign: signV2(hmacPaid, KEY, 'HMAC-SHA256') }) }, { body: v2Xml({ ...hmacPaid, sign: signV2(hmacPaid, KEY, 'HMAC-SHA256') }) }];
    const a = make('HMAC-SHA256');
    expect(await a.pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(await a.pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    const [f, g] = seen.map((s) => xmlFields(s.body));
    expect(f!.sign_type).toBe('HMAC-SHA256');
    expect(f!.sign).toBe(documentedV2Sign(f!, 'HMAC-SHA256'));
    expect(f!.nonce_str).not.toBe(g!.nonce_str);
  });

  it('an empty description is sent as "scanpay", long ones and terminal ids are cut to the field limits, and without a configured IP one of this machine is sent', async () => {
    answers = [signedV2(paid), signedV2(paid)];
    await make(undefined, null, 'T'.repeat(40)).pay({ ...payReq, description: '' });
    await make().pay({ ...payReq, description: 'd'.repeat(200) });
    const [f, g] = seen.map((s) => xmlFields(s.body));
    expect(f).toMatchObject({ body: 'scanpay', device_info: 'T'.repeat(32), spbill_create_ip: localIp() });
    expect(g!.body).toBe('d'.repeat(128));
    // The first external IPv4 address of this machine, loopback only when there is none.
    const external = Object.values(networkInterfaces()).flat().find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    expect(localIp()).toBe(external ?? '127.0.0.1');
  });

  it('query, reverse and refund: documented paths and fields; reverse and refund present the merchant certificate; refund states the total read by a query', async () => {
    const a = make();
    answers = [signedV2({ ...HEAD, result_code: 'SUCCESS', out_trade_no: 'WXV2W0002', trade_state: 'NOTPAY', total_fee: '500' })];
    expect(await a.query({ orderNo: 'WXV2W0002' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { state: 'NOTPAY', amount: 500 } } });
    answers = [signedV2({ ...HEAD, result_code: 'SUCCESS', out_trade_no: 'WXV2W0002', recall: 'N' })];
    expect(await a.reverse({ orderNo: 'WXV2W0002' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    answers = [
      signedV2({ ...HEAD, result_code: 'SUCCESS', out_trade_no: 'WXV2W0002', trade_state: 'SUCCESS', total_fee: '5000', fee_type: 'CNY' }),
      signedV2({ ...HEAD, result_code: 'SUCCESS', out_trade_no: 'WXV2W0002', out_refund_no: 'R1', refund_id: '5000001', refund_fee: '2000', total_fee: '5000' }),
    ];
    expect(await a.refund({ orderNo: 'WXV2W0002', refundNo: 'R1', amount: 2000 })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', refundedAmount: 2000 } });
    expect(seen.map((s) => [s.url, s.clientCn])).toEqual([
      ['/pay/orderquery', undefined],
      ['/secapi/pay/reverse', DEMO_MERCHANT.mchId],
      ['/pay/orderquery', undefined],
      ['/secapi/pay/refund', DEMO_MERCHANT.mchId],
    ]);
    const [q, rv, , rf] = seen.map((s) => xmlFields(s.body));
    for (const f of [q!, rv!, rf!]) {
      expect(f).toMatchObject({ appid: DEMO_MERCHANT.appId, mch_id: DEMO_MERCHANT.mchId, out_trade_no: 'WXV2W0002' });
      expect(f.sign).toBe(documentedV2Sign(f, 'MD5'));
    }
    expect(Object.keys(q!).sort()).toEqual(['appid', 'mch_id', 'nonce_str', 'out_trade_no', 'sign']);
    expect(rf).toMatchObject({ out_refund_no: 'R1', total_fee: '5000', refund_fee: '2000', refund_fee_type: 'CNY' });
  });

  // The message is what a technician reads in the log and the journal: what WeChat said, and why it is no answer.
  const { return_code: _rc, ...noReturnCode } = paid;
  it.each([
    ['HTTP 500 with a signed body', { status: 500, ...signedV2(paid) }, 'BACKEND_HTTP_STATUS', /^WeChat answered pay with HTTP 500$/],
    ['a body that is not XML', { body: '{"return_code":"SUCCESS"}' }, 'BACKEND_MALFORMED', /^answer to pay is not WeChat XML \(.+\)$/],
    ['return_code FAIL (unsigned, as WeChat sends it)', { body: v2Xml({ return_code: 'FAIL', return_msg: `签名错误${'x'.repeat(300)}` }) }, 'BACKEND_UNKNOWN', new RegExp(`^WeChat return_code FAIL: 签名错误x{196}$`)],
    ['no return_code at all', signedV2(noReturnCode), 'BACKEND_UNKNOWN', /^WeChat return_code \(none\): $/],
    ['an unsigned SUCCESS', { body: v2Xml(paid) }, 'BACKEND_SIGNATURE_INVALID', /^answer to pay is unsigned: treated as no answer$/],
    ['a SUCCESS signed with another key', signedV2(paid, '192006250b4c09247ec02edce69f6a2e'), 'BACKEND_SIGNATURE_INVALID', /^answer to pay is badly signed: treated as no answer$/],
    ['a signed answer naming another appid', signedV2({ ...paid, appid: 'wx0000000000000000' }), 'BACKEND_MALFORMED', /^answer to pay names another appid$/],
    ['a signed answer naming another mch_id', signedV2({ ...paid, mch_id: '10000101' }), 'BACKEND_MALFORMED', /^answer to pay names another mch_id$/],
    ['a signed success without transaction_id', signedV2({ ...paid, transaction_id: '' }), 'BACKEND_MALFORMED', /^answer to pay: a successful micropay answer without total_fee or transaction_id$/],
  ] as const)('a pay answered with %s is unknown with its code, never a decline', async (_, answer, code, message) => {
    answers = [answer];
    const r = await make().pay(payReq);
    expect(unknownCode(r)).toBe(code);
    if (r.kind === 'unknown') expect(r.error.message).toMatch(message);
  });

  it('a connection reset after the request left is unknown; a refused connection is not sent', async () => {
    answers = [{ reset: true, body: '' }];
    expect(unknownCode(await make().pay(payReq))).toBe('BACKEND_UNKNOWN');
    expect(seen).toHaveLength(1);
    const closed = https.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const credentials = loadWechatCredentials('wechat-v2', demoWechatConfig('wechat-v2'), false);
    const r = await new WechatV2Acquirer({ baseUrl: `https://127.0.0.1:${port}`, credentials, clock, terminalId: 'T' }).pay(payReq);
    expect(r.kind).toBe('not_sent');
  });

  it('a signed answer that names neither appid nor mch_id is still read (both are optional on the wire)', async () => {
    const { appid: _a, mch_id: _m, ...bare } = paid;
    answers = [signedV2(bare)];
    expect(await make().pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
  });

  it('a signed decline is a decline with its reason', async () => {
    answers = [signedV2({ ...HEAD, result_code: 'FAIL', err_code: 'NOTENOUGH', err_code_des: '余额不足' })];
    expect(await make().pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'NOT_ENOUGH', reasonMessage: '余额不足' } });
  });

  it('needs the v2 API key', () => {
    const credentials = loadWechatCredentials('wechat-v2', demoWechatConfig('wechat-v2'), false);
    expect(() => new WechatV2Acquirer({ baseUrl, credentials: { ...credentials, apiKey: '' }, clock, terminalId: 'T' })).toThrow(/API key/);
  });
});

describe('wechat-v3 on the wire', () => {
  const merchantPub = new X509Certificate(readFileSync(DEMO_FILES.merchant.cert)).publicKey;
  const platformKey = createPrivateKey(readFileSync(DEMO_FILES.platform.key));
  // openssl x509 -in platform.crt -noout -serial
  const platformSerial = new X509Certificate(readFileSync(DEMO_FILES.platform.cert)).serialNumber.replace(/:/g, '');
  const merchantSerial = '3D8E410E8738566B541395DDE3FF7373B577E0DA';
  const now = () => Math.floor(clock.now() / 1000);

  /** What the adapters reported through onCall: operation, kind. */
  const calls: string[][] = [];
  beforeEach(() => void (calls.length = 0));
  const make = (deviceIp: string | null = '10.1.2.3', withV3Key = false, o: { terminalId?: string; queryTimeoutMs?: number } = {}) => {
    const { deviceIp: _, apiV3KeyFile, ...config } = demoWechatConfig('wechat-v3');
    const credentials = loadWechatCredentials('wechat-v3', { ...config, ...(deviceIp ? { deviceIp } : {}), ...(withV3Key ? { apiV3KeyFile } : {}) }, false);
    return new WechatV3Acquirer({
      baseUrl,
      credentials,
      clock,
      terminalId: o.terminalId ?? 'T0000001',
      onCall: (op, kind) => calls.push([op, kind]),
      ...(o.queryTimeoutMs ? { timeoutMs: { query: o.queryTimeoutMs } } : {}),
    });
  };

  /** An answer signed by the platform key over `TIMESTAMP\nNONCE\nBODY\n`, as the document has it. */
  function signed(body: string, o: { status?: number; ts?: number | string; nonce?: string; serial?: string; drop?: string; signBody?: string } = {}): Answer {
    const ts = String(o.ts ?? now());
    const nonce = o.nonce ?? 'c5ac7061fccab6bf3e254dcf98995b8c';
    const signature = rsaSignRaw('sha256', Buffer.from(`${ts}\n${nonce}\n${o.signBody ?? body}\n`), platformKey).toString('base64');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': o.serial ?? platformSerial, 'Wechatpay-Signature': signature };
    if (o.drop) delete headers[o.drop];
    return { status: o.status ?? 200, headers, body };
  }

  /** Checks the Authorization header as WeChat does: scheme, merchant, serial, and the RSA signature over the documented message. */
  function checkAuthorization(s: Seen): void {
    const m = /^WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="([0-9A-F]{32})",timestamp="(\d+)",serial_no="([0-9A-F]+)",signature="([^"]+)"$/.exec(String(s.headers.authorization));
    expect(m, String(s.headers.authorization)).not.toBeNull();
    const [, mchid, nonce, ts, serial, signature] = m!;
    expect([mchid, serial, Number(ts)]).toEqual([DEMO_MERCHANT.mchId, merchantSerial, now()]);
    expect(rsaVerifyRaw('sha256', Buffer.from(`${s.method}\n${s.url}\n${ts}\n${nonce}\n${s.body}\n`), merchantPub, Buffer.from(signature!, 'base64'))).toBe(true);
  }

  const payReq = { orderNo: 'WXV3W0001', paymentCode: '134567890123456789', amount: 1234, currency: 'CNY', description: '咖啡' };
  const trade = (no: string, state = 'SUCCESS', total = 1234) => JSON.stringify({ appid: DEMO_MERCHANT.appId, mchid: DEMO_MERCHANT.mchId, out_trade_no: no, transaction_id: '4200000002', trade_state: state, success_time: '2026-11-30T14:00:00+08:00', amount: { total, currency: 'CNY' } });

  it('codepay: the documented JSON body, signed in the Authorization header; a verified answer is read', async () => {
    answers = [signed(trade('WXV3W0001'))];
    const r = await make().pay(payReq);
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { amount: 1234, state: 'SUCCESS', acquirerTradeNo: '4200000002' } } });
    const s = seen[0]!;
    expect([s.method, s.url, s.headers['content-type'], s.headers.accept]).toEqual(['POST', '/v3/pay/transactions/codepay', 'application/json', 'application/json']);
    expect(JSON.parse(s.body)).toEqual({
      appid: DEMO_MERCHANT.appId,
      mchid: DEMO_MERCHANT.mchId,
      description: '咖啡',
      out_trade_no: 'WXV3W0001',
      payer: { auth_code: '134567890123456789' },
      amount: { total: 1234, currency: 'CNY' },
      scene_info: { device_ip: '10.1.2.3', store_info: { out_id: 'T0000001' } },
    });
    checkAuthorization(s);
    expect(s.clientCn).toBeUndefined();
  });

  it('an empty description is "scanpay", a long one is cut to 127 characters, and without a configured IP one of this machine is sent', async () => {
    answers = [signed(trade('WXV3W0001')), signed(trade('WXV3W0001'))];
    await make(null).pay({ ...payReq, description: '' });
    await make().pay({ ...payReq, description: 'd'.repeat(200) });
    const [b, c] = seen.map((s) => JSON.parse(s.body) as { description: string; scene_info: { device_ip: string } });
    expect([b!.description, b!.scene_info.device_ip]).toEqual(['scanpay', localIp()]);
    expect(c!.description).toBe('d'.repeat(127));
  });

  it('a terminal id longer than store_info.out_id allows (32) is cut to 32 characters', async () => {
    answers = [signed(trade('WXV3W0001'))];
    await make('10.1.2.3', false, { terminalId: `T${'9'.repeat(40)}` }).pay(payReq);
    expect(JSON.parse(seen[0]!.body).scene_info.store_info.out_id).toBe(`T${'9'.repeat(31)}`);
  });

  it('query is a signed GET with the order number escaped and mchid in the query string, no body; reverse and refund post the documented bodies', async () => {
    const a = make();
    answers = [signed(trade('WX/3 0002', 'NOTPAY', 500))];
    expect(await a.query({ orderNo: 'WX/3 0002' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { state: 'NOTPAY', amount: 500 } } });
    answers = [{ status: 204, ...signed('') }];
    expect(await a.reverse({ orderNo: 'WX/3 0002' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    answers = [
      signed(trade('WX/3 0002', 'SUCCESS', 5000)),
      signed(JSON.stringify({ refund_id: '5000002', out_refund_no: 'R1', out_trade_no: 'WX/3 0002', status: 'SUCCESS', amount: { refund: 2000, total: 5000, currency: 'CNY' } })),
    ];
    expect(await a.refund({ orderNo: 'WX/3 0002', refundNo: 'R1', amount: 2000 })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['GET', '/v3/pay/transactions/out-trade-no/WX%2F3%200002?mchid=10000100'],
      ['POST', '/v3/pay/transactions/out-trade-no/WX%2F3%200002/reverse'],
      ['GET', '/v3/pay/transactions/out-trade-no/WX%2F3%200002?mchid=10000100'],
      ['POST', '/v3/refund/domestic/refunds'],
    ]);
    for (const s of seen) checkAuthorization(s);
    expect([seen[0]!.body, seen[0]!.headers['content-type']]).toEqual(['', undefined]);
    expect(JSON.parse(seen[1]!.body)).toEqual({ appid: DEMO_MERCHANT.appId, mchid: DEMO_MERCHANT.mchId });
    expect(JSON.parse(seen[3]!.body)).toEqual({ out_trade_no: 'WX/3 0002', out_refund_no: 'R1', amount: { refund: 2000, total: 5000, currency: 'CNY' } });
    // Each call is reported under its own operation (the refund's total was read by a query).
    expect(calls).toEqual([['query', 'answer'], ['reverse', 'answer'], ['query', 'answer'], ['refund', 'answer']]);
  });

  it.each([
    ['no Wechatpay-Signature', signed(trade('WXV3W0001'), { drop: 'Wechatpay-Signature' }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is unsigned or names an unknown platform certificate: treated as no answer$/],
    ['no Wechatpay-Nonce', signed(trade('WXV3W0001'), { drop: 'Wechatpay-Nonce' }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is unsigned or names an unknown platform certificate: treated as no answer$/],
    ['no Wechatpay-Serial', signed(trade('WXV3W0001'), { drop: 'Wechatpay-Serial' }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is unsigned or names an unknown platform certificate: treated as no answer$/],
    ['a serial we do not know (and no APIv3 key to fetch it)', signed(trade('WXV3W0001'), { serial: '0123456789ABCDEF' }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is unsigned or names an unknown platform certificate: treated as no answer$/],
    ['a timestamp that is not a number', signed(trade('WXV3W0001'), { ts: '1554209980.5' }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is unsigned or names an unknown platform certificate: treated as no answer$/],
    ['a signature over another body', signed(trade('WXV3W0001'), { signBody: trade('WXV3W0001', 'NOTPAY') }), 'BACKEND_SIGNATURE_INVALID', /^answer to pay \(HTTP 200\) is badly signed: treated as no answer$/],
    ['a signed HTTP 500 without a body', signed('', { status: 500 }), 'BACKEND_HTTP_STATUS', /^WeChat answered pay with HTTP 500$/],
    ['a signed HTTP 200 without a body', signed(''), 'BACKEND_MALFORMED', /^answer to pay: .+/],
    ['a signed body that is not JSON', signed('<html>'), 'BACKEND_MALFORMED', /^answer to pay: .+/],
    ['a signed answer about another order', signed(trade('WXV3W9999')), 'BACKEND_MALFORMED', /^answer to pay: the answer names another out_trade_no$/],
  ] as const)('a pay answered with %s is unknown with its code, never a decline', async (_, answer, code, message) => {
    answers = [answer];
    const r = await make().pay(payReq);
    expect(unknownCode(r)).toBe(code);
    if (r.kind === 'unknown') expect(r.error.message).toMatch(message);
  });

  it('an answer stamped more than 300 s away says so; a reset connection is unknown', async () => {
    answers = [signed(trade('WXV3W0001'), { ts: now() - 301 }), { reset: true, body: '' }];
    const stale = await make().pay(payReq);
    expect(unknownCode(stale)).toBe('BACKEND_SIGNATURE_INVALID');
    if (stale.kind === 'unknown') expect(stale.error.message).toBe(`answer to pay is timestamped ${now() - 301}, more than 300 s from our clock: a replay, or the device clock is wrong`);
    expect(unknownCode(await make().pay(payReq))).toBe('BACKEND_UNKNOWN');
  });

  it('the answer timestamp may be up to 300 s from our clock, not more; the serial is matched whatever its case', async () => {
    answers = [
      () => signed(trade('WXV3W0001'), { ts: now() - 300 }),
      () => signed(trade('WXV3W0001'), { ts: now() + 300, serial: platformSerial.toLowerCase() }),
      () => signed(trade('WXV3W0001'), { ts: now() - 301 }),
      () => signed(trade('WXV3W0001'), { ts: now() + 301 }),
    ];
    const a = make();
    expect((await a.pay(payReq)).kind).toBe('answer');
    expect((await a.pay(payReq)).kind).toBe('answer');
    expect(unknownCode(await a.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
    expect(unknownCode(await a.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
  });

  it('a signed error body is read as WeChat meant it: a 403 decline, a 500 SYSTEM_ERROR that leaves the payment open', async () => {
    answers = [signed(JSON.stringify({ code: 'NOT_ENOUGH', message: '余额不足' }), { status: 403 }), signed(JSON.stringify({ code: 'SYSTEM_ERROR', message: '系统错误' }), { status: 500 })];
    expect(await make().pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'NOT_ENOUGH' } });
    expect(await make().pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'UNKNOWN', reasonCode: 'SYSTEM_ERROR' } });
  });

  it('an unknown serial with the APIv3 key set: one certificate fetch, signed; a failed fetch leaves the answer unverified', async () => {
    answers = [signed(trade('WXV3W0001'), { serial: '0123456789ABCDEF' }), { status: 500, body: '' }];
    expect(unknownCode(await make('10.1.2.3', true).pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['POST', '/v3/pay/transactions/codepay'],
      ['GET', '/v3/certificates'],
    ]);
    checkAuthorization(seen[1]!);
    expect(seen[1]!.headers.accept).toBe('application/json');
  });

  it('the certificate fetch is a read with a query\'s timeout: one that gets no answer leaves the answer unverified', async () => {
    answers = [signed(trade('WXV3W0001'), { serial: '0123456789ABCDEF' }), { hang: true, body: '' }];
    const r = await make('10.1.2.3', true, { queryTimeoutMs: 300 }).pay(payReq);
    expect(unknownCode(r)).toBe('BACKEND_SIGNATURE_INVALID');
    expect(calls).toEqual([['query', 'unknown'], ['pay', 'unknown']]);
  });

  describe('a rotated platform certificate, learnt from GET /v3/certificates', () => {
    // WeChat's side: the demo platform certificate and a new one from the same CA, signing from now on.
    // Minted in a hook (openssl, a second or so), so that a run of other tests does not pay for it.
    let keys: PlatformKeys;
    let next: string;
    let nextKey: KeyObject;
    beforeAll(() => {
      keys = new PlatformKeys();
      next = keys.rotate();
      nextKey = keys.current.key;
    });
    const apiV3Key = readFileSync(DEMO_FILES.apiV3Key, 'utf8').trim();
    const byNext = (body: string, o: { serial?: string; signWith?: KeyObject; tamper?: boolean } = {}): Answer => {
      const ts = String(now());
      const nonce = 'd5ac7061fccab6bf3e254dcf98995b8c';
      const signature = rsaSignRaw('sha256', Buffer.from(`${ts}\n${nonce}\n${o.tamper ? `${body} ` : body}\n`), o.signWith ?? nextKey).toString('base64');
      return { headers: { 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': o.serial ?? next, 'Wechatpay-Signature': signature }, body };
    };
    const certificates = () => JSON.stringify(keys.certificatesBody(apiV3Key));
    const learner = () => {
      const learnt: string[][] = [];
      const { deviceIp: _, ...config } = demoWechatConfig('wechat-v3');
      const credentials = loadWechatCredentials('wechat-v3', config, false);
      const acquirer = new WechatV3Acquirer({ baseUrl, credentials, clock, terminalId: 'T0000001', onPlatformCerts: (c) => learnt.push([...c.keys()]) });
      return { acquirer, learnt, credentials };
    };
    const serve = (certs: () => Answer) => (s: Seen) => (s.url === '/v3/certificates' ? certs() : byNext(trade(JSON.parse(s.body || '{}').out_trade_no ?? 'WXV3W0001')));

    it('a list signed by the new certificate it delivers is learnt once, even by two calls at once; the answers then verify', async () => {
      const { acquirer, learnt, credentials } = learner();
      route = serve(() => byNext(certificates()));
      const [a, b] = await Promise.all([acquirer.pay(payReq), acquirer.pay({ ...payReq, orderNo: 'WXV3W0002' })]);
      expect(a).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
      expect(b).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', orderNo: 'WXV3W0002' } });
      expect(seen.filter((s) => s.url === '/v3/certificates')).toHaveLength(1);
      expect(learnt).toEqual([[platformSerial, next]]);
      expect([...credentials.platformCerts!.keys()]).toEqual([platformSerial, next]);
      // Learnt: the next answer under the new certificate needs no fetch, and nothing new is reported.
      seen.length = 0;
      expect(await acquirer.pay(payReq)).toMatchObject({ kind: 'answer' });
      expect(seen.map((s) => s.url)).toEqual(['/v3/pay/transactions/codepay']);
      expect(learnt).toHaveLength(1);
    });

    it.each([
      ['unsigned', () => ({ ...byNext(certificates()), headers: { 'Wechatpay-Serial': next } })],
      ['signed over another body', () => byNext(certificates(), { tamper: true })],
      ['signed by a key it does not name', () => byNext(certificates(), { signWith: createPrivateKey(readFileSync(DEMO_FILES.merchant.key)) })],
      ['signed under a serial neither known nor delivered', () => byNext(certificates(), { serial: '0A0B0C' })],
      ['not decryptable under our APIv3 key', () => byNext(JSON.stringify(new PlatformKeys().certificatesBody('x'.repeat(32))))],
      ['not JSON', () => byNext('<html>')],
      ['answered with HTTP 404', () => ({ ...byNext(certificates()), status: 404 })],
    ] as const)('a list %s teaches nothing: the answer stays unverified', async (_, certs) => {
      const { acquirer, learnt, credentials } = learner();
      route = serve(certs);
      expect(unknownCode(await acquirer.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
      expect(learnt).toEqual([]);
      expect([...credentials.platformCerts!.keys()]).toEqual([platformSerial]);
    });

    it('a certificate already expired by our clock is not kept', async () => {
      const { learnt, credentials } = learner();
      route = serve(() => byNext(certificates()));
      // At its validTo to the millisecond: expired (the bound the merchant certificate has too).
      const later = new ManualClock(Date.parse(keys.current.cert.validTo));
      const stale = new WechatV3Acquirer({ baseUrl, credentials, clock: later, terminalId: 'T0000001', onPlatformCerts: () => learnt.push(['called']) });
      expect(unknownCode(await stale.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
      expect(learnt).toEqual([]);
      expect(credentials.platformCerts!.has(next)).toBe(false);
    });

    it('a failed fetch is not remembered: the next answer under the unknown serial fetches again, and learns it', async () => {
      const { acquirer, learnt } = learner();
      const lists = [{ ...byNext(certificates()), status: 404 }, byNext(certificates())];
      route = serve(() => lists.shift()!);
      expect(unknownCode(await acquirer.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
      expect(await acquirer.pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
      expect(seen.filter((s) => s.url === '/v3/certificates')).toHaveLength(2);
      expect(learnt).toEqual([[platformSerial, next]]);
    });

    it('learns without anyone to tell (no onPlatformCerts)', async () => {
      const { credentials } = learner();
      const acquirer = new WechatV3Acquirer({ baseUrl, credentials, clock, terminalId: 'T0000001' });
      route = serve(() => byNext(certificates()));
      expect(await acquirer.pay(payReq)).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
      expect(credentials.platformCerts!.has(next)).toBe(true);
    });

    it('an answer with no Wechatpay-Serial header at all does not start a fetch either', async () => {
      const { acquirer } = learner();
      route = (s) => {
        if (s.url === '/v3/certificates') return byNext(certificates());
        const a = byNext(trade('WXV3W0001'));
        const { 'Wechatpay-Serial': _, ...headers } = a.headers!;
        return { ...a, headers };
      };
      expect(unknownCode(await acquirer.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
      expect(seen.map((s) => s.url)).toEqual(['/v3/pay/transactions/codepay']);
    });

    it('an answer without a serial does not start a fetch', async () => {
      const { acquirer } = learner();
      route = (s) => (s.url === '/v3/certificates' ? byNext(certificates()) : { ...byNext(trade('WXV3W0001')), headers: { ...byNext(trade('WXV3W0001')).headers, 'Wechatpay-Serial': '' } });
      expect(unknownCode(await acquirer.pay(payReq))).toBe('BACKEND_SIGNATURE_INVALID');
      expect(seen.map((s) => s.url)).toEqual(['/v3/pay/transactions/codepay']);
    });
  });

  it('needs the merchant key, its serial and a platform certificate', () => {
    const credentials = loadWechatCredentials('wechat-v3', demoWechatConfig('wechat-v3'), false);
    for (const broken of [{ merchantKey: undefined }, { serialNo: '' }, { platformCerts: new Map() }, { platformCerts: undefined }]) {
      expect(() => new WechatV3Acquirer({ baseUrl, credentials: { ...credentials, ...broken }, clock, terminalId: 'T' })).toThrow(/merchant key/);
    }
  });
});
