/**
 * The WeChat simulators on the wire, with hand-made requests: they check the terminal's
 * signatures and client certificate as WeChat would, and their v3 answer signatures verify
 * with the `openssl` command line (an implementation we did not write).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { buildV2, parseV2, signV2 } from '../../agent/backend/wechat/v2-codec.ts';
import { v3Authorization } from '../../agent/backend/wechat/v3-signing.ts';
import type { RunningBackend } from '../../simulator/backend/start-backend.ts';
import { issueClientCert, type IssuedClientCert } from '../../simulator/backend/wechat/client-cert.ts';
import { DEMO_FILES, DEMO_MERCHANT, issueDemoClientCert } from '../../simulator/backend/wechat/demo-merchant.ts';
import { startWechatBackend } from '../../simulator/backend/wechat/start-wechat-backend.ts';

const ca = readFileSync(DEMO_FILES.ca);
const certDir = mkdtempSync(join(tmpdir(), 'scanpay-wxcert-'));
let minted: IssuedClientCert;
let client: { cert: string; key: string };
beforeAll(() => {
  minted = issueDemoClientCert(certDir);
  client = { cert: minted.certFile, key: minted.keyFile };
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

describe('the client certificate the simulator mints', () => {
  it('is issued by the demo CA to the merchant number, as PEM and as PKCS#12, as openssl reads them', () => {
    expect(execFileSync('openssl', ['verify', '-CAfile', DEMO_FILES.ca, minted.certFile]).toString().trim()).toBe(`${minted.certFile}: OK`);
    const subject = execFileSync('openssl', ['x509', '-in', minted.certFile, '-noout', '-subject', '-nameopt', 'RFC2253']).toString();
    expect(subject).toMatch(new RegExp(`^subject=.*CN=${DEMO_MERCHANT.mchId}$`, 'm'));
    // The key beside it is the certificate's.
    const pub = (args: string[]) => execFileSync('openssl', args).toString();
    expect(pub(['pkey', '-in', minted.keyFile, '-pubout'])).toBe(pub(['x509', '-in', minted.certFile, '-noout', '-pubkey']));
    // The PKCS#12 opens with the merchant number and holds the same certificate.
    const fromP12 = execFileSync('openssl', ['pkcs12', '-in', minted.p12File, '-passin', `pass:${DEMO_MERCHANT.mchId}`, '-nokeys', '-clcerts']).toString();
    expect(execFileSync('openssl', ['x509', '-noout', '-serial'], { input: fromP12 }).toString()).toBe(execFileSync('openssl', ['x509', '-in', minted.certFile, '-noout', '-serial']).toString());
    expect(statSync(minted.keyFile).mode & 0o777).toBe(0o600);
    // Each set-up gets its own: no two merchants' devices share a key.
    const again = issueDemoClientCert(join(certDir, 'again'));
    expect(again.serial).not.toBe(minted.serial);
    expect(readFileSync(again.keyFile, 'utf8')).not.toBe(readFileSync(minted.keyFile, 'utf8'));
  });
});

function post(url: string, body: string, o: { cert?: { cert: string; key: string }; headers?: Record<string, string>; method?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: o.method ?? 'POST', ca, ...(o.cert ? { cert: readFileSync(o.cert.cert), key: readFileSync(o.cert.key) } : {}), headers: o.headers ?? {} }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function signed(fields: Record<string, string>, key: string = DEMO_MERCHANT.apiKey): string {
  const f = { appid: DEMO_MERCHANT.appId, mch_id: DEMO_MERCHANT.mchId, nonce_str: 'n0nce0001', ...fields };
  return buildV2({ ...f, sign: signV2(f, key, 'MD5') });
}

describe('wechat-v2 simulator', () => {
  let backend: RunningBackend;
  beforeAll(async () => (backend = await startWechatBackend({ protocol: 'wechat-v2' })));
  afterAll(() => backend.close());

  it('answers a signed orderquery with signed XML; refuses a bad signature with an unsigned return_code FAIL', async () => {
    const ok = parseV2((await post(`${backend.url}/pay/orderquery`, signed({ out_trade_no: 'NOPE000001' }))).body);
    expect(ok).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    expect(ok.sign).toBe(signV2(ok, DEMO_MERCHANT.apiKey, 'MD5'));
    const bad = parseV2((await post(`${backend.url}/pay/orderquery`, signed({ out_trade_no: 'NOPE000001' }, 'ffffffffffffffffffffffffffffffff'))).body);
    expect(bad).toEqual({ return_code: 'FAIL', return_msg: '签名错误' });
    expect(parseV2((await post(`${backend.url}/pay/orderquery`, '<xml><a>')).body).return_code).toBe('FAIL');
  });

  it('refuses a micropay without its required fields as a signed PARAM_ERROR, touching nothing', async () => {
    const r = parseV2((await post(`${backend.url}/pay/micropay`, signed({ out_trade_no: 'P000000001', total_fee: '12.34', body: 'x', auth_code: '134567890123456789', spbill_create_ip: '1.2.3.4' }))).body);
    expect(r).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'PARAM_ERROR' });
    expect(backend.sim.order('P000000001')).toBeUndefined();
  });

  it('on /secapi/ wants a valid client certificate issued by the demo CA', async () => {
    const body = signed({ out_trade_no: 'NOPE000002' });
    expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, body)).body)).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('no client certificate') });
    expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, body, { cert: DEMO_FILES.clientExpired })).body)).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('expired on') });
    expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, body, { cert: DEMO_FILES.merchant })).body)).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('not issued by') });
    const other = issueClientCert(join(certDir, 'other'), { mchId: '19999999', ca: { cert: DEMO_FILES.ca, key: DEMO_FILES.caKey } });
    expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, body, { cert: { cert: other.certFile, key: other.keyFile } })).body)).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('issued to merchant 19999999, not 10000100') });
    // With the right certificate: WeChat does not know the order, and keeps no tombstone.
    expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, body, { cert: client })).body)).toMatchObject({ return_code: 'SUCCESS', err_code: 'ORDERNOTEXIST', recall: 'N' });
    expect(backend.sim.order('NOPE000002')).toBeUndefined();
  });
});

describe('wechat-v2 simulator with a store file', () => {
  it('keeps its orders, ledger and WeChat rules across a restart of the process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-wxstore-'));
    const storePath = join(dir, 'backend.db');
    let backend = await startWechatBackend({ protocol: 'wechat-v2', storePath });
    try {
      const code = backend.sim.issueCode('wechat', { kind: 'instant' });
      const paid = parseV2((await post(`${backend.url}/pay/micropay`, signed({ out_trade_no: 'KEEP000001', total_fee: '1234', body: 'x', auth_code: code, spbill_create_ip: '1.2.3.4' }))).body);
      expect(paid).toMatchObject({ result_code: 'SUCCESS', total_fee: '1234' });
      await backend.close();
      // A new simulator on the same file, as `scanpay sim backend --protocol wechat-v2` started again.
      backend = await startWechatBackend({ protocol: 'wechat-v2', storePath });
      const q = parseV2((await post(`${backend.url}/pay/orderquery`, signed({ out_trade_no: 'KEEP000001' }))).body);
      expect(q).toMatchObject({ result_code: 'SUCCESS', trade_state: 'SUCCESS', total_fee: '1234', transaction_id: paid.transaction_id });
      expect(backend.sim.ledger().map((e) => [e.kind, e.orderNo, e.amount])).toEqual([['charge', 'KEEP000001', 1234]]);
      // Still WeChat's rules after the restart: no tombstone for an order it never saw.
      expect(parseV2((await post(`${backend.url}/secapi/pay/reverse`, signed({ out_trade_no: 'NEVER00001' }), { cert: client })).body)).toMatchObject({ err_code: 'ORDERNOTEXIST' });
      expect(backend.sim.order('NEVER00001')).toBeUndefined();
    } finally {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wechat-v3 simulator', () => {
  let backend: RunningBackend;
  let dir: string;
  beforeAll(async () => {
    backend = await startWechatBackend({ protocol: 'wechat-v3' });
    dir = mkdtempSync(join(tmpdir(), 'scanpay-wxv3-'));
  });
  afterAll(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request without a valid Authorization with an unsigned 401 SIGN_ERROR', async () => {
    const r = await post(`${backend.url}/v3/pay/transactions/out-trade-no/NOPE000001?mchid=10000100`, '', { method: 'GET' });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'SIGN_ERROR' });
    expect(r.headers['wechatpay-signature']).toBeUndefined();
  });

  it('signs its answers so that openssl verifies them with the platform certificate', async () => {
    const url = '/v3/pay/transactions/out-trade-no/NOPE000004?mchid=10000100';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const authorization = v3Authorization({ mchid: '10000100', serialNo: '3D8E410E8738566B541395DDE3FF7373B577E0DA', key: createPrivateKey(readFileSync(DEMO_FILES.merchant.key)), method: 'GET', url, body: '', timestamp, nonce: 'ABC123' });
    const r = await post(`${backend.url}${url}`, '', { method: 'GET', headers: { authorization } });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'ORDER_NOT_EXIST' });
    const h = r.headers as Record<string, string>;
    writeFileSync(join(dir, 'message'), `${h['wechatpay-timestamp']}\n${h['wechatpay-nonce']}\n${r.body}\n`);
    writeFileSync(join(dir, 'signature'), Buffer.from(h['wechatpay-signature']!, 'base64'));
    execFileSync('openssl', ['x509', '-in', DEMO_FILES.platform.cert, '-pubkey', '-noout', '-out', join(dir, 'platform.pub')]);
    const verified = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'platform.pub'), '-signature', join(dir, 'signature'), join(dir, 'message')]).toString();
    expect(verified.trim()).toBe('Verified OK');
  });
});
