import { describe, expect, it } from 'vitest';
import { WALLETS, WALLET_NAMES, classifyCode, describeCode, maskCode, requirePaymentCode } from '../../agent/payment-code.ts';
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

describe('payment code rules: edges a scanner produces', () => {
  it('names every wallet the agent takes, in the order of the parameters and wire schemas', () => {
    expect(WALLETS).toEqual(['wechat', 'alipay', 'unionpay', 'ecny']);
    expect(WALLETS.map((w) => WALLET_NAMES[w])).toEqual(['WeChat Pay', 'Alipay', 'UnionPay QR', 'e-CNY']);
    expect(describeCode('2812345678901234')).toBe('Alipay payment code');
    expect(describeCode('6212345678901234567')).toBe('UnionPay QR payment code');
    expect(describeCode('0112345678901234567')).toBe('e-CNY payment code');
  });

  it('strips the scanner\'s whitespace and line end before classifying and submitting', () => {
    expect(classifyCode(' 134567890123456789\r\n')).toEqual({ kind: 'payment', wallet: 'wechat' });
    expect(requirePaymentCode('\t2812345678901234\n')).toEqual({ code: '2812345678901234', wallet: 'alipay' });
  });

  // A wallet pattern must match the whole scan: a code with a stray character before or
  // after it (a mis-read, a URL around it) is not that wallet's code.
  it.each([
    'X134567890123456789',
    '134567890123456789X',
    'X2812345678901234',
    '2812345678901234X',
    '!fp1234567890abcdef',
    'fp1234567890abcdef!',
    'X6212345678901234567',
    '6212345678901234567X',
    'X0112345678901234567',
    '0112345678901234567X',
  ])('%j (a wallet code with a stray character) is garbage, not a payment', (text) => {
    expect(classifyCode(text)).toEqual({ kind: 'garbage', reason: 'contains characters no payment code has' });
  });

  it('gives the cashier the reason a scan is refused', () => {
    expect(describeCode('')).toBe('not a payment code (empty scan)');
    expect(describeCode('ABC123')).toBe('not a payment code (contains characters no payment code has)');
    expect(describeCode('99999')).toBe("not a payment code (5 digits match no wallet's payment code)");
    expect(describeCode('6222021234567890')).toBe('bank card number, not a payment code');
    expect(describeCode('96385074')).toBe('product barcode (EAN-8), not a payment code');
  });

  it('takes a product barcode only with its GS1 check digit and length', () => {
    // Published EAN-13 4006381333931 with the check digit changed: no product (it happens to be Luhn-valid).
    expect(classifyCode('4006381333932')).toEqual({ kind: 'card' });
    expect(classifyCode('96385075')).toEqual({ kind: 'garbage', reason: "8 digits match no wallet's payment code" });
    // EAN-8 96385074 with a leading zero is 9 digits, GS1-valid, and no symbology.
    expect(classifyCode('096385074')).toEqual({ kind: 'garbage', reason: "9 digits match no wallet's payment code" });
  });

  it.each([
    // Published card test numbers (Mastercard, Amex, Discover, JCB, Visa 13 and 19 digits).
    '5555555555554444',
    '378282246310005',
    '6011111111111117',
    '3530111333300000',
    '4222222222222',
    '4000000000000000006',
  ])('%s (a Luhn-valid test card number) is a card, not a payment code', (text) => {
    expect(classifyCode(text)).toEqual({ kind: 'card' });
  });

  it('takes a card number only at 13 to 19 digits', () => {
    // Luhn-valid but 12 and 20 digits long: no card has that length.
    expect(classifyCode('400000000002').kind).toBe('garbage');
    expect(classifyCode('40000000000000000002').kind).toBe('garbage');
    // The UnionPay card prefix 62 makes 16-18 digits a card, not 19 (the QR code) nor 20-22.
    expect(classifyCode('6200000000000000001')).toEqual({ kind: 'payment', wallet: 'unionpay' });
    expect(classifyCode('62000000000000000000001').kind).toBe('garbage');
    expect(classifyCode('162000000000000001').kind).toBe('garbage');
  });

  it('throws typed errors whose detail holds the symbology and the masked code only', () => {
    const thrown = (text: string) => {
      try {
        requirePaymentCode(text);
      } catch (e) {
        return e as { code: string; detail: Record<string, unknown>; message: string };
      }
      throw new Error('accepted');
    };
    expect(thrown('4006381333931')).toMatchObject({ code: 'PAY_CODE_PRODUCT_BARCODE', detail: { symbology: 'EAN-13', code: '40*******3931' } });
    expect(thrown('6222021234567890')).toMatchObject({ code: 'PAY_CODE_CARD_NUMBER', detail: { code: '62**********7890' } });
    const garbage = thrown('16345678901234567');
    expect(garbage).toMatchObject({ code: 'PAY_CODE_NOT_PAYMENT', detail: { code: '16***********4567' } });
    expect(garbage.message).toContain("17 digits match no wallet's payment code");
  });

  it('masks a code of six characters entirely: prefix plus last four would show all of it', () => {
    expect(maskCode('123456')).toBe('******');
    expect(maskCode('1234567')).toBe('12*4567');
  });
});
