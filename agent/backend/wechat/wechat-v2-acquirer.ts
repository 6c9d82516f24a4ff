/**
 * WeChat Pay API v2 behind the `Acquirer` interface: micropay, orderquery, reverse and refund
 * in signed XML (pay.weixin.qq.com/doc/v2/merchant/4011937125 and 4011937361). Reverse and
 * refund go to `/secapi/` with the merchant's client certificate. Every answer with
 * return_code SUCCESS must carry a valid signature, or it is no answer at all.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Operation, PayRequest, PayResponse, QueryRequest, RefundRequest, RefundResponse, ReverseRequest } from '../../protocol/messages.ts';
import type { Acquirer, CallResult } from '../acquirer.ts';
import type { WechatCredentials } from './credentials.ts';
import { mapMicropay, mapOrderQuery, mapRefund, mapReverse, type Mapped } from './v2-answers.ts';
import { buildV2, parseV2, signV2, verifyV2, V2FormatError, type V2Fields } from './v2-codec.ts';
import { refundWithTotal, WechatHttp, type WechatAcquirerOptions } from './wechat-http.ts';

export const V2_PATHS = {
  pay: '/pay/micropay',
  query: '/pay/orderquery',
  reverse: '/secapi/pay/reverse',
  refund: '/secapi/pay/refund',
} as const satisfies Record<Operation, string>;

/** An address of this machine for spbill_create_ip, which micropay requires. */
export function localIp(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class WechatV2Acquirer implements Acquirer {
  readonly #o: WechatAcquirerOptions;
  readonly #http: WechatHttp;
  readonly #c: WechatCredentials;

  constructor(o: WechatAcquirerOptions) {
    this.#o = o;
    this.#c = o.credentials;
    if (!this.#c.apiKey) throw new Error('WechatV2Acquirer needs the v2 API key');
    this.#http = new WechatHttp(o);
  }

  pay(req: PayRequest): Promise<CallResult<PayResponse>> {
    const fields: V2Fields = {
      device_info: this.#o.terminalId.slice(0, 32),
      body: (req.description || 'scanpay').slice(0, 128),
      out_trade_no: req.orderNo,
      total_fee: String(req.amount),
      fee_type: req.currency,
      spbill_create_ip: this.#c.deviceIp ?? localIp(),
      auth_code: req.paymentCode,
    };
    return this.#call('pay', fields, (f) => mapMicropay(f, req.orderNo));
  }

  query(req: QueryRequest) {
    return this.#call('query', { out_trade_no: req.orderNo }, (f) => mapOrderQuery(f, req.orderNo));
  }

  reverse(req: ReverseRequest) {
    return this.#call('reverse', { out_trade_no: req.orderNo }, (f) => mapReverse(f, req.orderNo));
  }

  refund(req: RefundRequest): Promise<CallResult<RefundResponse>> {
    return refundWithTotal(this, req, (total, currency) =>
      this.#call(
        'refund',
        { out_trade_no: req.orderNo, out_refund_no: req.refundNo, total_fee: String(total), refund_fee: String(req.amount), refund_fee_type: currency },
        (f) => mapRefund(f, req.orderNo, req.refundNo),
      ),
    );
  }

  async #call<T>(op: Operation, extra: V2Fields, map: (f: V2Fields) => Mapped<T>): Promise<CallResult<T>> {
    const c = this.#c;
    const apiKey = c.apiKey!;
    const fields: V2Fields = { appid: c.appId, mch_id: c.mchId, nonce_str: randomBytes(16).toString('hex'), ...(c.signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}), ...extra };
    fields.sign = signV2(fields, apiKey, c.signType);
    const sent = await this.#http.send(op, { method: 'POST', url: V2_PATHS[op], data: buildV2(fields), headers: { 'content-type': 'text/xml; charset=utf-8' } }, op === 'reverse' || op === 'refund');
    if (!sent.ok) return sent.result;
    const { exchange: x, elapsed } = sent;
    if (x.status !== 200) return this.#http.unknown(op, 'BACKEND_HTTP_STATUS', `WeChat answered ${op} with HTTP ${x.status}`, x, elapsed);
    let answer: V2Fields;
    try {
      answer = parseV2(x.raw.toString('utf8'));
    } catch (e) {
      if (!(e instanceof V2FormatError)) throw e;
      return this.#http.unknown(op, 'BACKEND_MALFORMED', `answer to ${op} is not WeChat XML (${e.message})`, x, elapsed);
    }
    // return_code FAIL is the communication layer refusing (signature, parameters, certificate): WeChat does not sign it, and it says nothing about the order.
    if (answer.return_code !== 'SUCCESS') {
      return this.#http.unknown(op, 'BACKEND_UNKNOWN', `WeChat return_code ${answer.return_code ?? '(none)'}: ${(answer.return_msg ?? '').slice(0, 200)}`, x, elapsed);
    }
    if (!verifyV2(answer, apiKey, c.signType)) {
      return this.#http.unknown(op, 'BACKEND_SIGNATURE_INVALID', `answer to ${op} is ${answer.sign ? 'badly signed' : 'unsigned'}: treated as no answer`, x, elapsed);
    }
    if (answer.appid !== undefined && answer.appid !== c.appId) return this.#http.unknown(op, 'BACKEND_MALFORMED', `answer to ${op} names another appid`, x, elapsed);
    if (answer.mch_id !== undefined && answer.mch_id !== c.mchId) return this.#http.unknown(op, 'BACKEND_MALFORMED', `answer to ${op} names another mch_id`, x, elapsed);
    const m = map(answer);
    if ('malformed' in m) return this.#http.unknown(op, 'BACKEND_MALFORMED', `answer to ${op}: ${m.malformed}`, x, elapsed);
    return this.#http.finish(op, { kind: 'answer', body: m.body, latencyMs: elapsed() });
  }
}
