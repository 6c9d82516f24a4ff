/**
 * The simulated Alipay OpenAPI gateway (`POST /gateway.do`): alipay.trade.pay (bar_code),
 * query, cancel and refund over the shared wallet model, ledger and faults. Requests are
 * verified with the app's public key as Alipay does (RSA2 over the sorted parameters);
 * answers are `{"<method>_response":{…},"sign":"…"}` signed with "Alipay's" private key
 * over the exact response text.
 *
 * Alipay's own rules, kept here rather than in the wallet model:
 * - no tombstone: a cancel of a trade never seen answers ACQ.TRADE_NOT_EXIST and leaves
 *   nothing, so a pay arriving later still goes through;
 * - an unpaid trade closes on its own after `autoCloseMs` (about 3 minutes);
 * - a trade can be cancelled only on its own Beijing day (ACQ.TRADE_CANCEL_TIME_OUT after);
 * - a repeated pay of a paid trade answers ACQ.TRADE_HAS_SUCCESS.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { beijingDay, beijingTimestamp, parseBeijingTimestamp } from '../../../agent/backend/alipay/beijing-time.ts';
import { rsa2Sign, rsa2Verify, signContent } from '../../../agent/backend/alipay/alipay-sign.ts';
import { fenToYuan, yuanToFen } from '../../../agent/backend/alipay/yuan.ts';
import { classifyCode } from '../../../agent/payment-code.ts';
import type { Operation, PayResponse, Trade } from '../../../agent/protocol/messages.ts';
import type { WireDeps, WireProtocol } from '../build-backend.ts';
import { runWireCall, type Signing, type WireAnswer } from '../wire-call.ts';
import { DEMO_ALIPAY_APP_ID, DEMO_ALIPAY_PRIVATE_KEY, DEMO_APP_PUBLIC_KEY } from './demo-keys.ts';

export interface AlipayWireOptions {
  appId?: string;
  appPublicKey?: KeyObject;
  alipayPrivateKey?: KeyObject;
  /** An unpaid trade closes this long after it was created (unverified: about 3 minutes). */
  autoCloseMs?: number;
  /** Largest distance between a request's timestamp and the gateway's clock (unverified). */
  timestampSkewMs?: number;
}

export const ALIPAY_GATEWAY_PATH = '/gateway.do';
const OPS: Record<string, Operation> = { 'alipay.trade.pay': 'pay', 'alipay.trade.query': 'query', 'alipay.trade.cancel': 'reverse', 'alipay.trade.refund': 'refund' };

type Data = Record<string, string | undefined>;
type Answer = Record<string, unknown>;

const BUSINESS_FAILED = { code: '40004', msg: 'Business Failed' };
const fail = (sub: string, subMsg: string, extra: Answer = {}): Answer => ({ ...BUSINESS_FAILED, sub_code: sub, sub_msg: subMsg, ...extra });
const SYSTEM_ERROR: Answer = { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'aop.ACQ.SYSTEM_ERROR', sub_msg: '系统繁忙' };

/** Model reasons in Alipay's words (sub_code, sub_msg). */
const PAY_FAILS: Record<string, [string, string]> = {
  AUTH_CODE_INVALID: ['ACQ.PAYMENT_AUTH_CODE_INVALID', '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款'],
  AUTH_CODE_EXPIRED: ['ACQ.PAYMENT_AUTH_CODE_INVALID', '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款'],
  AUTH_CODE_USED: ['ACQ.PAYMENT_AUTH_CODE_INVALID', '付款码已使用，请顾客刷新付款码后重新收款'],
  NOT_ENOUGH: ['ACQ.BUYER_BALANCE_NOT_ENOUGH', '买家余额不足'],
  AMOUNT_LIMIT: ['ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR', '买家付款日限额超限'],
  ORDER_NO_USED: ['ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改'],
  ORDER_PAID: ['ACQ.TRADE_HAS_SUCCESS', '交易已被支付'],
  ORDER_CLOSED: ['ACQ.TRADE_HAS_CLOSE', '交易已经关闭'],
  ORDER_REVERSED: ['ACQ.TRADE_HAS_CLOSE', '交易已经关闭'],
};

export function alipayWire(o: AlipayWireOptions = {}): WireProtocol {
  const appId = o.appId ?? DEMO_ALIPAY_APP_ID;
  const appPublicKey = o.appPublicKey ?? createPublicKey(DEMO_APP_PUBLIC_KEY);
  const alipayKey = o.alipayPrivateKey ?? createPrivateKey(DEMO_ALIPAY_PRIVATE_KEY);
  const autoCloseMs = o.autoCloseMs ?? 180_000;
  const skewMs = o.timestampSkewMs ?? 15 * 60_000;
  return { routes: (deps) => routes(deps, { appId, appPublicKey, alipayKey, autoCloseMs, skewMs }), onlyWallet: 'alipay' };
}

