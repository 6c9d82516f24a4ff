/**
 * What the Alipay gateway receives from the adapter, read off a bare HTTP server rather than
 * our simulator (which shares our signing code): the common parameters in the query string
 * and biz_content in the form body as the official SDK sends them
 * (/work/shared/reference/acquirer-apis.md, alipay-sdk-nodejs-all), yuan as a decimal
 * string, and a signature that `openssl dgst -sha256 -verify` accepts over the content
 * rebuilt here from the spec (every non-empty parameter but sign, sorted, k=v joined by &).
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlipayAcquirer } from '../../agent/backend/alipay/alipay-acquirer.ts';
import { rsa2Sign } from '../../agent/backend/alipay/alipay-sign.ts';
import { demoAlipayCredentials } from '../../agent/backend/alipay/demo-alipay.ts';
import { ManualClock } from '../../agent/clock.ts';
import { DEMO_ALIPAY_APP_ID, DEMO_ALIPAY_PRIVATE_KEY, DEMO_APP_PUBLIC_KEY } from '../../simulator/backend/alipay/demo-keys.ts';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  form: URLSearchParams;
  contentType: string;
  /** The client's port: the same on two requests when the connection was kept. */
  port: number | undefined;
}

// 2026-03-02 02:00:00 UTC is 10:00:00 in Beijing.
const clock = new ManualClock(Date.UTC(2026, 2, 2, 2, 0, 0));
const alipayKey = createPrivateKey(DEMO_ALIPAY_PRIVATE_KEY);
let server: http.Server;
let url: string;
let seen: Seen[] = [];
/** The answer's inner object for the next request, signed as Alipay signs; null: never answer. */
let answer: ((method: string) => string) | null;
const dir = mkdtempSync(join(tmpdir(), 'scanpay-alipay-wire-'));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const u = new URL(req.url ?? '', 'http://x');
      seen.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, form: new URLSearchParams(body), contentType: String(req.headers['content-type']), port: req.socket.remotePort });
      if (!answer) return; // left hanging: the adapter's own timeout must end the call
      const method = u.searchParams.get('method') ?? '';
      const inner = answer(method);
      res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
      res.end(`{"${method.replaceAll('.', '_')}_response":${inner},"sign":"${rsa2Sign(inner, alipayKey)}"}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gateway.do`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen = [];
  answer = () => '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}';
});

const acquirer = (extra: Partial<ConstructorParameters<typeof AlipayAcquirer>[0]> = {}) => new AlipayAcquirer({ ...demoAlipayCredentials(), gatewayUrl: url, clock, ...extra });

/** The content to sign, rebuilt from the spec, and checked with OpenSSL and the app's public key. */
function opensslVerifies(s: Seen): boolean {
  const all = new Map([...s.query, ...s.form]);
  const content = [...all.keys()].filter((k) => k !== 'sign' && all.get(k) !== '').sort().map((k) => `${k}=${all.get(k)}`).join('&');
  writeFileSync(join(dir, 'content'), content);
  writeFileSync(join(dir, 'sig'), Buffer.from(all.get('sign') ?? '', 'base64'));
  writeFileSync(join(dir, 'app.pub'), DEMO_APP_PUBLIC_KEY);
  try {
    return execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'app.pub'), '-signature', join(dir, 'sig'), join(dir, 'content')], { encoding: 'utf8' }).includes('Verified OK');
  } catch {
    return false;
  }
}

