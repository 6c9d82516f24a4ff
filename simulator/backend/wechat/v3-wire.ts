/**
 * WeChat Pay API v3 (codepay) as the simulator speaks it: the real paths, JSON, the
 * merchant's RSA request signature checked against its certificate, every answer signed
 * with the demo platform key, HTTP 202 while the customer pays, `{code, message}` errors.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import type { Operation, PayResponse, QueryResponse, RefundResponse, Trade } from '../../../agent/protocol/messages.ts';
import { certSerial, parseV3Authorization, rsaSign, rsaVerify, v3AnswerMessage, v3RequestMessage, V3_HEADERS } from '../../../agent/backend/wechat/v3-signing.ts';
import { V3_PATHS } from '../../../agent/backend/wechat/wechat-v3-acquirer.ts';
import { DEMO_FILES, DEMO_MERCHANT } from './demo-merchant.ts';
import type { WechatBook, WechatReverse } from './wechat-book.ts';
import type { PlatformKeys } from './platform-keys.ts';
import type { IncomingCall, Signing, Wire, WechatFormat } from './wire.ts';

const merchantCert = new X509Certificate(readFileSync(DEMO_FILES.merchant.cert));
/** A key that is not the platform's, for the bad-signature fault. */
const wrongKey = createPrivateKey(readFileSync(DEMO_FILES.merchant.key));
const SKEW_S = 300;

type V3Answer = { status: number; json?: unknown };
interface V3Input {
  orderNo: string;
  json: Record<string, unknown>;
}

const codepayBody = z.object({
  appid: z.string(),
  mchid: z.string(),
  description: z.string().min(1).max(127),
  out_trade_no: z.string().min(6).max(32),
  payer: z.object({ auth_code: z.string().min(1).max(128) }),
  amount: z.object({ total: z.number().int().positive(), currency: z.string().default('CNY') }),
  scene_info: z.looseObject({ device_ip: z.string().optional() }).optional(),
});
const reverseBody = z.object({ appid: z.string(), mchid: z.string() });
const refundBody = z.object({
  out_trade_no: z.string().min(6).max(32),
  out_refund_no: z.string().min(6).max(64),
  amount: z.object({ refund: z.number().int().positive(), total: z.number().int().positive(), currency: z.string() }),
});

const PAY_ERR: Record<string, [number, string, string]> = {
  AUTH_CODE_EXPIRED: [403, 'AUTHCODEEXPIRE', '二维码已过期，请用户在微信上刷新后再试'],
  AUTH_CODE_INVALID: [400, 'AUTH_CODE_INVALID', '请扫描微信支付授权码'],
  AUTH_CODE_USED: [400, 'AUTH_CODE_INVALID', '付款码已使用，请刷新'],
  NOT_ENOUGH: [403, 'NOTENOUGH', '用户余额不足'],
  ORDER_NO_USED: [400, 'OUT_TRADE_NO_USED', '商户订单号重复'],
  ORDER_PAID: [403, 'ORDER_PAID', '该订单已支付'],
  ORDER_CLOSED: [400, 'ORDER_CLOSED', '该订单已关闭'],
  ORDER_REVERSED: [400, 'ORDER_REVERSED', '该订单已撤销'],
};

const error = (status: number, code: string, message: string): V3Answer => ({ status, json: { code, message } });