interface Settings {
  appId: string;
  appPublicKey: KeyObject;
  alipayKey: KeyObject;
  autoCloseMs: number;
  skewMs: number;
}

function routes(deps: WireDeps, s: Settings): FastifyPluginAsync {
  const { model, clock } = deps;
  let wrongKey: KeyObject | undefined;
  /** Any key but Alipay's, made on first use: what a forged answer is signed with. */
  const forger = () => (wrongKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

  const render = (method: string, answer: Answer, signing: Signing): WireAnswer => {
    const key = method in OPS ? `${method.replaceAll('.', '_')}_response` : 'error_response';
    const inner = JSON.stringify(answer);
    const sign = signing === 'unsigned' ? '' : `,"sign":${JSON.stringify(rsa2Sign(inner, signing === 'signed' ? s.alipayKey : forger()))}`;
    return { status: 200, type: 'text/html;charset=utf-8', body: `{"${key}":${inner}${sign}}` };
  };

  /** Alipay's own rule, applied lazily like the model's customers: unpaid trades close after autoCloseMs. */
  const autoClose = (orderNo: string): void => {
    const view = model.order(orderNo);
    if (view && !view.tombstone && view.state === 'NOTPAY' && clock.now() - view.createdAt >= s.autoCloseMs) model.reverse(orderNo);
  };

  const tradeFields = (t: Trade | undefined, orderNo: string): Answer => ({
    out_trade_no: orderNo,
    ...(t ? { trade_no: t.acquirerTradeNo, total_amount: fenToYuan(t.amount), buyer_logon_id: '158****1562', buyer_user_id: '2088102177846880' } : {}),
  });

  const pay = (biz: Data): Answer => {
    const orderNo = biz.out_trade_no ?? '';
    const amount = yuanToFen(biz.total_amount ?? '');
    const code = biz.auth_code ?? '';
    if (!orderNo || amount === null || amount === 0 || biz.scene !== 'bar_code' || !code || !biz.subject) {
      return fail('ACQ.INVALID_PARAMETER', '参数无效');
    }
    const c = classifyCode(code);
    // An Alipay merchant app takes Alipay codes only; the wallet model takes every wallet's.
    if (c.kind !== 'payment' || c.wallet !== 'alipay') return fail('ACQ.PAYMENT_AUTH_CODE_INVALID', '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款');
    autoClose(orderNo);
    const repeat = model.order(orderNo) !== undefined;
    const r: PayResponse = model.pay({ orderNo, paymentCode: code, amount, currency: 'CNY', description: biz.subject ?? '' });
    const fields = tradeFields(r.trade, orderNo);
    switch (r.result) {
      case 'SUCCESS': {
        if (repeat) return fail('ACQ.TRADE_HAS_SUCCESS', '交易已被支付', fields);
        const yuan = fenToYuan(amount);
        return {
          code: '10000', msg: 'Success', ...fields, receipt_amount: yuan, buyer_pay_amount: yuan, invoice_amount: yuan, point_amount: '0.00',
          gmt_payment: beijingTimestamp(r.trade?.paidAt ?? clock.now()), fund_bill_list: [{ fund_channel: 'ALIPAYACCOUNT', amount: yuan }],
        };
      }
      case 'USER_PAYING':
      case 'UNKNOWN':
        return { code: '10003', msg: ' order success pay inprocess', ...fields };
      case 'FAIL': {
        const [sub, msg] = PAY_FAILS[r.reasonCode ?? ''] ?? ['ACQ.PAYMENT_FAIL', '支付失败'];
        return fail(sub, msg, fields);
      }
    }
  };

  const query = (biz: Data): Answer => {
    const orderNo = biz.out_trade_no ?? '';
    autoClose(orderNo);
    const r = model.query(orderNo);
    const t = r.trade;
    if (!t) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在', { out_trade_no: orderNo });
    return {
      code: '10000', msg: 'Success', ...tradeFields(t, orderNo), trade_status: tradeStatus(t),
      ...(t.paidAt !== undefined ? { send_pay_date: beijingTimestamp(t.paidAt) } : {}),
    };
  };

  const cancel = (biz: Data): Answer => {
    const orderNo = biz.out_trade_no ?? '';
    autoClose(orderNo);
    const view = model.order(orderNo);
    // No tombstone: nothing is recorded, and a pay still on its way can land afterwards.
    if (!view) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在', { retry_flag: 'N' });
    if (beijingDay(clock.now()) !== beijingDay(view.createdAt)) return fail('ACQ.TRADE_CANCEL_TIME_OUT', '超过撤销时间范围', { retry_flag: 'N' });
    const wasPaid = view.charged > 0 && view.net > 0;
    const r = model.reverse(orderNo);
    if (r.result === 'SUCCESS') return { code: '10000', msg: 'Success', out_trade_no: orderNo, ...(r.trade ? { trade_no: r.trade.acquirerTradeNo } : {}), retry_flag: 'N', action: wasPaid ? 'refund' : 'close' };
    if (r.result === 'RETRY') return fail('ACQ.SYSTEM_ERROR', '系统错误', { retry_flag: 'Y' });
    return fail('ACQ.TRADE_CANCEL_TIME_OUT', '超过撤销时间范围', { retry_flag: 'N' });
  };

  const refund = (biz: Data): Answer => {
    const orderNo = biz.out_trade_no ?? '';
    const amount = yuanToFen(biz.refund_amount ?? '');
    const refundNo = biz.out_request_no ?? '';
    if (!orderNo || !refundNo || amount === null || amount === 0) return fail('ACQ.INVALID_PARAMETER', '参数无效');
    const r = model.refund({ orderNo, refundNo, amount });
    if (r.result === 'SUCCESS') {
      const refunded = model.order(orderNo)?.refunded ?? amount;
      return { code: '10000', msg: 'Success', ...tradeFields(r.trade, orderNo), fund_change: 'Y', refund_fee: fenToYuan(refunded), gmt_refund_pay: beijingTimestamp(clock.now()) };
    }
    switch (r.reasonCode) {
      case 'ORDER_NOT_FOUND':
        return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
      case 'REFUND_EXCEEDS':
        return fail('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      case 'REFUND_NOT_PAID':
        return fail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      default:
        return fail('ACQ.INVALID_PARAMETER', '参数无效');
    }
  };

  const HANDLERS: Record<Operation, (biz: Data) => Answer> = { pay, query, reverse: cancel, refund };

  /** Verifies the gateway envelope as Alipay does; an error answer, or null. */
  const refusal = (params: Data): Answer | null => {
    if (!params.sign) return { code: '40001', msg: 'Missing Required Arguments', sub_code: 'isv.missing-signature', sub_msg: '缺少签名参数' };
    if (params.app_id !== s.appId) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' };
    if (params.sign_type !== 'RSA2') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature-type', sub_msg: '无效的签名类型' };
    if (!rsa2Verify(signContent(params), params.sign, s.appPublicKey)) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' };
    const at = parseBeijingTimestamp(params.timestamp ?? '');
    if (!Number.isFinite(at) || Math.abs(at - clock.now()) > s.skewMs) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-timestamp', sub_msg: '非法的时间戳参数' };
    return null;
  };

  return async (app: FastifyInstance) => {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.post(ALIPAY_GATEWAY_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
      const params: Data = { ...(req.query as Data), ...Object.fromEntries(new URLSearchParams(typeof req.body === 'string' ? req.body : '')) };
      const method = params.method ?? '';
      const op = OPS[method];
      let biz: Data = {};
      try {
        biz = JSON.parse(params.biz_content ?? '{}') as Data;
      } catch {
        // Refused below as an invalid parameter.
      }
      if (!op) {
        return reply.type('text/html;charset=utf-8').send(render('', { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-method', sub_msg: '不存在的方法名' }, 'signed').body);
      }
      await runWireCall(deps, reply, {
        op,
        ...(biz.out_trade_no ? { orderNo: String(biz.out_trade_no).slice(0, 64) } : {}),
        refusal: () => {
          const r = refusal(params);
          return r ? render(method, r, 'signed') : null;
        },
        answer: (systemError) => (systemError ? SYSTEM_ERROR : HANDLERS[op](biz)),
        render: (answer, signing) => render(method, answer as Answer, signing),
      });
    });
  };
}

function tradeStatus(t: Trade): string {
  switch (t.state) {
    case 'SUCCESS':
      return 'TRADE_SUCCESS';
    case 'REFUND':
      // Alipay shows a fully refunded trade as closed.
      return t.refundedAmount >= t.amount ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
    case 'USERPAYING':
    case 'NOTPAY':
      return 'WAIT_BUYER_PAY';
    default:
      return 'TRADE_CLOSED';
  }
}
