/**
 * The WeChat adapters against the WeChat simulators over real HTTPS (mutual TLS on
 * /secapi/), on one manual clock: what each operation and each injected fault becomes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWechatCredentials, type WechatConfig } from '../../agent/backend/wechat/credentials.ts';
import { WechatV2Acquirer } from '../../agent/backend/wechat/wechat-v2-acquirer.ts';
import { WechatV3Acquirer } from '../../agent/backend/wechat/wechat-v3-acquirer.ts';
import type { Acquirer } from '../../agent/backend/acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import type { RunningBackend } from '../../simulator/backend/start-backend.ts';
import { DEMO_FILES, demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import { startWechatBackend } from '../../simulator/backend/wechat/start-wechat-backend.ts';

const PROTOCOLS = ['wechat-v2', 'wechat-v3'] as const;

describe.each(PROTOCOLS)('%s adapter against its simulator', (protocol) => {
  const clock = new ManualClock(Date.now());
  let backend: RunningBackend;
  let acquirer: Acquirer;
  let n = 0;
  const orderNo = () => `WX${protocol.slice(-2)}${String(++n).padStart(8, '0')}`;
  const make = (config: WechatConfig) => {
    const credentials = loadWechatCredentials(protocol, config, false);
    const o = { baseUrl: backend.url, credentials, clock, terminalId: 'T0000001' };
    return protocol === 'wechat-v2' ? new WechatV2Acquirer(o) : new WechatV3Acquirer(o);
  };

  beforeAll(async () => {
    backend = await startWechatBackend({ protocol, clock });
    acquirer = make(demoWechatConfig(protocol));
  });
  afterAll(() => backend.close());

  const pay = (no: string, code: string, amount = 1234) => acquirer.pay({ orderNo: no, paymentCode: code, amount, currency: 'CNY', description: 'test' });

  it('an instant customer is paid, charged once, in fen', async () => {
    const no = orderNo();
    const r = await pay(no, backend.sim.issueCode('wechat', { kind: 'instant' }));
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { amount: 1234, state: 'SUCCESS' } } });
    expect(backend.sim.order(no)?.charged).toBe(1234);
    const q = await acquirer.query({ orderNo: no });
    expect(q).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { state: 'SUCCESS', amount: 1234 } } });
  });

  it('declines say why', async () => {
    const r = await pay(orderNo(), backend.sim.issueCode('wechat', { kind: 'insufficient' }));
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'NOT_ENOUGH' } });
    const e = await pay(orderNo(), backend.sim.issueCode('wechat', { kind: 'expired' }));
    expect(e).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'AUTH_CODE_EXPIRED' } });
  });

  it('password: USERPAYING, a reverse is refused while the customer pays, then paid', async () => {
    const no = orderNo();
    const r = await pay(no, backend.sim.issueCode('wechat', { kind: 'password', seconds: 30 }));
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'USER_PAYING' } });
    // Within 15 s WeChat refuses any reverse: call again.
    expect(await acquirer.reverse({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'RETRY', recall: true } });
    clock.advance(20_000);
    expect(await acquirer.reverse({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'RETRY', recall: true, reasonCode: 'USER_PAYING' } });
    expect(await acquirer.query({ orderNo: no })).toMatchObject({ kind: 'answer', body: { trade: { state: 'USERPAYING' } } });
    clock.advance(11_000);
    expect(await acquirer.query({ orderNo: no })).toMatchObject({ kind: 'answer', body: { trade: { state: 'SUCCESS' } } });
  });

  it('a customer who would confirm after 45 s never does: WeChat revokes the order at 45 s', async () => {
    const no = orderNo();
    expect(await pay(no, backend.sim.issueCode('wechat', { kind: 'password', seconds: 60 }))).toMatchObject({ kind: 'answer', body: { result: 'USER_PAYING' } });
    clock.advance(46_000);
    expect(await acquirer.query({ orderNo: no })).toMatchObject({ kind: 'answer', body: { trade: { state: 'REVOKED' } } });
    clock.advance(30_000);
    expect(backend.sim.order(no)?.charged).toBe(0);
  });

  it('a reverse of an order WeChat never saw leaves no tombstone: a delayed pay still lands', async () => {
    const no = orderNo();
    expect(await acquirer.query({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' } });
    expect(await acquirer.reverse({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND', recall: false } });
    const late = await pay(no, backend.sim.issueCode('wechat', { kind: 'instant' }));
    expect(late).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    clock.advance(16_000);
    expect(await acquirer.reverse({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(backend.sim.order(no)?.net).toBe(0);
  });

  it('refund after the 7-day reverse window, with the order total read first', async () => {
    const no = orderNo();
    await pay(no, backend.sim.issueCode('wechat', { kind: 'instant' }), 5000);
    clock.advance(8 * 86_400_000);
    expect(await acquirer.reverse({ orderNo: no })).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'REVERSE_EXPIRED' } });
    const r = await acquirer.refund({ orderNo: no, refundNo: `${no}R`, amount: 2000 });
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', refundedAmount: 2000 } });
    expect(await acquirer.refund({ orderNo: no, refundNo: `${no}R`, amount: 2000 })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(backend.sim.order(no)?.refunded).toBe(2000);
    expect(await acquirer.refund({ orderNo: no, refundNo: `${no}S`, amount: 4000 })).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'REFUND_EXCEEDS' } });
    expect(await acquirer.refund({ orderNo: orderNo(), refundNo: 'NOSUCH0001', amount: 1 })).toMatchObject({ kind: 'answer', body: { result: 'FAIL', reasonCode: 'ORDER_NOT_FOUND' } });
  });

  it.each([
    ['unsigned', 'BACKEND_SIGNATURE_INVALID'],
    ['bad-signature', 'BACKEND_SIGNATURE_INVALID'],
    ['malformed', protocol === 'wechat-v2' ? 'BACKEND_MALFORMED' : 'BACKEND_SIGNATURE_INVALID'],
    ['http5xx', protocol === 'wechat-v2' ? 'BACKEND_HTTP_STATUS' : 'BACKEND_SIGNATURE_INVALID'],
    ['lost-response', 'BACKEND_UNKNOWN'],
    ['reset', 'BACKEND_UNKNOWN'],
  ] as const)('a pay answer hit by %s is unknown (%s), never a decline', async (kind, code) => {
    const no = orderNo();
    backend.sim.addFault({ op: 'pay', kind, count: 1 });
    const r = await pay(no, backend.sim.issueCode('wechat', { kind: 'instant' }));
    expect(r.kind).toBe('unknown');
    if (r.kind === 'unknown') expect(r.error.code).toBe(code);
  });

  it('SYSTEMERROR is a signed UNKNOWN answer; on reverse it asks to call again', async () => {
    backend.sim.addFault({ op: 'pay', kind: 'system-error', count: 1 });
    expect(await pay(orderNo(), backend.sim.issueCode('wechat', { kind: 'instant' }))).toMatchObject({ kind: 'answer', body: { result: 'UNKNOWN' } });
    backend.sim.addFault({ op: 'reverse', kind: 'system-error', count: 1 });
    expect(await acquirer.reverse({ orderNo: orderNo() })).toMatchObject({ kind: 'answer', body: { result: 'RETRY', recall: true } });
  });

  it('an expired merchant certificate: a v2 reverse is not sent (v3 needs none)', async () => {
    const expired = make({ ...demoWechatConfig(protocol), ...(protocol === 'wechat-v2' ? { clientCertFile: DEMO_FILES.clientExpired.cert, clientKeyFile: DEMO_FILES.clientExpired.key } : {}) });
    if (protocol === 'wechat-v2') {
      const r = await expired.reverse({ orderNo: orderNo() });
      expect(r.kind).toBe('not_sent');
      if (r.kind === 'not_sent') expect(r.error.code).toBe('BACKEND_CLIENT_CERT_EXPIRED');
      // pay and query need no certificate.
      expect((await expired.query({ orderNo: orderNo() })).kind).toBe('answer');
    } else {
      // v3 needs no TLS client certificate: reverse works with the signing key alone.
      expect((await expired.reverse({ orderNo: orderNo() })).kind).toBe('answer');
    }
  });

  it('a request signed with another key is refused by the simulator and is no answer for us', async () => {
    const wrong = make(protocol === 'wechat-v2' ? { ...demoWechatConfig(protocol), apiKeyFile: DEMO_FILES.apiKey.replace('api-key.txt', 'wrong-api-key.txt') } : { ...demoWechatConfig(protocol), clientKeyFile: DEMO_FILES.platform.key, clientCertFile: undefined, certSerial: '3D8E410E8738566B541395DDE3FF7373B577E0DA' });
    const r = await wrong.pay({ orderNo: orderNo(), paymentCode: backend.sim.issueCode('wechat', { kind: 'instant' }), amount: 1, currency: 'CNY' });
    expect(r.kind).toBe('unknown');
    expect(backend.sim.calls().at(-1)?.error).toBe('REFUSED');
  });
});
