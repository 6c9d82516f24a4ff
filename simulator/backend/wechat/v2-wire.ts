/**
 * WeChat Pay API v2 as the simulator speaks it: the real paths, signed XML both ways, the
 * merchant's client certificate required on /secapi/, and the answers WeChat documents
 * (return_code / result_code / err_code / recall). The order logic is WechatBook's.
 */
import { REASONS, type PayResponse, type QueryResponse, type RefundResponse, type Trade } from '../../../agent/protocol/messages.ts';
import type { Operation } from '../../../agent/protocol/messages.ts';
import { buildV2, parseV2, signV2, verifyV2, type V2Fields, type V2SignType } from '../../../agent/backend/wechat/v2-codec.ts';
import { V2_PATHS } from '../../../agent/backend/wechat/wechat-v2-acquirer.ts';
import { DEMO_MERCHANT } from './demo-merchant.ts';
import type { WechatBook, WechatReverse } from './wechat-book.ts';
import type { IncomingCall, Signing, Wire, WechatFormat } from './wire.ts';

export { V2_PATHS };

interface V2Input {
  fields: V2Fields;
  signType: V2SignType;
}

type V2Answer = { fields: V2Fields; signType: V2SignType };

/** protocol v1 reason → micropay err_code. */
const PAY_ERR: Record<string, [string, string]> = {
  AUTH_CODE_EXPIRED: ['AUTHCODEEXPIRE', '二维码已过期，请用户在微信上刷新后再试'],
  AUTH_CODE_INVALID: ['AUTH_CODE_INVALID', '请扫描微信支付授权码'],
  AUTH_CODE_USED: ['AUTH_CODE_INVALID', '付款码已使用，请刷新'],
  NOT_ENOUGH: ['NOTENOUGH', '用户余额不足'],
  ORDER_NO_USED: ['OUT_TRADE_NO_USED', '商户订单号重复'],
  ORDER_PAID: ['ORDERPAID', '该订单已支付'],
  ORDER_CLOSED: ['ORDERCLOSED', '该订单已关闭'],
  ORDER_REVERSED: ['ORDERREVERSED', '该订单已撤销'],
};

const REQUIRED: Record<Operation, string[]> = {
  pay: ['out_trade_no', 'total_fee', 'body', 'auth_code', 'spbill_create_ip'],
  query: ['out_trade_no'],
  reverse: ['out_trade_no'],
  refund: ['out_trade_no', 'out_refund_no', 'total_fee', 'refund_fee'],
};

const ok = (): V2Fields => ({ return_code: 'SUCCESS', return_msg: 'OK', appid: DEMO_MERCHANT.appId, mch_id: DEMO_MERCHANT.mchId });
const failWith = (err: string, des: string, extra: V2Fields = {}): V2Fields => ({ ...ok(), result_code: 'FAIL', err_code: err, err_code_des: des, ...extra });

