/**
 * What the protocol v1 schemas refuse on the wire (docs/protocol.md): a body that fails its
 * schema is no answer for the agent and a refused request for the gateway. One valid
 * message per schema, then the field values each must refuse.
 */
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Messages = typeof import('../../agent/protocol/messages.ts');
type DeviceMessages = typeof import('../../agent/protocol/device-messages.ts');
let M: Messages;
let D: DeviceMessages;

// Fresh modules for every test, so each test builds the schemas it parses (lazySchema builds
// once per module). Built once for the whole file, a schema's mutants would be credited by
// Stryker's per-test coverage to whichever test parsed it first, and tried against it alone.
beforeEach(async () => {
  vi.resetModules();
  [M, D] = await Promise.all([import('../../agent/protocol/messages.ts'), import('../../agent/protocol/device-messages.ts')]);
});

const ok = (schema: { safeParse: (v: unknown) => { success: boolean } }, v: unknown) => schema.safeParse(v).success;
const trade = { orderNo: 'ORDER0001', state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat' };

describe('payment messages (messages.ts)', () => {
  it('names the four operations\' paths as documented', () => {
    expect(M.PATHS).toEqual({ pay: '/v1/pay', query: '/v1/query', reverse: '/v1/reverse', refund: '/v1/refund' });
    expect(M.REQUEST_SCHEMAS.pay).toBe(M.payRequest);
    expect(M.RESPONSE_SCHEMAS).toEqual({ pay: M.payResponse, query: M.queryResponse, reverse: M.reverseResponse, refund: M.refundResponse });
  });

  it('takes order numbers of 6–32 letters, digits, _ and - only', () => {
    const pay = (orderNo: string) => ok(M.payResponse, { result: 'SUCCESS', orderNo });
    expect(pay('A_b-09')).toBe(true);
    expect(pay('Z'.repeat(32))).toBe(true);
    for (const bad of ['A_b-0', 'Z'.repeat(33), 'ORDER.0001', 'ORDER 0001', 'x\nORDER0001', 'ORDER0001\n']) expect(pay(bad), bad).toBe(false);
  });

  it('refuses amounts that are not positive integer minor units, and currencies that are not three capitals', () => {
    const t = (patch: object) => ok(M.trade, { ...trade, ...patch });
    expect(t({})).toBe(true);
    for (const amount of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, '100']) expect(t({ amount }), String(amount)).toBe(false);
    for (const currency of ['cny', 'CN', 'CNYY', ' CNY']) expect(t({ currency }), currency).toBe(false);
  });

  it('knows the documented trade states and wallets and nothing else', () => {
    for (const state of ['SUCCESS', 'NOTPAY', 'USERPAYING', 'CLOSED', 'REVOKED', 'REFUND', 'PAYERROR']) expect(ok(M.trade, { ...trade, state }), state).toBe(true);
    expect(M.TRADE_STATES).toHaveLength(7);
    expect(ok(M.trade, { ...trade, state: 'PAID' })).toBe(false);
    for (const wallet of ['wechat', 'alipay', 'unionpay', 'ecny']) expect(ok(M.trade, { ...trade, wallet }), wallet).toBe(true);
    expect(ok(M.trade, { ...trade, wallet: 'paypal' })).toBe(false);
    expect(M.trade.parse(trade).refundedAmount).toBe(0);
    expect(ok(M.trade, { ...trade, refundedAmount: -1 })).toBe(false);
  });

  it('takes each answer\'s documented results only', () => {
    const results = (schema: Parameters<typeof ok>[0], extra: object = {}) =>
      ['SUCCESS', 'USER_PAYING', 'FAIL', 'UNKNOWN', 'RETRY', 'PAID', ''].filter((result) => ok(schema, { result, orderNo: 'ORDER0001', ...extra }));
    expect(results(M.payResponse)).toEqual(['SUCCESS', 'USER_PAYING', 'FAIL', 'UNKNOWN']);
    expect(results(M.queryResponse)).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN']);
    expect(results(M.reverseResponse, { recall: false })).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN', 'RETRY']);
    expect(results(M.refundResponse, { refundNo: 'REFUND0001' })).toEqual(['SUCCESS', 'FAIL', 'UNKNOWN']);
  });

  it('a reverse answer must say whether to call again; a refund answer must name a valid refund', () => {
    expect(ok(M.reverseResponse, { result: 'RETRY', orderNo: 'ORDER0001' })).toBe(false);
    expect(ok(M.reverseResponse, { result: 'RETRY', orderNo: 'ORDER0001', recall: 'yes' })).toBe(false);
    expect(ok(M.refundResponse, { result: 'SUCCESS', orderNo: 'ORDER0001', refundNo: 'R1' })).toBe(false);
    expect(ok(M.refundResponse, { result: 'SUCCESS', orderNo: 'ORDER0001', refundNo: 'REFUND0001', refundedAmount: -5 })).toBe(false);
  });

  it('bounds the reason an answer gives', () => {
    const r = (patch: object) => ok(M.payResponse, { result: 'FAIL', orderNo: 'ORDER0001', ...patch });
    expect(r({ reasonCode: 'X'.repeat(64), reasonMessage: 'm'.repeat(256) })).toBe(true);
    expect(r({ reasonCode: 'X'.repeat(65) })).toBe(false);
    expect(r({ reasonMessage: 'm'.repeat(257) })).toBe(false);
  });

  it('refuses requests outside the documented bounds', () => {
    const pay = { orderNo: 'ORDER0001', paymentCode: '134567890123456789', amount: 1, currency: 'CNY' };
    expect(M.payRequest.parse(pay).description).toBe('');
    for (const patch of [{ paymentCode: '' }, { paymentCode: '1'.repeat(65) }, { description: 'd'.repeat(129) }, { traceId: 't'.repeat(65) }, { amount: 0 }]) {
      expect(ok(M.payRequest, { ...pay, ...patch }), JSON.stringify(patch)).toBe(false);
    }
    expect(ok(M.queryRequest, { orderNo: 'ORDER0001', waitMs: M.MAX_QUERY_WAIT_MS })).toBe(true);
    expect(M.MAX_QUERY_WAIT_MS).toBe(25_000);
    for (const waitMs of [25_001, -1, 1.5]) expect(ok(M.queryRequest, { orderNo: 'ORDER0001', waitMs }), String(waitMs)).toBe(false);
    expect(ok(M.refundRequest, { orderNo: 'ORDER0001', refundNo: 'R-1', amount: 1 })).toBe(false);
    expect(ok(M.errorResponse, { error: { code: 'PROTO_X' } })).toBe(false);
    expect(ok(M.errorResponse, { error: { code: 'PROTO_X', message: 'm' } })).toBe(true);
  });

  it('query, reverse and refund requests carry a trace id of up to 64 characters and a valid order number', () => {
    const requests: Array<[Parameters<typeof ok>[0], object]> = [
      [M.queryRequest, { orderNo: 'ORDER0001' }],
      [M.reverseRequest, { orderNo: 'ORDER0001' }],
      [M.refundRequest, { orderNo: 'ORDER0001', refundNo: 'REFUND0001', amount: 1 }],
    ];
    for (const [schema, body] of requests) {
      expect(ok(schema, body), JSON.stringify(body)).toBe(true);
      expect(ok(schema, { ...body, traceId: 't1' })).toBe(true);
      expect(ok(schema, { ...body, traceId: 't'.repeat(64) })).toBe(true);
      expect(ok(schema, { ...body, traceId: 't'.repeat(65) })).toBe(false);
      expect(ok(schema, { ...body, orderNo: 'O 1' })).toBe(false);
    }
    expect(M.reverseRequest.parse({ orderNo: 'ORDER0001', traceId: 'abc' })).toEqual({ orderNo: 'ORDER0001', traceId: 'abc' });
  });

  it('every definite-failure reason is a documented code with a text the cashier can read', () => {
    const documented = [...readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8').split('## Reason codes')[1]!.split('\n## ')[0]!.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(Object.keys(M.REASONS)).toEqual(documented);
    const texts = Object.values(M.REASONS);
    for (const text of texts) expect(text).toMatch(/^[a-z].{8,}/);
    expect(new Set(texts).size).toBe(texts.length);
  });
});

describe('device messages (device-messages.ts)', () => {
  const key = 'A'.repeat(43) + '=';

  it('names the device operations\' paths as documented', () => {
    expect(D.DEVICE_PATHS).toEqual({
      activateHello: '/v1/activate/hello',
      activate: '/v1/activate',
      params: '/v1/params',
      heartbeat: '/v1/heartbeat',
      rotateKey: '/v1/rotate-key',
      upload: '/v1/upload',
      settle: '/v1/settle',
      orders: '/v1/orders',
    });
    expect(Object.keys(D.DEVICE_REQUESTS)).toEqual(Object.keys(D.DEVICE_PATHS));
    expect(Object.keys(D.DEVICE_RESPONSES)).toEqual(Object.keys(D.DEVICE_PATHS));
  });

  it('takes activation codes of 3 to 6 groups of four capitals or digits', () => {
    expect(D.ACTIVATION_CODE.test('K7QP-3MZD-W2XH-R8TN')).toBe(true);
    expect(D.ACTIVATION_CODE.test('K7QP-3MZD-W2XH')).toBe(true);
    for (const bad of ['K7QP-3MZD', 'k7qp-3mzd-w2xh', 'K7QP-3MZD-W2XH-R8TN-AAAA-BBBB-CCCC', 'K7QP3MZDW2XH', 'xK7QP-3MZD-W2XH', 'K7QP-3MZD-W2XHx']) {
      expect(D.ACTIVATION_CODE.test(bad), bad).toBe(false);
    }
    expect(D.codeIdOf('K7QP-3MZD-W2XH')).toBe('K7QP');
  });

  it('refuses keys that are not 32 bytes of base64, and activation answers out of shape', () => {
    const hello = { codeId: 'K7QP', ephemeralKey: key, deviceKey: key };
    expect(ok(D.activateHelloRequest, hello)).toBe(true);
    for (const bad of ['A'.repeat(44), 'A'.repeat(42) + '==', `!${'A'.repeat(42)}=`, `${key}\n`]) expect(ok(D.activateHelloRequest, { ...hello, deviceKey: bad }), bad).toBe(false);
    expect(ok(D.activateHelloRequest, { ...hello, codeId: 'k7qp' })).toBe(false);
    const answer = { result: 'HELLO', activationId: `S-${'0'.repeat(32)}`, serverEphemeral: key, salt: 's', kdf: { N: 2 ** 15, r: 8, p: 1 } };
    expect(ok(D.activateHelloResponse, answer)).toBe(true);
    expect(ok(D.activateHelloResponse, { ...answer, result: 'OK' })).toBe(false);
    expect(ok(D.activateHelloResponse, { ...answer, activationId: `S-${'G'.repeat(32)}` })).toBe(false);
    // A gateway may not weaken the code's key derivation below the documented floor.
    expect(ok(D.activateHelloResponse, { ...answer, kdf: { N: 2 ** 13, r: 8, p: 1 } })).toBe(false);
    const activated = { result: 'ACTIVATED', terminalId: 'T-1_a', merchantId: 'M1', merchantName: 'Shop', wrappedKey: 'w', params: { version: 1 } };
    expect(ok(D.activateResponse, activated)).toBe(true);
    for (const terminalId of ['', 'T'.repeat(33), 'T 1', 'T/1']) expect(ok(D.activateResponse, { ...activated, terminalId }), terminalId).toBe(false);
    expect(ok(D.activateResponse, { ...activated, params: { version: 0 } })).toBe(false);
  });

  it('refuses upload records with an unknown wallet or outcome, or money not in integer minor units', () => {
    const rec = { orderNo: 'ORDER0001', wallet: 'alipay', amount: 100, currency: 'CNY', outcome: 'paid', refunded: 0, refunds: [], finalAt: 1 };
    expect(D.txRecord.parse(rec).carried).toBe(false);
    for (const outcome of ['paid', 'declined', 'reversed']) expect(ok(D.txRecord, { ...rec, outcome }), outcome).toBe(true);
    for (const patch of [{ outcome: 'refunded' }, { wallet: 'paypal' }, { amount: -1 }, { amount: 0.5 }, { currency: 'cny' }, { orderNo: 'A1' }]) {
      expect(ok(D.txRecord, { ...rec, ...patch }), JSON.stringify(patch)).toBe(false);
    }
    expect(ok(D.uploadRequest, { records: [] })).toBe(false);
  });

  it('refuses settlement messages out of shape', () => {
    expect(ok(D.settleRequest, { batchNo: 'B-1', closedAt: 1, totals: {} })).toBe(true);
    expect(ok(D.settleRequest, { batchNo: 'B 1', closedAt: 1, totals: {} })).toBe(false);
    expect(ok(D.settleRequest, { batchNo: 'B-1', closedAt: 1, totals: { paypal: {} } })).toBe(false);
    for (const kind of ['missing-at-backend', 'missing-at-terminal', 'outcome-differs', 'amount-differs', 'refund-differs']) {
      expect(ok(D.discrepancy, { orderNo: 'O', wallet: 'wechat', kind, terminal: null, backend: null }), kind).toBe(true);
    }
    expect(ok(D.discrepancy, { orderNo: 'O', wallet: 'wechat', kind: 'other', terminal: null, backend: null })).toBe(false);
    const results = ['MATCHED', 'DETAIL_REQUIRED', 'MISMATCH', 'OK'].filter((result) => ok(D.settleResponse, { result, batchNo: 'B', backendTotals: {}, discrepancies: [] }));
    expect(results).toEqual(['MATCHED', 'DETAIL_REQUIRED', 'MISMATCH']);
  });

  it('refuses a journal mark that is not hex, and answers with the wrong result', () => {
    const mark = { journalId: '0123abcd', lastOrderNo: null, lastAt: null };
    expect(ok(D.journalMark, mark)).toBe(true);
    for (const journalId of ['0123abc', '0123ABCD', 'g123abcd', 'a'.repeat(65)]) expect(ok(D.journalMark, { ...mark, journalId }), journalId).toBe(false);
    expect(ok(D.heartbeatResponse, { result: 'OK', serverTime: 1, paramsVersion: 1, rotateKey: false })).toBe(true);
    expect(ok(D.heartbeatResponse, { result: 'OK', serverTime: 1, paramsVersion: 1, rotateKey: false, journal: mark })).toBe(false);
    expect(ok(D.rotateKeyResponse, { result: 'ROTATED', ephemeralKey: key, keyVersion: 2 })).toBe(true);
    expect(ok(D.rotateKeyResponse, { result: 'OK', ephemeralKey: key, keyVersion: 2 })).toBe(false);
    expect(ok(D.uploadResponse, { result: 'OK', accepted: 1 })).toBe(true);
    expect(ok(D.ordersResponse, { result: 'DONE', orders: [], more: false })).toBe(false);
    expect(D.ordersRequest.parse({ since: 0 }).limit).toBe(100);
    expect(ok(D.ordersRequest, { since: 0, limit: 201 })).toBe(false);
    expect(ok(D.paramsResponse, { result: 'UNCHANGED', version: 1 })).toBe(true);
    expect(ok(D.paramsResponse, { result: 'NEW', params: { version: 2, anything: 1 } })).toBe(true);
    expect(ok(D.paramsResponse, { result: 'SAME', version: 1 })).toBe(false);
  });

  it('totals a batch per wallet: carried records count only their refunds', () => {
    const t = D.totalsOf([
      { wallet: 'wechat', amount: 100, outcome: 'paid', refunds: [{ refundNo: 'R', amount: 30 }], carried: false },
      { wallet: 'wechat', amount: 50, outcome: 'reversed', refunds: [], carried: false },
      { wallet: 'wechat', amount: 70, outcome: 'paid', refunds: [{ refundNo: 'R2', amount: 70 }], carried: true },
      { wallet: 'alipay', amount: 20, outcome: 'declined', refunds: [], carried: false },
    ]);
    expect(t).toEqual({
      wechat: { payments: { count: 1, amount: 100 }, reversals: { count: 1, amount: 50 }, refunds: { count: 2, amount: 100 } },
      alipay: { payments: { count: 0, amount: 0 }, reversals: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 } },
    });
    expect(D.sameTotals(t, { wechat: t.wechat! })).toBe(true);
    expect(D.sameTotals(t, { ...t, unionpay: { ...t.alipay!, refunds: { count: 1, amount: 1 } } })).toBe(false);
    expect(D.sameTotals({ wechat: t.wechat! }, { wechat: { ...t.wechat!, payments: { count: 1, amount: 101 } } })).toBe(false);
  });

  /** `schema` takes `base` and refuses each patch; `accepts` lists patches it must take. */
  const bounds = (schema: Parameters<typeof ok>[0], base: object, accepts: object[], refuses: object[]) => {
    expect(ok(schema, base), JSON.stringify(base)).toBe(true);
    for (const patch of accepts) expect(ok(schema, { ...base, ...patch }), `accepts ${JSON.stringify(patch)}`).toBe(true);
    for (const patch of refuses) expect(ok(schema, { ...base, ...patch }), `refuses ${JSON.stringify(patch)}`).toBe(false);
  };
  const s = (n: number, c = 'x') => c.repeat(n);

  it('activation: the locator is four capitals or digits, the answer\'s id S- and 32 hex digits, the scrypt parameters within bounds', () => {
    bounds(D.activateHelloRequest, { codeId: 'K7QP', ephemeralKey: key, deviceKey: `${'a+/9'.repeat(10)}abc=` }, [], [{ codeId: 'xK7QP' }, { codeId: 'K7QPx' }, { codeId: 'K7Q' }, { ephemeralKey: `!${key}` }]);
    const answer = { result: 'HELLO', activationId: `S-${'0123456789abcdef'.repeat(2)}`, serverEphemeral: key, salt: 's', kdf: { N: 2 ** 15, r: 8, p: 1 } };
    bounds(D.activateHelloResponse, answer,
      [{ salt: s(64) }, { kdf: { N: 2 ** 14, r: 16, p: 4 } }, { kdf: { N: 2 ** 20, r: 8, p: 1 } }],
      [{ salt: s(65) }, { activationId: `xS-${'0'.repeat(32)}` }, { activationId: `S-${'0'.repeat(33)}` }, { activationId: `S-${'0'.repeat(31)}` }, { serverEphemeral: 'A=' },
        { kdf: { N: 2 ** 21, r: 8, p: 1 } }, { kdf: { N: 2 ** 15, r: 7, p: 1 } }, { kdf: { N: 2 ** 15, r: 17, p: 1 } }, { kdf: { N: 2 ** 15, r: 8, p: 0 } }, { kdf: { N: 2 ** 15, r: 8, p: 5 } }, { kdf: { N: 2 ** 15 + 0.5, r: 8, p: 1 } }]);
    expect(D.ACTIVATION_KDF_MIN_N).toBe(2 ** 14);
    bounds(D.activateRequest, { deviceName: 'Lane 2', agentVersion: '0.1.0' }, [{ deviceName: s(64), agentVersion: s(32) }], [{ deviceName: s(65) }, { agentVersion: s(33) }, { agentVersion: 1 }]);
    const activated = { result: 'ACTIVATED', terminalId: 'T-1_a', merchantId: 'M1', merchantName: 'Shop', wrappedKey: 'w', params: { version: 1, extra: true } };
    bounds(D.activateResponse, activated, [{ terminalId: s(32, 'T'), merchantId: s(32), merchantName: s(64), wrappedKey: s(256) }],
      [{ terminalId: '/T1' }, { merchantId: s(33) }, { merchantName: s(65) }, { wrappedKey: s(257) }, { result: 'HELLO' }, { params: { version: 1.5 } }]);
    // Parameters travel whole: the agent checks them itself (agent/params.ts).
    expect(D.activateResponse.parse(activated).params).toEqual({ version: 1, extra: true });
  });

  it('parameters, heartbeat and key rotation messages within their documented bounds', () => {
    bounds(D.paramsRequest, { version: 0 }, [{ version: 7 }], [{ version: -1 }, { version: 0.5 }]);
    bounds(D.paramsResponse, { result: 'UNCHANGED', version: 3 }, [], [{ version: 0 }, { result: 'NEW' }]);
    expect(D.paramsResponse.parse({ result: 'NEW', params: { version: 2, x: 1 } })).toEqual({ result: 'NEW', params: { version: 2, x: 1 } });
    const mark = { journalId: '0123abcd', lastOrderNo: 'ORDER0001', lastAt: 5 };
    const beat = { agentVersion: '0.1.0', clock: 1, paramsVersion: 0, scanners: [{ source: 'serial:/dev/ttyS0', status: 'ok' }], queueDepth: 0, deadLetters: 0 };
    bounds(D.heartbeatRequest, beat,
      [{ agentVersion: s(32), paramsRejected: { version: 2, reason: s(256) }, oldestQueuedAt: 1, lastError: { code: s(64), message: s(256), at: 1 }, skewMs: -3, journal: mark },
        { scanners: Array.from({ length: 16 }, () => ({ source: s(128), status: s(16) })) }, { scanners: [] }, { journal: { ...mark, lastOrderNo: null, lastAt: null } }],
      [{ agentVersion: s(33) }, { clock: 1.5 }, { paramsVersion: -1 }, { paramsRejected: { version: 2, reason: s(257) } }, { scanners: Array.from({ length: 17 }, () => ({ source: 's', status: 'ok' })) },
        { scanners: [{ source: s(129), status: 'ok' }] }, { scanners: [{ source: 's', status: s(17) }] }, { queueDepth: -1 }, { deadLetters: -1 }, { oldestQueuedAt: 0.5 },
        { lastError: { code: s(65), message: 'm', at: 1 } }, { lastError: { code: 'c', message: s(257), at: 1 } }, { skewMs: 0.5 }, { journal: { ...mark, journalId: 'XYZ' } }, { journal: { ...mark, lastOrderNo: s(65) } }]);
    bounds(D.heartbeatResponse, { result: 'OK', serverTime: 1, paramsVersion: 1, rotateKey: true }, [{ journal: { ...mark, reportedAt: 9 } }],
      [{ paramsVersion: 0 }, { rotateKey: 'yes' }, { serverTime: 0.5 }, { journal: { ...mark, reportedAt: 0.5 } }]);
    bounds(D.rotateKeyRequest, { reason: 'backend-request', ephemeralKey: key }, [{ reason: s(64) }], [{ reason: s(65) }, { ephemeralKey: 'A' }]);
    bounds(D.rotateKeyResponse, { result: 'ROTATED', ephemeralKey: key, keyVersion: 2 }, [], [{ keyVersion: 0 }, { ephemeralKey: `${key}=` }]);
  });

  it('upload records and settlement within their documented bounds', () => {
    const rec = { orderNo: 'ORDER0001', wallet: 'unionpay', amount: Number.MAX_SAFE_INTEGER, currency: 'CNY', outcome: 'paid', refunded: 0, refunds: [{ refundNo: 'R1', amount: 1 }], finalAt: 1 };
    bounds(D.txRecord, rec, [{ batchNo: s(32), carried: true, refunds: Array.from({ length: 50 }, (_, i) => ({ refundNo: s(32, String(i % 10)), amount: 0 })) }, { wallet: 'ecny', orderNo: s(32, 'O') }],
      [{ orderNo: '!ORDER0001' }, { orderNo: 'ORDER0001!' }, { orderNo: s(33, 'O') }, { currency: 'CNYY' }, { currency: 'xCNY' }, { refunded: -1 }, { amount: Number.MAX_SAFE_INTEGER + 1 },
        { refunds: Array.from({ length: 51 }, () => ({ refundNo: 'R', amount: 1 })) }, { refunds: [{ refundNo: s(33), amount: 1 }] }, { refunds: [{ refundNo: 'R', amount: -1 }] },
        { finalAt: 0.5 }, { batchNo: s(33) }, { carried: 'no' }]);
    const upload = (n: number) => ({ records: Array.from({ length: n }, () => rec) });
    for (const n of [1, 2, 200]) expect(ok(D.uploadRequest, upload(n)), String(n)).toBe(true);
    expect(ok(D.uploadRequest, upload(201))).toBe(false);
    bounds(D.uploadResponse, { result: 'OK', accepted: 0 }, [], [{ accepted: -1 }, { result: 'ACCEPTED' }]);
    const tally = { count: 2, amount: 300 };
    const totals = { wechat: { payments: tally, reversals: { count: 0, amount: 0 }, refunds: tally } };
    bounds(D.settleRequest, { batchNo: 'B-1_x', closedAt: 1, totals }, [{ batchNo: s(32, 'B'), detailUploaded: true }],
      [{ batchNo: '' }, { batchNo: '!B1' }, { batchNo: 'B1!' }, { batchNo: s(33, 'B') }, { closedAt: 0.5 }, { totals: { wechat: { ...totals.wechat, payments: { count: -1, amount: 0 } } } },
        { totals: { wechat: { ...totals.wechat, refunds: { count: 0.5, amount: 0 } } } }, { totals: { wechat: { ...totals.wechat, refunds: { count: 1, amount: -1 } } } }, { totals: { wechat: { payments: tally } } }]);
    expect(D.settleRequest.parse({ batchNo: 'B1', closedAt: 1, totals }).detailUploaded).toBe(false);
    const side = { outcome: 'paid', amount: 100, refunded: 0 };
    const d = { orderNo: 'ORDER0001', wallet: 'wechat', kind: 'amount-differs', terminal: side, backend: { ...side, amount: 90 } };
    bounds(D.discrepancy, d, [{ orderNo: s(32), wallet: s(16) }],
      [{ orderNo: s(33) }, { wallet: s(17) }, { terminal: { ...side, amount: 1.5 } }, { backend: { ...side, refunded: 0.5 } }, { backend: { ...side, outcome: 1 } }, { terminal: undefined }]);
    bounds(D.settleResponse, { result: 'MISMATCH', batchNo: 'B1', backendTotals: totals, discrepancies: [d] }, [{ discrepancies: Array.from({ length: 5000 }, () => d) }],
      [{ discrepancies: Array.from({ length: 5001 }, () => d) }, { discrepancies: [{ ...d, kind: 'other' }] }, { backendTotals: { wechat: { payments: tally } } }]);
    expect(ok(D.settleResponse, { result: 'MATCHED', batchNo: 'B1' })).toBe(true);
    expect(ok(D.settleResponse, { result: 'DETAIL_REQUIRED', batchNo: 'B1', backendTotals: totals })).toBe(true);
    expect(ok(D.settleResponse, { result: 'DETAIL_REQUIRED', batchNo: 'B1' })).toBe(false);
  });

  it('the order listing for recovery within its documented bounds', () => {
    bounds(D.ordersRequest, { since: 0 }, [{ after: s(64), limit: 1 }, { limit: 200 }], [{ since: -1 }, { after: s(65) }, { limit: 0 }, { limit: 1.5 }]);
    const order = { orderNo: 'ORDER0001', state: 'REFUND', wallet: 'alipay', amount: 100, currency: 'CNY', createdAt: 1, paidAt: 2, refundedAmount: 40, acquirerTradeNo: 'A1', refunds: [{ refundNo: 'R1', amount: 40, at: 3 }] };
    bounds(D.orderSummary, order, [{ orderNo: s(64), acquirerTradeNo: s(64), refunds: Array.from({ length: 100 }, () => ({ refundNo: s(64), amount: 1, at: 3 })) }],
      [{ orderNo: s(65) }, { state: 'PAID' }, { wallet: 'paypal' }, { amount: -1 }, { currency: 'cny' }, { currency: 'CNY!' }, { currency: 'xCNY' }, { createdAt: 0.5 }, { paidAt: 0.5 }, { refundedAmount: -1 }, { acquirerTradeNo: s(65) },
        { refunds: Array.from({ length: 101 }, () => ({ refundNo: 'R', amount: 1, at: 3 })) }, { refunds: [{ refundNo: s(65), amount: 1, at: 3 }] }, { refunds: [{ refundNo: 'R', amount: 1, at: 0.5 }] }]);
    // A tombstone: an order reversed before any pay arrived has no wallet, amount or currency.
    expect(ok(D.orderSummary, { orderNo: 'ORDER0001', state: 'REVOKED', createdAt: 1, refundedAmount: 0 })).toBe(true);
    bounds(D.ordersResponse, { result: 'OK', orders: [order], more: true }, [{ orders: Array.from({ length: 200 }, () => order) }], [{ orders: Array.from({ length: 201 }, () => order) }, { orders: [{ ...order, state: 'X' }] }, { more: 1 }]);
  });
});
