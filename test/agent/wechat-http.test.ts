/**
 * The WeChat Pay exchange (agent/backend/wechat/wechat-http.ts) against a real HTTPS server
 * on loopback with the demo CA's certificate: what is provably not sent (refused, our own
 * rejection of the server's certificate, no usable merchant certificate) and what is unknown.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientCert, WechatCredentials } from '../../agent/backend/wechat/credentials.ts';
import { refundWithTotal, WechatHttp, type Sent } from '../../agent/backend/wechat/wechat-http.ts';
import type { CallResult } from '../../agent/backend/acquirer.ts';
import type { QueryResponse, RefundResponse } from '../../agent/protocol/messages.ts';
import { ManualClock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { DEMO_FILES } from '../../simulator/backend/wechat/demo-merchant.ts';
import { closeNewest, listenOnLoopback } from '../support/loopback.ts';

const ca = readFileSync(DEMO_FILES.ca);
const merchant: ClientCert = { tls: { cert: readFileSync(DEMO_FILES.merchant.cert), key: readFileSync(DEMO_FILES.merchant.key) }, cert: new X509Certificate(readFileSync(DEMO_FILES.merchant.cert)) };
/** An HTTPS gateway with the demo server certificate; counts requests and connections. */
async function gateway(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void = (req, res) => (req.resume(), res.writeHead(200, { 'X-Wechat-Thing': 'yes' }).end('<xml>ok</xml>'))) {
  const seen = { requests: 0, connections: 0 };
  const s = https.createServer({ cert: readFileSync(DEMO_FILES.server.cert), key: readFileSync(DEMO_FILES.server.key) }, (req, res) => {
    seen.requests++;
    handler(req, res);
  });
  s.on('secureConnection', () => seen.connections++);
  await listenOnLoopback(s);
  return { url: `https://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

function client(baseUrl: string, o: { ca?: Buffer; clientCert?: () => ClientCert; clock?: ManualClock; timeoutMs?: number } = {}) {
  const calls: unknown[][] = [];
  const credentials: WechatCredentials = { appId: 'wx1', mchId: '1900000001', signType: 'MD5', ...(o.ca ? { ca: o.ca } : {}), ...(o.clientCert ? { clientCert: o.clientCert } : {}) };
  const http = new WechatHttp({ baseUrl, credentials, clock: o.clock ?? new ManualClock(Date.now()), timeoutMs: o.timeoutMs ? { query: o.timeoutMs } : undefined, onCall: (...a) => calls.push(a) });
  return { http, calls };
}

const post = { url: '/pay/micropay', method: 'POST', data: '<xml/>' };
/** The error of a call that got no answer. */
const errorOf = (r: Sent) => (!r.ok && r.result.kind !== 'answer' ? r.result.error : undefined);

describe('WechatHttp.send', () => {
  it('hands back the status, the headers lower-cased and the raw bytes, and reports nothing itself', async () => {
    const g = await gateway();
    const { http, calls } = client(g.url, { ca });
    const r = await http.send('pay', post, false);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.exchange).toMatchObject({ status: 200, headers: { 'x-wechat-thing': 'yes' } });
    expect(r.exchange.raw.toString()).toBe('<xml>ok</xml>');
    expect(r.elapsed()).toBeGreaterThanOrEqual(0);
    // The caller judges the answer and reports it (finish); send reported nothing.
    expect(calls).toEqual([]);
    expect(http.finish('pay', { kind: 'answer', body: 1, latencyMs: 3 })).toEqual({ kind: 'answer', body: 1, latencyMs: 3 });
    expect(calls).toEqual([['pay', 'answer', 3]]);
  });

  it('a server certificate we do not trust: not sent, nothing reached the server', async () => {
    const g = await gateway();
    const { http, calls } = client(g.url);
    const r = await http.send('pay', post, false);
    expect(r).toMatchObject({ ok: false, result: { kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', detail: { op: 'pay' } } } });
    expect(errorOf(r)?.message).toMatch(/^WeChat Pay unreachable \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/);
    expect(g.seen.requests).toBe(0);
    expect(calls).toEqual([['pay', 'not_sent', expect.any(Number)]]);
  });

  it('connection refused: not sent', async () => {
    const g = await gateway();
    await closeNewest();
    const { http, calls } = client(g.url, { ca });
    const r = await http.send('query', post, false);
    expect(r).toMatchObject({ ok: false, result: { kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', message: 'WeChat Pay unreachable (ECONNREFUSED)' } } });
    expect(calls).toEqual([['query', 'not_sent', expect.any(Number)]]);
  });

  it('no answer within the operation\'s timeout: unknown', async () => {
    const g = await gateway((req) => req.resume());
    const { http, calls } = client(g.url, { ca, timeoutMs: 200 });
    const r = await http.send('query', post, false);
    expect(r).toMatchObject({ ok: false, result: { kind: 'unknown', error: { code: 'BACKEND_UNKNOWN', detail: { op: 'query' } } } });
    expect(errorOf(r)?.message).toMatch(/^no answer to query \(E/);
    expect(g.seen.requests).toBe(1);
    expect(calls).toEqual([['query', 'unknown', expect.any(Number)]]);
  });
});

describe('WechatHttp.send with the merchant certificate (mutual TLS)', () => {
  it('no certificate configured, or one that cannot be loaded: not sent, with the configuration error', async () => {
    const g = await gateway();
    const none = await client(g.url, { ca }).http.send('reverse', post, true);
    expect(none).toMatchObject({ ok: false, result: { kind: 'not_sent', error: { code: 'CONFIG_WECHAT_CREDENTIALS' } } });
    expect(errorOf(none)?.message).toMatch(/clientCertFile/);
    const broken = await client(g.url, { ca, clientCert: () => { throw new Error('bad PKCS#12 password'); } }).http.send('reverse', post, true);
    expect(broken).toMatchObject({ ok: false, result: { kind: 'not_sent', error: { code: 'CONFIG_WECHAT_CREDENTIALS', message: 'bad PKCS#12 password' } } });
    const named = new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: 'the certificate file is readable by others' });
    const refused = await client(g.url, { ca, clientCert: () => { throw named; } }).http.send('reverse', post, true);
    expect(errorOf(refused)).toBe(named);
    expect(g.seen.requests).toBe(0);
  });

  it('a certificate outside its validity is not sent (BACKEND_CLIENT_CERT_EXPIRED); valid from its first to before its last millisecond', async () => {
    const g = await gateway();
    const from = Date.parse(merchant.cert.validFrom);
    const to = Date.parse(merchant.cert.validTo);
    const at = async (now: number) => {
      const r = await client(g.url, { ca, clientCert: () => merchant, clock: new ManualClock(now) }).http.send('refund', post, true);
      return errorOf(r)?.code ?? 'sent';
    };
    expect(await at(from - 1)).toBe('BACKEND_CLIENT_CERT_EXPIRED');
    // The refusal names the certificate and its validity, for the technician who renews it.
    const early = await client(g.url, { ca, clientCert: () => merchant, clock: new ManualClock(from - 1) }).http.send('refund', post, true);
    expect(errorOf(early)?.detail).toEqual({ validFrom: merchant.cert.validFrom, validTo: merchant.cert.validTo, serial: merchant.cert.serialNumber });
    expect(await at(from)).toBe('sent');
    expect(await at(to - 1)).toBe('sent');
    expect(await at(to)).toBe('BACKEND_CLIENT_CERT_EXPIRED');
    expect(g.seen.requests).toBe(2);
  });

  it('keeps its connection while the certificate is the same, and opens a new one for a renewed certificate', async () => {
    const g = await gateway();
    let cert = merchant;
    const { http } = client(g.url, { ca, clientCert: () => cert, clock: new ManualClock(Date.parse(merchant.cert.validFrom) + 1000) });
    expect((await http.send('reverse', post, true)).ok).toBe(true);
    expect((await http.send('reverse', post, true)).ok).toBe(true);
    expect(g.seen.connections).toBe(1);
    cert = { ...merchant };
    expect((await http.send('reverse', post, true)).ok).toBe(true);
    expect(g.seen.connections).toBe(2);
    // Without mutual TLS the plain client is used, on a connection of its own.
    expect((await http.send('pay', post, false)).ok).toBe(true);
    expect(g.seen.connections).toBe(3);
  });
});

describe('WechatHttp.unknown', () => {
  it('is no answer, keeping the status and the first 512 bytes of the body, and reports it', () => {
    const { http, calls } = client('https://127.0.0.1:1');
    const r = http.unknown('pay', 'BACKEND_MALFORMED', 'unreadable', { status: 502, headers: {}, raw: Buffer.from('x'.repeat(600)) }, () => 7);
    expect(r).toEqual({ kind: 'unknown', latencyMs: 7, error: expect.objectContaining({ code: 'BACKEND_MALFORMED', message: 'unreadable', detail: { op: 'pay', status: 502, body: 'x'.repeat(512) } }) });
    expect(calls).toEqual([['pay', 'unknown', 7]]);
  });
});

describe('WechatHttp latency and headers', () => {
  afterEach(() => vi.useRealTimers());

  it('reports the time the call took: a certificate load that takes 25 ms is a 25 ms not_sent', async () => {
    // Only performance.now is faked: latency is measured on it, and no socket is opened.
    vi.useFakeTimers({ toFake: ['performance'] });
    vi.advanceTimersByTime(1000);
    const { http, calls } = client('https://127.0.0.1:1', { clientCert: () => { vi.advanceTimersByTime(25); throw new Error('unreadable'); } });
    const r = await http.send('refund', post, true);
    expect(r).toMatchObject({ ok: false, result: { kind: 'not_sent', latencyMs: 25 } });
    expect(calls).toEqual([['refund', 'not_sent', 25]]);
  });

  it('keeps single-valued headers only: a repeated header (Set-Cookie) is no signature header and is left out', async () => {
    const g = await gateway((req, res) => (req.resume(), res.writeHead(200, [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Wechatpay-Serial', 'ABC']]).end('{}')));
    const r = await client(g.url, { ca }).http.send('query', post, false);
    expect(r.ok && r.exchange.headers).toEqual(expect.objectContaining({ 'wechatpay-serial': 'ABC' }));
    expect(r.ok && 'set-cookie' in r.exchange.headers).toBe(false);
  });
});

describe('refundWithTotal (a WeChat refund states the order total, read by a query first)', () => {
  const req = { orderNo: 'ORDER-0001', refundNo: 'REFUND-0001', amount: 300, currency: 'CNY' };
  const trade = { orderNo: 'ORDER-0001', state: 'SUCCESS' as const, amount: 1250, currency: 'CNY', wallet: 'wechat' as const, refundedAmount: 0 };
  /** The refund with a scripted query answer; records what the refund itself was sent with. */
  async function refund(q: CallResult<QueryResponse>) {
    const sent: [number, string][] = [];
    const answer: CallResult<RefundResponse> = { kind: 'answer', latencyMs: 9, body: { result: 'SUCCESS', orderNo: req.orderNo, refundNo: req.refundNo } };
    const r = await refundWithTotal({ query: async () => q }, req, async (total, currency) => (sent.push([total, currency]), answer));
    return { r, sent, answer };
  }

  it('sends the refund with the total and currency the query read', async () => {
    const { r, sent, answer } = await refund({ kind: 'answer', latencyMs: 4, body: { result: 'SUCCESS', orderNo: req.orderNo, trade } });
    expect(sent).toEqual([[1250, 'CNY']]);
    expect(r).toBe(answer);
  });

  it('a query with no answer: the refund is not sent, with the query\'s error and latency', async () => {
    const error = new ScanpayError('BACKEND_UNKNOWN', { message: 'no answer to query' });
    const { r, sent } = await refund({ kind: 'unknown', latencyMs: 30, error });
    expect(r).toEqual({ kind: 'not_sent', error, latencyMs: 30 });
    expect(sent).toEqual([]);
  });

  it('a query answered UNKNOWN: not sent (the outbox tries again), naming the reason, UNKNOWN when none was given', async () => {
    const named = await refund({ kind: 'answer', latencyMs: 5, body: { result: 'UNKNOWN', orderNo: req.orderNo, reasonCode: 'SYSTEMERROR' } });
    expect(named.r).toMatchObject({ kind: 'not_sent', latencyMs: 5, error: { code: 'BACKEND_UNKNOWN', message: "refund not sent: the order's total could not be read (SYSTEMERROR)" } });
    const bare = await refund({ kind: 'answer', latencyMs: 5, body: { result: 'UNKNOWN', orderNo: req.orderNo } });
    expect(bare.r).toMatchObject({ kind: 'not_sent', error: { message: "refund not sent: the order's total could not be read (UNKNOWN)" } });
    expect([...named.sent, ...bare.sent]).toEqual([]);
  });

  it('an order WeChat does not know: a definite FAIL for this refund, with WeChat\'s reason or ORDER_NOT_FOUND', async () => {
    const given = await refund({ kind: 'answer', latencyMs: 6, body: { result: 'FAIL', orderNo: req.orderNo, reasonCode: 'ORDERNOTEXIST', reasonMessage: '订单不存在' } });
    expect(given.r).toEqual({ kind: 'answer', latencyMs: 6, body: { result: 'FAIL', orderNo: req.orderNo, refundNo: req.refundNo, reasonCode: 'ORDERNOTEXIST', reasonMessage: '订单不存在' } });
    const bare = await refund({ kind: 'answer', latencyMs: 6, body: { result: 'SUCCESS', orderNo: req.orderNo } });
    expect(bare.r).toEqual({ kind: 'answer', latencyMs: 6, body: { result: 'FAIL', orderNo: req.orderNo, refundNo: req.refundNo, reasonCode: 'ORDER_NOT_FOUND', reasonMessage: 'no such order' } });
    expect([...given.sent, ...bare.sent]).toEqual([]);
  });
});
