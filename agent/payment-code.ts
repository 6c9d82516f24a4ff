/**
 * What a scanned string is: a wallet's payment code, or something a cashier scanned by
 * mistake. Decided locally, before any backend call. Formats are in
 * ../shared/reference/payment-rules.md.
 */
import { ScanpayError } from './errors.ts';

export type Wallet = 'wechat' | 'alipay' | 'unionpay' | 'ecny';

export const WALLETS: readonly Wallet[] = ['wechat', 'alipay', 'unionpay', 'ecny'];

export const WALLET_NAMES: Record<Wallet, string> = {
  wechat: 'WeChat Pay',
  alipay: 'Alipay',
  unionpay: 'UnionPay QR',
  ecny: 'e-CNY',
};

export type CodeClass =
  | { kind: 'payment'; wallet: Wallet }
  | { kind: 'product'; symbology: 'EAN-13' | 'EAN-8' | 'UPC-A' }
  | { kind: 'card' }
  | { kind: 'garbage'; reason: string };

const WALLET_PATTERNS: ReadonlyArray<[Wallet, RegExp]> = [
  ['wechat', /^1[0-5]\d{16}$/],
  ['alipay', /^(2[5-9]|30)\d{14,22}$/],
  // Face-pay codes; their body is unverified, so accept what Alipay documents loosely.
  ['alipay', /^fp[0-9A-Za-z]{10,40}$/],
  // UnionPay card numbers share the 62 prefix; only the 19-digit form is a QR payment code.
  ['unionpay', /^62\d{17}$/],
  ['ecny', /^01\d{17}$/],
];

/** GS1 mod-10 check digit, used by EAN-8, EAN-13 and UPC-A. */
function gs1CheckValid(digits: string): boolean {
  let sum = 0;
  const body = digits.slice(0, -1);
  for (let i = 0; i < body.length; i++) {
    const d = body.charCodeAt(body.length - 1 - i) - 48;
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return (10 - (sum % 10)) % 10 === Number(digits.at(-1));
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function classifyCode(raw: string): CodeClass {
  const text = raw.trim();
  if (text.length === 0) return { kind: 'garbage', reason: 'empty scan' };
  for (const [wallet, pattern] of WALLET_PATTERNS) {
    if (pattern.test(text)) return { kind: 'payment', wallet };
  }
  if (!/^\d+$/.test(text)) return { kind: 'garbage', reason: 'contains characters no payment code has' };
  if (text.length === 13 && gs1CheckValid(text)) return { kind: 'product', symbology: 'EAN-13' };
  if (text.length === 12 && gs1CheckValid(text)) return { kind: 'product', symbology: 'UPC-A' };
  if (text.length === 8 && gs1CheckValid(text)) return { kind: 'product', symbology: 'EAN-8' };
  // UnionPay cards share the QR codes' 62 prefix; any Luhn-valid 13–19 digits is a card number.
  if (/^62\d{14,16}$/.test(text) || (text.length >= 13 && text.length <= 19 && luhnValid(text))) return { kind: 'card' };
  return { kind: 'garbage', reason: `${text.length} digits match no wallet's payment code` };
}

/** Classifies and throws a typed, cashier-readable error for anything that is not a payment code. */
export function requirePaymentCode(raw: string): { code: string; wallet: Wallet } {
  const c = classifyCode(raw);
  const code = raw.trim();
  switch (c.kind) {
    case 'payment':
      return { code, wallet: c.wallet };
    case 'product':
      throw new ScanpayError('PAY_CODE_PRODUCT_BARCODE', { detail: { symbology: c.symbology, code: maskCode(code) } });
    case 'card':
      throw new ScanpayError('PAY_CODE_CARD_NUMBER', { detail: { code: maskCode(code) } });
    case 'garbage':
      throw new ScanpayError('PAY_CODE_NOT_PAYMENT', {
        message: `the scanned text is not a payment code: ${c.reason}`,
        detail: { code: maskCode(code) },
      });
  }
}

/** A payment code as it may appear in logs and on screens: wallet prefix and last four only. */
export function maskCode(code: string): string {
  if (code.length <= 6) return '*'.repeat(code.length);
  return `${code.slice(0, 2)}${'*'.repeat(code.length - 6)}${code.slice(-4)}`;
}

/** One line a technician can read: what scanpay makes of a scan. */
export function describeCode(raw: string): string {
  const c = classifyCode(raw);
  switch (c.kind) {
    case 'payment':
      return `${WALLET_NAMES[c.wallet]} payment code`;
    case 'product':
      return `product barcode (${c.symbology}), not a payment code`;
    case 'card':
      return 'bank card number, not a payment code';
    case 'garbage':
      return `not a payment code (${c.reason})`;
  }
}
