/**
 * The simulated Shouqianba Upay v2 gateway: terminal activation, check-in (key rotation,
 * current and previous key valid), log upload, and /upay/v2/pay, query, cancel, revoke,
 * refund over the shared wallet model, ledger and faults. Requests are checked like Upay
 * checks them (`Authorization: sn MD5(body + key)`, case-insensitive hex); answers are
 * `{"result_code":"200","biz_response":{…}}`, unsigned, as Upay's are.
 *
 * Upay's own rules, kept here rather than in the wallet model:
 * - a client_sn is used once: any second pay with it is FAIL + CLIENT_SN_CONFLICT, so a
 *   failed payment needs a new client_sn;
 * - no tombstone: cancelling an order never seen is FAIL + UPAY_ORDER_NOT_EXISTS and leaves
 *   nothing, so a pay arriving later still goes through;
 * - cancel and revoke work on the order's Beijing day only (revoke.md).
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { beijingDay } from '../../../agent/backend/alipay/beijing-time.ts';
import { parseAuthorization, signedWithOneOf } from '../../../agent/backend/upay/upay-sign.ts';
import type { Operation, PayResponse, Trade } from '../../../agent/protocol/messages.ts';
import type { WireDeps, WireProtocol } from '../build-backend.ts';
import { runWireCall, sendAnswer as send, type WireAnswer } from '../wire-call.ts';
import { DEMO_UPAY_ACTIVATION_CODE, DEMO_UPAY_TERMINAL, DEMO_UPAY_VENDOR } from './demo-upay.ts';

type Body = Record<string, unknown>;

export interface UpayTerminalState {
  terminalSn: string;
  /** Current key first, then the previous one: both sign valid requests. */
  keys: string[];
  deviceId: string;
  checkins: number;
  logs: Array<{ at: number; bytes: number }>;
}

export interface UpayWire extends WireProtocol {
  terminals: Map<string, UpayTerminalState>;
  /** Activation codes and the activations each has left. */
  activationCodes: Map<string, number>;
}

const PAYWAY: Record<string, string> = { alipay: '2', wechat: '3', unionpay: '17', ecny: '3' };
const PAY_FAILS: Record<string, string> = {
  AUTH_CODE_INVALID: 'INVALID_BARCODE',
  AUTH_CODE_USED: 'INVALID_BARCODE',
  AUTH_CODE_EXPIRED: 'EXPIRED_BARCODE',
  NOT_ENOUGH: 'INSUFFICIENT_FUND',
  AMOUNT_LIMIT: 'BUYER_OVER_DAILY_LIMIT',
};
/** Log uploads remembered per terminal. */
const UPLOADED_LOGS_KEPT = 100;
const OPS: Record<string, Operation> = { pay: 'pay', query: 'query', cancel: 'reverse', revoke: 'reverse', refund: 'refund' };

export function upayWire(o: { activationCodes?: Record<string, number> } = {}): UpayWire {
  const terminals = new Map<string, UpayTerminalState>([[DEMO_UPAY_TERMINAL.terminalSn, { terminalSn: DEMO_UPAY_TERMINAL.terminalSn, keys: [DEMO_UPAY_TERMINAL.terminalKey], deviceId: 'demo', checkins: 0, logs: [] }]]);
  const activationCodes = new Map(Object.entries(o.activationCodes ?? { [DEMO_UPAY_ACTIVATION_CODE]: 100 }));
  return { terminals, activationCodes, routes: (deps) => routes(deps, terminals, activationCodes) };
}

const json = (status: number, body: unknown): WireAnswer => ({ status, type: 'application/json;charset=utf-8', body: JSON.stringify(body) });
const ok = (biz: Body) => json(200, { result_code: '200', biz_response: biz });
const refused = (code: string, message: string) => json(200, { result_code: '400', error_code: code, error_message: message });
const SYSTEM_ERROR = { result_code: '500', error_code: 'UNKNOWN_SYSTEM_ERROR', error_message: '系统错误' };

