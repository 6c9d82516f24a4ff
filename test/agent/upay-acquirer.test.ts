/**
 * The Upay v2 terminal side against the simulated Upay gateway over real HTTP: activation
 * with the vendor's credentials, check-in rotating the key with the previous one still
 * valid, log upload, pay/query/cancel/refund in the normalized shapes, and scanpay's own
 * money rules where the documented client logic is unsafe.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpayAcquirer, type UpayCredentials } from '../../agent/backend/upay/upay-acquirer.ts';
import { assertSafeGateway } from '../../agent/backend/upay/upay-http.ts';
import { upaySign } from '../../agent/backend/upay/upay-sign.ts';
import { UpayTerminalClient } from '../../agent/backend/upay/upay-terminal.ts';
import { ManualClock } from '../../agent/clock.ts';
import { DEMO_UPAY_ACTIVATION_CODE, DEMO_UPAY_VENDOR } from '../../simulator/backend/upay/demo-upay.ts';
import { upayWire, type UpayWire } from '../../simulator/backend/upay/upay-wire.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const clock = new ManualClock(Date.UTC(2026, 2, 2, 2, 0, 0)); // 10:00 Beijing
let backend: RunningBackend;
let wire: UpayWire;
let terminal: UpayTerminalClient;
let creds: UpayCredentials;
let upay: UpayAcquirer;
let n = 0;
const orderNo = () => `T1UP${Date.now()}${++n}`;

beforeAll(async () => {
  wire = upayWire({ activationCodes: { [DEMO_UPAY_ACTIVATION_CODE]: 1 } });
  backend = await startBackend({ clock, wire });
  terminal = new UpayTerminalClient(backend.url);
  creds = await terminal.activate(DEMO_UPAY_VENDOR, { code: DEMO_UPAY_ACTIVATION_CODE, deviceId: 'box-1' });
  upay = new UpayAcquirer({ baseUrl: backend.url, clock, credentials: () => creds });
});
afterAll(() => backend.close());
beforeEach(() => backend.sim.clearFaults());

const pay = (code: string, o = orderNo(), amount = 1234) => upay.pay({ orderNo: o, paymentCode: code, amount, currency: 'CNY', description: 'coffee' });
const body = <T>(r: { kind: string; body?: T }): T => {
  expect(r.kind).toBe('answer');
  return r.body as T;
};

describe('Upay signing', () => {
  it('is MD5 over the body bytes followed by the key, as hex (checked against node’s md5 of the concatenation)', () => {
    const b = '{"terminal_sn":"100","client_sn":"A1"}';
    expect(upaySign(b, 'k3y')).toBe(createHash('md5').update(`${b}k3y`).digest('hex'));
    expect(upaySign('', '')).toBe('d41d8cd98f00b204e9800998ecf8427e'); // RFC 1321 test vector: MD5("")
    expect(upaySign('a', 'bc')).toBe('900150983cd24fb0d6963f7d28e17f72'); // RFC 1321: MD5("abc")
  });

  it('refuses a plain-HTTP gateway off loopback: Upay answers are unsigned', () => {
    expect(() => assertSafeGateway('http://api.shouqianba.com')).toThrow(/https/);
    expect(() => assertSafeGateway('https://api.shouqianba.com')).not.toThrow();
    expect(() => assertSafeGateway('http://127.0.0.1:8470')).not.toThrow();
  });
});

describe('Upay terminal operations', () => {
  it('activates once per code use; a used-up or wrong code is refused', async () => {
    expect(creds.terminalSn).toMatch(/^\d+$/);
    await expect(terminal.activate(DEMO_UPAY_VENDOR, { code: DEMO_UPAY_ACTIVATION_CODE, deviceId: 'box-2' })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
    await expect(terminal.activate({ ...DEMO_UPAY_VENDOR, vendorKey: 'wrong' }, { code: 'x', deviceId: 'box-2' })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
  });

  it('check-in rotates the key: the new and the previous key sign, the one before is refused', async () => {
    const first = creds;
    const second = await terminal.checkin(first, 'box-1');
    expect(second.terminalKey).not.toBe(first.terminalKey);
    const viaFirst = new UpayAcquirer({ baseUrl: backend.url, clock, credentials: () => first });
    expect(body(await viaFirst.query({ orderNo: orderNo() }))).toMatchObject({ reasonCode: 'ORDER_NOT_FOUND' });
    const third = await terminal.checkin(second, 'box-1');
    // first is now two rotations old: refused as ILLEGAL_SIGN before any business.
    const refused = body(await viaFirst.pay({ orderNo: orderNo(), paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }), amount: 1, currency: 'CNY' }));
    expect(refused).toMatchObject({ result: 'FAIL', reasonCode: 'ILLEGAL_SIGN' });
    creds = third;
    expect(wire.terminals.get(creds.terminalSn)?.checkins).toBe(2);
  });

  it('uploads a gzipped log, signed over its bytes', async () => {
    await terminal.uploadLog(creds, gzipSync('{"hello":"log"}'));
    expect(wire.terminals.get(creds.terminalSn)?.logs).toHaveLength(1);
  });
});

describe('Upay payments', () => {
  it('pays every wallet through one terminal, in cents both ways', async () => {
    for (const wallet of ['wechat', 'alipay', 'unionpay'] as const) {
      const o = orderNo();
      expect(body(await pay(backend.sim.issueCode(wallet, { kind: 'instant' }), o))).toMatchObject({ result: 'SUCCESS', trade: { state: 'SUCCESS', amount: 1234, wallet } });
      expect(backend.sim.order(o)?.net).toBe(1234);
    }
  });

  it('a second pay with the same client_sn is CLIENT_SN_CONFLICT: unknown (query), never a decline', async () => {
    const o = orderNo();
    expect(body(await pay(backend.sim.issueCode('wechat', { kind: 'insufficient' }), o))).toMatchObject({ result: 'FAIL', reasonCode: 'NOT_ENOUGH' });
    expect(body(await pay(backend.sim.issueCode('wechat', { kind: 'instant' }), o))).toMatchObject({ result: 'UNKNOWN', reasonCode: 'CLIENT_SN_CONFLICT' });
    expect(body(await upay.query({ orderNo: o }))).toMatchObject({ trade: { state: 'CLOSED' } });
    expect(backend.sim.order(o)?.net).toBe(0);
  });

  it('UPAY_ORDER_NOT_EXISTS on query and cancel is "not found", and a late pay still lands (no tombstone)', async () => {
    const o = orderNo();
    expect(body(await upay.query({ orderNo: o }))).toMatchObject({ result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(await upay.reverse({ orderNo: o }))).toMatchObject({ result: 'FAIL', recall: false, reasonCode: 'ORDER_NOT_FOUND' });
    expect(body(await pay(backend.sim.issueCode('wechat', { kind: 'instant' }), o))).toMatchObject({ result: 'SUCCESS' });
    expect(body(await upay.reverse({ orderNo: o }))).toMatchObject({ result: 'SUCCESS' });
    expect(backend.sim.order(o)).toMatchObject({ charged: 1234, net: 0 });
  });

  it('in progress while the customer pays; a cancel then is CANCEL_ABORT_ERROR: call again', async () => {
    const o = orderNo();
    expect(body(await pay(backend.sim.issueCode('wechat', { kind: 'password', seconds: 10 }), o))).toMatchObject({ result: 'USER_PAYING' });
    expect(body(await upay.query({ orderNo: o }))).toMatchObject({ trade: { state: 'USERPAYING' } });
    expect(body(await upay.reverse({ orderNo: o }))).toMatchObject({ result: 'UNKNOWN', recall: true });
    clock.advance(10_000);
    expect(body(await upay.query({ orderNo: o }))).toMatchObject({ trade: { state: 'SUCCESS' } });
    expect(body(await upay.reverse({ orderNo: o }))).toMatchObject({ result: 'SUCCESS' });
    expect(backend.sim.order(o)?.net).toBe(0);
  });

  it('refunds in part, idempotently; past the order’s Beijing day a cancel is REVERSE_EXPIRED', async () => {
    const o = orderNo();
    await pay(backend.sim.issueCode('alipay', { kind: 'instant' }), o);
    expect(body(await upay.refund({ orderNo: o, refundNo: 'RF00000000000000000001', amount: 200 }))).toMatchObject({ result: 'SUCCESS', refundedAmount: 200 });
    expect(body(await upay.refund({ orderNo: o, refundNo: 'RF00000000000000000001', amount: 200 }))).toMatchObject({ result: 'SUCCESS' });
    expect(body(await upay.refund({ orderNo: o, refundNo: 'RF00000000000000000002', amount: 5000 }))).toMatchObject({ result: 'FAIL', reasonCode: 'REFUND_EXCEEDS' });
    expect(body(await upay.query({ orderNo: o }))).toMatchObject({ trade: { state: 'REFUND', refundedAmount: 200 } });
    clock.advance(14 * 3_600_000);
    expect(body(await upay.reverse({ orderNo: o }))).toMatchObject({ result: 'FAIL', reasonCode: 'REVERSE_EXPIRED' });
    expect(backend.sim.order(o)).toMatchObject({ refunded: 200, net: 1034 });
  });

  it('a 500, a cut, a garbled answer or a 5xx are unknown; Upay answers have no signature to forge', async () => {
    const cases = [
      ['system-error', 'answer'],
      ['lost-response', 'BACKEND_UNKNOWN'],
      ['malformed', 'BACKEND_MALFORMED'],
      ['http5xx', 'BACKEND_HTTP_STATUS'],
    ] as const;
    for (const [kind, expected] of cases) {
      backend.sim.addFault({ op: 'pay', kind, count: 1 });
      const r = await pay(backend.sim.issueCode('wechat', { kind: 'instant' }));
      if (expected === 'answer') expect(body(r)).toMatchObject({ result: 'UNKNOWN', reasonCode: 'UNKNOWN_SYSTEM_ERROR' });
      else expect(r.kind === 'unknown' && r.error.code, kind).toBe(expected);
    }
  });
});