describe('the Alipay request on the wire', () => {
  it('pay: common parameters in the query string, biz_content in the form, signed as OpenSSL verifies', async () => {
    const r = await acquirer({ terminalId: 'LANE-07' }).pay({ orderNo: 'T1WIRE0001', paymentCode: '286648048691290423', amount: 1205, currency: 'CNY', description: '' });
    expect(r.kind).toBe('answer');
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.method).toBe('POST');
    expect(s.path).toBe('/gateway.do');
    expect(s.contentType).toBe('application/x-www-form-urlencoded;charset=utf-8');
    expect(Object.fromEntries(s.query)).toEqual({
      app_id: DEMO_ALIPAY_APP_ID,
      method: 'alipay.trade.pay',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      sign: expect.stringMatching(/^[A-Za-z0-9+/]{342}==$/),
      timestamp: '2026-03-02 10:00:00',
      version: '1.0',
    });
    expect([...s.form.keys()]).toEqual(['biz_content']);
    expect(JSON.parse(s.form.get('biz_content')!)).toEqual({ out_trade_no: 'T1WIRE0001', scene: 'bar_code', auth_code: '286648048691290423', subject: 'scanpay', total_amount: '12.05', terminal_id: 'LANE-07' });
    expect(opensslVerifies(s)).toBe(true);
  });

  it('pay names its subject, and sends no terminal_id when the lane has none', async () => {
    await acquirer().pay({ orderNo: 'T1WIRE0002', paymentCode: '286648048691290423', amount: 5, currency: 'CNY', description: '咖啡' });
    expect(JSON.parse(seen[0]!.form.get('biz_content')!)).toEqual({ out_trade_no: 'T1WIRE0002', scene: 'bar_code', auth_code: '286648048691290423', subject: '咖啡', total_amount: '0.05' });
    expect(opensslVerifies(seen[0]!)).toBe(true);
  });

  it('query, cancel and refund: each its method and biz_content, each signed', async () => {
    const a = acquirer();
    await a.query({ orderNo: 'T1WIRE0003' });
    await a.reverse({ orderNo: 'T1WIRE0003' });
    await a.refund({ orderNo: 'T1WIRE0003', refundNo: 'RF0001', amount: 100 });
    expect(seen.map((s) => s.query.get('method'))).toEqual(['alipay.trade.query', 'alipay.trade.cancel', 'alipay.trade.refund']);
    expect(seen.map((s) => JSON.parse(s.form.get('biz_content')!))).toEqual([
      { out_trade_no: 'T1WIRE0003' },
      { out_trade_no: 'T1WIRE0003' },
      { out_trade_no: 'T1WIRE0003', out_request_no: 'RF0001', refund_amount: '1.00' },
    ]);
    for (const s of seen) expect(opensslVerifies(s)).toBe(true);
  });

  it('keeps its connection to the gateway open from one call to the next (no new handshake per payment)', async () => {
    const a = acquirer();
    await a.query({ orderNo: 'T1WIRE0007' });
    await a.query({ orderNo: 'T1WIRE0007' });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.port).toBe(seen[0]!.port);
  });

  it('a payment in another currency is not sent at all', async () => {
    const r = await acquirer().pay({ orderNo: 'T1WIRE0004', paymentCode: '286648048691290423', amount: 100, currency: 'USD' });
    // The till's integrator reads why: the message names both currencies.
    expect(r).toMatchObject({ kind: 'not_sent', error: { code: 'BACKEND_NOT_SENT', message: 'Alipay bar_code payments are in CNY; this payment is in USD', detail: { op: 'pay' } } });
    expect(seen).toHaveLength(0);
  });

  it('an answer that never comes ends at the operation’s timeout as unknown', async () => {
    answer = null;
    const calls: string[] = [];
    const r = await acquirer({ timeoutMs: { query: 300 }, onCall: (op, kind) => calls.push(`${op}:${kind}`) }).query({ orderNo: 'T1WIRE0005' });
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN' } });
    expect(calls).toEqual(['query:unknown']);
  });

  it('a verified answer is read; one not signed by Alipay is no answer', async () => {
    answer = () => '{"code":"10000","msg":"Success","trade_no":"2026030222001","out_trade_no":"T1WIRE0006","trade_status":"TRADE_SUCCESS","total_amount":"12.05"}';
    expect(await acquirer().query({ orderNo: 'T1WIRE0006' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { state: 'SUCCESS', amount: 1205 } } });
    const r = await acquirer({ alipayPublicKey: createPublicKey(DEMO_APP_PUBLIC_KEY) }).query({ orderNo: 'T1WIRE0006' });
    // What the technician setting up the keys reads: the operation and why it did not verify.
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID', message: 'answer to query not verified (the signature does not match Alipay’s public key): treated as no answer' } });
    // Signed by Alipay but not readable (no trade_status): no answer either, never a result.
    answer = () => '{"code":"10000","msg":"Success","out_trade_no":"T1WIRE0006"}';
    expect(await acquirer().query({ orderNo: 'T1WIRE0006' })).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
  });
});