/** WeChat writes times as yyyyMMddHHmmss in Beijing time. */
function beijing(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function tradeFields(t: Trade): V2Fields {
  return {
    out_trade_no: t.orderNo,
    total_fee: String(t.amount),
    fee_type: t.currency,
    ...(t.acquirerTradeNo ? { transaction_id: `4200${t.acquirerTradeNo.replace(/\D/g, '').padStart(24, '0')}` } : {}),
    ...(t.paidAt !== undefined ? { time_end: beijing(t.paidAt), openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', bank_type: 'CFT', trade_type: 'MICROPAY', is_subscribe: 'N' } : {}),
  };
}

function payAnswer(a: PayResponse): V2Fields {
  if (a.result === 'SUCCESS' && a.trade) return { ...ok(), result_code: 'SUCCESS', ...tradeFields(a.trade) };
  if (a.result === 'USER_PAYING') return failWith('USERPAYING', '需要用户输入支付密码');
  if (a.result === 'FAIL') {
    const [err, des] = PAY_ERR[a.reasonCode ?? ''] ?? ['PARAM_ERROR', a.reasonMessage ?? '参数错误'];
    return failWith(err, des);
  }
  return failWith('SYSTEMERROR', '系统超时，请查询订单');
}

function queryAnswer(a: QueryResponse): V2Fields {
  if (a.result === 'SUCCESS' && a.trade) {
    return { ...ok(), result_code: 'SUCCESS', trade_state: a.trade.state, ...tradeFields(a.trade), ...(a.trade.state === 'PAYERROR' ? { trade_state_desc: a.reasonMessage ?? '支付失败' } : {}) };
  }
  return failWith('ORDERNOTEXIST', '此交易订单号不存在');
}

function reverseAnswer(r: WechatReverse): V2Fields {
  switch (r.kind) {
    case 'not-found':
      // No tombstone: WeChat just does not know the order.
      return failWith('ORDERNOTEXIST', '此交易订单号不存在', { recall: 'N' });
    case 'too-soon':
      return failWith('SYSTEMERROR', `订单创建后15秒内不能撤销，请${Math.ceil(r.waitMs / 1000)}秒后重试`, { recall: 'Y' });
    case 'done': {
      const a = r.answer;
      if (a.result === 'SUCCESS') return { ...ok(), result_code: 'SUCCESS', recall: 'N' };
      if (a.result === 'RETRY') return failWith('USERPAYING', '用户正在支付中，不能发起撤销', { recall: 'Y' });
      if (a.reasonCode === 'REVERSE_EXPIRED') return failWith('REVERSE_EXPIRE', '订单已超过撤销期限，请使用退款', { recall: 'N' });
      return failWith('SYSTEMERROR', a.reasonMessage ?? '系统错误', { recall: 'Y' });
    }
  }
}

function refundAnswer(a: RefundResponse, refundNo: string): V2Fields {
  if (a.result === 'SUCCESS') {
    return { ...ok(), result_code: 'SUCCESS', out_trade_no: a.orderNo, out_refund_no: refundNo, refund_id: `50${refundNo.replace(/\W/g, '').slice(0, 26)}`, refund_fee: String(a.refundedAmount ?? 0), ...(a.trade ? { total_fee: String(a.trade.amount) } : {}) };
  }
  switch (a.reasonCode) {
    case 'ORDER_NOT_FOUND':
      return failWith('ORDERNOTEXIST', '订单不存在');
    case 'REFUND_NOT_PAID':
      return failWith('TRADE_STATE_ERROR', '订单状态错误');
    case 'REFUND_EXCEEDS':
      return failWith('REFUND_FEE_INVALID', '累计退款金额大于支付金额');
    default:
      return failWith('PARAM_ERROR', a.reasonMessage ?? (REASONS as Record<string, string>)[a.reasonCode ?? ''] ?? '参数错误');
  }
}

/** Fields that must be whole fen. */
function badAmount(f: V2Fields): string | undefined {
  for (const k of ['total_fee', 'refund_fee']) if (f[k] !== undefined && !/^[1-9]\d{0,14}$/.test(f[k]!)) return `${k}必须为正整数(分)`;
  return undefined;
}

export const v2Wire: WechatFormat<V2Input, V2Answer> = {
  name: 'wechat-v2',
  routes: (Object.keys(V2_PATHS) as Operation[]).map((op) => ({ op, method: 'POST', url: V2_PATHS[op] })),

  parse(op: Operation, call: IncomingCall) {
    let fields: V2Fields;
    try {
      fields = parseV2(call.body.toString('utf8'));
    } catch {
      return { refuse: commFail('XML格式错误') };
    }
    const orderNo = fields.out_trade_no;
    if (op === 'reverse' || op === 'refund') {
      if (!call.peerCert) return { refuse: commFail('请使用商户API证书访问此接口 (no client certificate)'), orderNo };
      if (!call.peerCert.valid) return { refuse: commFail(`商户API证书无效: ${call.peerCert.error}`), orderNo };
    }
    if (fields.appid !== DEMO_MERCHANT.appId || fields.mch_id !== DEMO_MERCHANT.mchId) return { refuse: commFail('appid和mch_id不匹配'), orderNo };
    const named = fields.sign_type;
    if (named !== undefined && named !== 'MD5' && named !== 'HMAC-SHA256') return { refuse: commFail('sign_type参数错误'), orderNo };
    const signType: V2SignType = named === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
    if (!verifyV2(fields, DEMO_MERCHANT.apiKey, signType)) return { refuse: commFail('签名错误'), orderNo };
    if (!fields.nonce_str) return { refuse: commFail('缺少参数nonce_str'), orderNo };
    const missing = REQUIRED[op].find((k) => !fields[k]);
    const bad = missing ? `缺少参数${missing}` : badAmount(fields);
    if (bad) return { input: { fields, signType }, orderNo, invalid: { fields: failWith('PARAM_ERROR', bad), signType } };
    return { input: { fields, signType }, orderNo };
  },

  process(op, { fields: f, signType }, book: WechatBook) {
    const orderNo = f.out_trade_no!;
    switch (op) {
      case 'pay':
        return { signType, fields: payAnswer(book.pay({ orderNo, paymentCode: f.auth_code!, amount: Number(f.total_fee), currency: f.fee_type || 'CNY', description: f.body ?? '' })) };
      case 'query':
        return { signType, fields: queryAnswer(book.query(orderNo)) };
      case 'reverse':
        return { signType, fields: { ...reverseAnswer(book.reverse(orderNo)), out_trade_no: orderNo } };
      case 'refund': {
        const q = book.query(orderNo);
        if (q.trade && q.trade.amount !== Number(f.total_fee)) return { signType, fields: failWith('PARAM_ERROR', '订单金额total_fee与原订单不一致') };
        return { signType, fields: refundAnswer(book.refund({ orderNo, refundNo: f.out_refund_no!, amount: Number(f.refund_fee) }), f.out_refund_no!) };
      }
    }
  },

  systemError(op, { signType }) {
    return { signType, fields: failWith('SYSTEMERROR', '系统错误，请重试', op === 'reverse' ? { recall: 'Y' } : {}) };
  },

  emit({ fields, signType }, signing: Signing): Wire {
    const out: V2Fields = { ...fields, nonce_str: Math.random().toString(36).slice(2, 18) };
    if (signing !== 'unsigned') out.sign = signV2(out, signing === 'signed' ? DEMO_MERCHANT.apiKey : `${DEMO_MERCHANT.apiKey.slice(1)}x`, signType);
    return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: buildV2(out) };
  },
};

/** A communication-layer refusal: return_code FAIL, unsigned, as WeChat sends it. */
function commFail(msg: string): Wire {
  return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: buildV2({ return_code: 'FAIL', return_msg: msg }) };
}
