/**
 * Money as typed by a person: exact decimal text to integer minor units, never through a
 * float ('0.1' + '0.2' must not be 0.30000000000000004 yuan). Anything ambiguous is
 * refused rather than rounded: '12.345', '1e3', '-1', '0', ' 12', '12.'.
 */
import { ScanpayError } from './errors.ts';

/** Digits after the decimal point for an ISO 4217 currency (CNY 2, JPY 0), from the runtime's ICU data. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** A positive integer of minor units no larger than `maxAmount`, or PAY_AMOUNT_INVALID. */
export function checkAmount(minor: number, maxAmount: number): number {
  if (!Number.isSafeInteger(minor) || minor <= 0 || minor > maxAmount) {
    throw new ScanpayError('PAY_AMOUNT_INVALID', { message: `amount must be an integer of minor units between 1 and ${maxAmount}`, detail: { amount: minor } });
  }
  return minor;
}

/** '12.34' → 1234 (CNY). Throws PAY_AMOUNT_INVALID naming what is wrong. */
export function parseAmount(text: string, o: { currency: string; maxAmount: number }): number {
  const digits = minorDigits(o.currency);
  const shape = digits === 0 ? /^(0|[1-9]\d*)$/ : new RegExp(`^(0|[1-9]\\d*)(?:\\.(\\d{1,${digits}}))?$`);
  const m = shape.exec(text);
  if (!m) {
    const why = digits === 0 ? 'whole units only' : `up to ${digits} decimals, e.g. 12.34`;
    throw new ScanpayError('PAY_AMOUNT_INVALID', { message: `amount "${text}" is not a plain positive number (${why})`, detail: { amount: text } });
  }
  // Number('') is 0: whole units need no fraction.
  const minor = Number(m[1]!) * 10 ** digits + Number((m[2] ?? '').padEnd(digits, '0'));
  if (minor === 0) throw new ScanpayError('PAY_AMOUNT_INVALID', { message: 'amount must be more than zero', detail: { amount: text } });
  if (minor > o.maxAmount) {
    throw new ScanpayError('PAY_AMOUNT_INVALID', { message: `amount ${text} is over the limit of ${formatAmount(o.maxAmount, o.currency)}`, detail: { amount: text } });
  }
  return checkAmount(minor, o.maxAmount);
}

/** 1234 → '12.34 CNY'. */
export function formatAmount(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const units = Math.floor(abs / 10 ** digits);
  const frac = digits === 0 ? '' : `.${String(abs % 10 ** digits).padStart(digits, '0')}`;
  return `${sign}${units}${frac} ${currency}`;
}
