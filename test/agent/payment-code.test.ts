import { describe, expect, it } from 'vitest';
import { classifyCode, describeCode, maskCode, requirePaymentCode } from '../../agent/payment-code.ts';
import { isScanpayError } from '../../agent/errors.ts';

describe('payment code rules', () => {
  it.each([
    ['134567890123456789', 'wechat'],
    ['101234567890123456', 'wechat'],
    ['2812345678901234', 'alipay'],
    ['301234567890123456789012', 'alipay'],
    ['fp1234567890abcdef', 'alipay'],
    ['6212345678901234567', 'unionpay'],
    ['0112345678901234567', 'ecny'],
  ])('%s is a %s payment code', (code, wallet) => {
    expect(classifyCode(code)).toEqual({ kind: 'payment', wallet });
  });

  it.each([
    ['4006381333931', 'EAN-13'],
    ['036000291452', 'UPC-A'],
    ['96385074', 'EAN-8'],
  ])('%s is a product barcode (%s)', (code, symbology) => {
    expect(classifyCode(code)).toEqual({ kind: 'product', symbology });
    expect(() => requirePaymentCode(code)).toThrowError(/product barcode/);
  });

  it('tells a card number from a payment code', () => {
    // 16-digit UnionPay card: same 62 prefix, not a payment code; and a Luhn-valid Visa number.
    expect(classifyCode('6222021234567890')).toEqual({ kind: 'card' });
    expect(classifyCode('4111111111111111')).toEqual({ kind: 'card' });
    try {
      requirePaymentCode('6222021234567890');
      expect.unreachable();
    } catch (e) {
      expect(isScanpayError(e, 'PAY_CODE_CARD_NUMBER')).toBe(true);
    }
  });

  it.each(['', '   ', '16345678901234567', '1345678901234567890', 'https://example.com/qr', '13456789012345678\u0007', '99999'])(
    'rejects %j with a reason and never as a payment',
    (text) => {
      const c = classifyCode(text);
      expect(c.kind).not.toBe('payment');
      expect(() => requirePaymentCode(text)).toThrow();
    },
  );

  it('rejects a WeChat-looking code with a prefix outside 10–15', () => {
    expect(classifyCode('164567890123456789').kind).toBe('garbage');
  });

  it('masks all but the wallet prefix and the last four digits', () => {
    expect(maskCode('134567890123456789')).toBe('13************6789');
    expect(maskCode('1234')).toBe('****');
    const err = (() => {
      try {
        requirePaymentCode('4006381333931');
      } catch (e) {
        return e as { detail: Record<string, unknown>; message: string };
      }
    })();
    expect(JSON.stringify(err)).not.toContain('4006381333931');
  });

  it('describes scans for technicians', () => {
    expect(describeCode('134567890123456789')).toBe('WeChat Pay payment code');
    expect(describeCode('4006381333931')).toMatch(/^product barcode \(EAN-13\)/);
  });
});