function tradeJson(t: Trade): Record<string, unknown> {
  return {
    appid: DEMO_MERCHANT.appId,
    mchid: DEMO_MERCHANT.mchId,
    out_trade_no: t.orderNo,
    ...(t.acquirerTradeNo ? { transaction_id: `4200${t.acquirerTradeNo.replace(/\D/g, '').padStart(24, '0')}` } : {}),
    trade_type: 'MICROPAY',
    trade_state: t.state,
    trade_state_desc: t.state,
    ...(t.paidAt !== undefined ? { success_time: new Date(t.paidAt + 8 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00'), bank_type: 'OTHERS', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } } : {}),
    amount: { total: t.amount, currency: t.currency, payer_total: t.amount, payer_currency: t.currency },
  };
}

function payAnswer(a: PayResponse): V3Answer {
  if (a.result === 'SUCCESS' && a.trade) return { status: 200, json: tradeJson(a.trade) };
  if (a.result === 'USER_PAYING') return { status: 202, json: { trade_state: 'USERPAYING' } };
  if (a.result === 'FAIL') {
    const [status, code, message] = PAY_ERR[a.reasonCode ?? ''] ?? [400, 'PARAM_ERROR', a.reasonMessage ?? '参数错误'];
    return error(status, code, message);
  }
  return error(500, 'SYSTEM_ERROR', '系统异常，请查询订单');
}

function queryAnswer(a: QueryResponse): V3Answer {
  if (a.result === 'SUCCESS' && a.trade) return { status: 200, json: tradeJson(a.trade) };
  return error(404, 'ORDER_NOT_EXIST', '订单不存在');
}

function reverseAnswer(r: WechatReverse, orderNo: string): V3Answer {
  switch (r.kind) {
    case 'not-found':
      return error(404, 'ORDER_NOT_EXIST', '订单不存在');
    case 'too-soon':
      return error(500, 'SYSTEM_ERROR', `订单创建后15秒内不能撤销，请${Math.ceil(r.waitMs / 1000)}秒后重试`);
    case 'done': {
      const a = r.answer;
      if (a.result === 'SUCCESS') return { status: 200, json: { appid: DEMO_MERCHANT.appId, mchid: DEMO_MERCHANT.mchId, out_trade_no: orderNo } };
      if (a.result === 'RETRY') return error(403, 'USERPAYING', '用户正在支付中，不能发起撤销');
      if (a.reasonCode === 'REVERSE_EXPIRED') return error(400, 'REVERSE_EXPIRE', '订单已超过撤销期限，请使用退款');
      return error(500, 'SYSTEM_ERROR', a.reasonMessage ?? '系统异常');
    }
  }
}

function refundAnswer(a: RefundResponse, total: number): V3Answer {
  if (a.result === 'SUCCESS') {
    return {
      status: 200,
      json: { refund_id: `50${a.refundNo.replace(/\W/g, '').slice(0, 26)}`, out_refund_no: a.refundNo, out_trade_no: a.orderNo, status: 'SUCCESS', channel: 'ORIGINAL', amount: { refund: a.refundedAmount ?? 0, total, currency: 'CNY' } },
    };
  }
  switch (a.reasonCode) {
    case 'ORDER_NOT_FOUND':
      return error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    case 'REFUND_NOT_PAID':
      return error(400, 'TRADE_STATE_ERROR', '订单状态错误');
    case 'REFUND_EXCEEDS':
      return error(400, 'REFUND_FEE_INVALID', '累计退款金额大于支付金额');
    default:
      return error(400, 'PARAM_ERROR', a.reasonMessage ?? '参数错误');
  }
}

function header(call: IncomingCall, name: string): string | undefined {
  const v = call.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Checks a request's Authorization as WeChat does: the merchant, its certificate serial, the time and the signature. */
function authRefusal(call: IncomingCall, text: string): Wire | undefined {
  const auth = parseV3Authorization(header(call, 'authorization'));
  if (!auth) return refuse(401, 'SIGN_ERROR', 'Authorization头缺失或格式错误');
  if (auth.mchid !== DEMO_MERCHANT.mchId) return refuse(401, 'SIGN_ERROR', 'mchid与签名不匹配');
  if (auth.serial_no.toUpperCase() !== certSerial(merchantCert)) return refuse(401, 'SIGN_ERROR', '商户证书序列号错误');
  if (Math.abs(Number(auth.timestamp) - Math.floor(call.now / 1000)) > SKEW_S) return refuse(401, 'SIGN_ERROR', '请求时间戳超出允许范围');
  if (!rsaVerify(v3RequestMessage(call.method, call.url, auth.timestamp, auth.nonce_str, text), auth.signature, merchantCert)) return refuse(401, 'SIGN_ERROR', '签名错误');
  return undefined;
}

/** An unsigned refusal of a request that did not verify. */
function refuse(status: number, code: string, message: string): Wire {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, message }) };
}

/** WeChat Pay v3 signing its answers with the current certificate of `platform`, which may rotate. */
export function v3Wire(platform: PlatformKeys): WechatFormat<V3Input, V3Answer> & { certificates(call: IncomingCall, now: number): Wire } {
  return {
    name: 'wechat-v3',
    routes: [
      { op: 'pay', method: 'POST', url: V3_PATHS.pay },
      { op: 'query', method: 'GET', url: '/v3/pay/transactions/out-trade-no/:out_trade_no' },
      { op: 'reverse', method: 'POST', url: '/v3/pay/transactions/out-trade-no/:out_trade_no/reverse' },
      { op: 'refund', method: 'POST', url: V3_PATHS.refund },
    ],

    parse(op: Operation, call: IncomingCall) {
      const text = call.body.toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        if (text) json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return { refuse: refuse(400, 'PARAM_ERROR', '请求体不是JSON') };
      }
      const orderNo = call.params.out_trade_no ?? (typeof json.out_trade_no === 'string' ? json.out_trade_no : undefined);
      const refused = authRefusal(call, text);
      if (refused) return { refuse: refused, orderNo };
      const input = { orderNo: orderNo ?? '', json };
      const schema = op === 'pay' ? codepayBody : op === 'reverse' ? reverseBody : op === 'refund' ? refundBody : undefined;
      const r = schema?.safeParse(json);
      if (r && !r.success) return { input, orderNo, invalid: error(400, 'PARAM_ERROR', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')) };
      const mchid = op === 'query' ? new URL(call.url, 'https://x').searchParams.get('mchid') : (json.mchid as string | undefined);
      if (op !== 'refund' && mchid !== DEMO_MERCHANT.mchId) return { input, orderNo, invalid: error(400, 'APPID_MCHID_NOT_MATCH', 'mchid不匹配') };
      return { input, orderNo };
    },

    process(op, { orderNo, json }, book: WechatBook) {
      switch (op) {
        case 'pay': {
          const b = codepayBody.parse(json);
          return payAnswer(book.pay({ orderNo, paymentCode: b.payer.auth_code, amount: b.amount.total, currency: b.amount.currency, description: b.description }));
        }
        case 'query':
          return queryAnswer(book.query(orderNo));
        case 'reverse':
          return reverseAnswer(book.reverse(orderNo), orderNo);
        case 'refund': {
          const b = refundBody.parse(json);
          const q = book.query(b.out_trade_no);
          if (q.trade && q.trade.amount !== b.amount.total) return error(400, 'PARAM_ERROR', 'amount.total与原订单金额不一致');
          return refundAnswer(book.refund({ orderNo: b.out_trade_no, refundNo: b.out_refund_no, amount: b.amount.refund }), b.amount.total);
        }
      }
    },

    systemError: () => error(500, 'SYSTEM_ERROR', '系统异常，请稍后重试'),

    emit({ status, json }, signing: Signing, now: number): Wire {
      const body = json === undefined ? '' : JSON.stringify(json);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (signing !== 'unsigned') {
        const timestamp = String(Math.floor(now / 1000));
        const nonce = randomBytes(16).toString('hex');
        headers[V3_HEADERS.serial] = platform.current.serial;
        headers[V3_HEADERS.timestamp] = timestamp;
        headers[V3_HEADERS.nonce] = nonce;
        headers[V3_HEADERS.signature] = rsaSign(v3AnswerMessage(timestamp, nonce, body), signing === 'signed' ? platform.current.key : wrongKey);
      }
      return { status, headers, body };
    },

    /** GET /v3/certificates: every platform certificate, encrypted under the merchant's APIv3 key, the answer signed as any other. */
    certificates(call: IncomingCall, now: number): Wire {
      const refused = authRefusal(call, '');
      return refused ?? this.emit({ status: 200, json: platform.certificatesBody(readFileSync(DEMO_FILES.apiV3Key, 'utf8').trim()) }, 'signed', now);
    },
  };
}