function routes(deps: WireDeps, terminals: Map<string, UpayTerminalState>, codes: Map<string, number>): FastifyPluginAsync {
  const { model, clock } = deps;
  let nextSn = 100_000_000_000_100;

  const data = (t: Trade | undefined, orderNo: string, terminalSn: string, status: string): Body => ({
    terminal_sn: terminalSn,
    client_sn: orderNo,
    ...(t
      ? {
          sn: t.acquirerTradeNo, trade_no: t.acquirerTradeNo, status: 'SUCCESS', order_status: status, payway: PAYWAY[t.wallet], sub_payway: '1',
          total_amount: String(t.amount), net_amount: String(t.amount - t.refundedAmount), subject: 'scanpay', operator: terminalSn,
          ...(t.paidAt !== undefined ? { finish_time: String(t.paidAt), channel_finish_time: String(t.paidAt) } : {}),
        }
      : { order_status: status }),
  });

  const orderStatus = (t: Trade): string => {
    switch (t.state) {
      case 'SUCCESS':
        return 'PAID';
      case 'REFUND':
        return t.refundedAmount >= t.amount ? 'REFUNDED' : 'PARTIAL_REFUNDED';
      case 'USERPAYING':
      case 'NOTPAY':
        return 'CREATED';
      case 'REVOKED':
        return 'CANCELED';
      default:
        return 'PAY_CANCELED';
    }
  };

  const pay = (b: Body, sn: string): Body => {
    const orderNo = String(b.client_sn ?? '');
    const amount = String(b.total_amount ?? '');
    if (!/^.{1,32}$/.test(orderNo) || !/^[1-9]\d{0,9}$/.test(amount) || !b.dynamic_id || !b.subject || !b.operator) {
      return { result_code: 'FAIL', error_code: 'INVALID_PARAMS', error_message: '参数错误' };
    }
    // A client_sn is used once, whatever became of the order: a retry needs a new one.
    if (model.order(orderNo)) return { result_code: 'FAIL', error_code: 'CLIENT_SN_CONFLICT', error_message: 'client_sn在系统中已存在' };
    const r: PayResponse = model.pay({ orderNo, paymentCode: String(b.dynamic_id), amount: Number(amount), currency: 'CNY', description: String(b.subject) });
    const t = r.trade;
    switch (r.result) {
      case 'SUCCESS':
        return { result_code: 'PAY_SUCCESS', data: data(t, orderNo, sn, 'PAID') };
      case 'USER_PAYING':
      case 'UNKNOWN':
        return { result_code: 'PAY_IN_PROGRESS', data: data(t, orderNo, sn, 'CREATED') };
      case 'FAIL':
        return { result_code: 'PAY_FAIL', error_code: PAY_FAILS[r.reasonCode ?? ''] ?? 'TRADE_FAILED', error_message: r.reasonMessage ?? '交易失败', data: data(t, orderNo, sn, 'PAY_CANCELED') };
    }
  };

  const notFound = { result_code: 'FAIL', error_code: 'UPAY_ORDER_NOT_EXISTS', error_message: '订单不存在' };

  const query = (b: Body, sn: string): Body => {
    const orderNo = String(b.client_sn ?? '');
    const t = model.query(orderNo).trade;
    return t ? { result_code: 'SUCCESS', data: data(t, orderNo, sn, orderStatus(t)) } : notFound;
  };

  const cancel = (b: Body, sn: string): Body => {
    const orderNo = String(b.client_sn ?? '');
    const view = model.order(orderNo);
    // No tombstone: nothing is recorded, and a pay still on its way can land afterwards.
    if (!view) return notFound;
    if (beijingDay(clock.now()) !== beijingDay(view.createdAt)) return { result_code: 'FAIL', error_code: 'UPAY_CANCEL_INVALID_ORDER_STATE', error_message: '当前订单状态不可撤销' };
    const r = model.reverse(orderNo);
    if (r.result === 'SUCCESS') return { result_code: 'CANCEL_SUCCESS', data: data(r.trade, orderNo, sn, 'CANCELED') };
    // The customer is still paying: Upay could not stop the payment, its outcome is open.
    return { result_code: 'CANCEL_ABORT_ERROR', error_message: '撤单失败，订单状态未知', data: data(r.trade, orderNo, sn, 'CREATED') };
  };

  const refund = (b: Body, sn: string): Body => {
    const orderNo = String(b.client_sn ?? '');
    const amount = String(b.refund_amount ?? '');
    const requestNo = String(b.refund_request_no ?? '');
    if (!/^[1-9]\d{0,9}$/.test(amount) || !/^.{1,20}$/.test(requestNo) || !b.operator) return { result_code: 'FAIL', error_code: 'INVALID_PARAMS', error_message: '参数错误' };
    // Refund numbers are unique per order (client_tsn = client_sn-refund_request_no).
    const r = model.refund({ orderNo, refundNo: `${orderNo}-${requestNo}`, amount: Number(amount) });
    if (r.result === 'SUCCESS') return { result_code: 'REFUND_SUCCESS', data: { ...data(r.trade, orderNo, sn, r.trade ? orderStatus(r.trade) : 'PAID'), client_tsn: `${orderNo}-${requestNo}` } };
    const code = { ORDER_NOT_FOUND: 'UPAY_ORDER_NOT_EXISTS', REFUND_EXCEEDS: 'REFUNDABLE_AMOUNT_NOT_ENOUGH', REFUND_NOT_PAID: 'UPAY_REFUND_INVALID_ORDER_STATE' }[r.reasonCode ?? ''] ?? 'INVALID_PARAMS';
    return { result_code: 'FAIL', error_code: code, error_message: r.reasonMessage ?? '' };
  };

  const HANDLERS: Record<string, (b: Body, sn: string) => Body> = { pay, query, cancel, revoke: cancel, refund };

  /** Which terminal signed this body, with which of its keys; a refusal otherwise. */
  const signer = (req: FastifyRequest, raw: Buffer): { terminal: UpayTerminalState; key: string } | WireAnswer => {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) return refused('ILLEGAL_SIGN', '签名错误');
    const terminal = terminals.get(auth.sn);
    if (!terminal) return refused('INVALID_TERMINAL', '终端错误');
    const key = signedWithOneOf(raw, auth.sign, terminal.keys);
    return key ? { terminal, key } : refused('ILLEGAL_SIGN', '签名错误');
  };

  const parse = (raw: Buffer): Body | null => {
    try {
      const v: unknown = JSON.parse(raw.toString('utf8'));
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Body) : null;
    } catch {
      return null;
    }
  };

  return async (app: FastifyInstance) => {
    // Keep the exact bytes: the signature covers them.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    const rawOf = (req: FastifyRequest) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

    app.post('/terminal/activate', async (req, reply) => {
      const raw = rawOf(req);
      const auth = parseAuthorization(req.headers.authorization);
      const b = parse(raw);
      if (!auth || auth.sn !== DEMO_UPAY_VENDOR.vendorSn || !signedWithOneOf(raw, auth.sign, [DEMO_UPAY_VENDOR.vendorKey])) return send(reply, refused('ILLEGAL_SIGN', '签名错误'));
      if (!b || b.app_id !== DEMO_UPAY_VENDOR.appId || typeof b.device_id !== 'string' || !b.device_id) return send(reply, refused('INVALID_PARAMS', '参数错误'));
      const left = codes.get(String(b.code ?? '')) ?? 0;
      if (left <= 0) return send(reply, refused('INVALID_PARAMS', '激活码无效或已用完'));
      codes.set(String(b.code), left - 1);
      const terminal: UpayTerminalState = { terminalSn: String(nextSn++), keys: [randomBytes(16).toString('hex')], deviceId: b.device_id, checkins: 0, logs: [] };
      terminals.set(terminal.terminalSn, terminal);
      return send(reply, ok({ terminal_sn: terminal.terminalSn, terminal_key: terminal.keys[0] }));
    });

    app.post('/terminal/checkin', async (req, reply) => {
      const raw = rawOf(req);
      const s = signer(req, raw);
      if (!('terminal' in s)) return send(reply, s);
      const b = parse(raw);
      if (!b || b.terminal_sn !== s.terminal.terminalSn || !b.device_id) return send(reply, refused('INVALID_PARAMS', '参数错误'));
      // Only the current and the previous key stay valid.
      s.terminal.keys = [randomBytes(16).toString('hex'), s.terminal.keys[0]!];
      s.terminal.checkins++;
      return send(reply, ok({ terminal_sn: s.terminal.terminalSn, terminal_key: s.terminal.keys[0] }));
    });

    app.post('/terminal/uploadLog', async (req, reply) => {
      const raw = rawOf(req);
      const s = signer(req, raw);
      if (!('terminal' in s)) return send(reply, s);
      try {
        gunzipSync(raw);
      } catch {
        return send(reply, refused('INVALID_PARAMS', '日志不是gzip格式'));
      }
      s.terminal.logs.push({ at: clock.now(), bytes: raw.length });
      // A QA record of the latest uploads, not an archive: it must not grow for the life of the simulator.
      if (s.terminal.logs.length > UPLOADED_LOGS_KEPT) s.terminal.logs.shift();
      return send(reply, json(200, { result_code: '200', error_code: 'SUCCESS', error_message: 'ok' }));
    });

    for (const [name, op] of Object.entries(OPS)) {
      app.post(`/upay/v2/${name}`, async (req, reply) => {
        const raw = rawOf(req);
        const b = parse(raw);
        await runWireCall(deps, reply, {
          op,
          ...(typeof b?.client_sn === 'string' ? { orderNo: b.client_sn.slice(0, 64) } : {}),
          refusal: () => {
            const s = signer(req, raw);
            if (!('terminal' in s)) return s;
            if (!b || b.terminal_sn !== s.terminal.terminalSn || typeof b.client_sn !== 'string') return refused('INVALID_PARAMS', '参数错误');
            return null;
          },
          answer: (systemError) => (systemError ? SYSTEM_ERROR : { result_code: '200', biz_response: HANDLERS[name]!(b!, String(b!.terminal_sn)) }),
          // Upay answers carry no signature: "unsigned" and "wrong key" change nothing on this wire.
          render: (answer) => json(200, answer),
        });
      });
    }
  };
}
