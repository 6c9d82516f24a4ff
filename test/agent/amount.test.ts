import { describe, expect, it } from 'vitest';
import { checkAmount, formatAmount, minorDigits, parseAmount } from '../../agent/amount.ts';
import { isScanpayError, type ScanpayError } from '../../agent/errors.ts';

const cny = { currency: 'CNY', maxAmount: 500_000 };

function thrown(f: () => unknown): ScanpayError {
  try {
    f();
  } catch (e) {
    expect(isScanpayError(e, 'PAY_AMOUNT_INVALID')).toBe(true);
    return e as ScanpayError;
  }
  throw new Error('accepted');
}

function refused(text: string, o = cny): string {
  const e = thrown(() => parseAmount(text, o));
  // The POS and the cashier see the amount they typed, never an empty detail.
  expect(e.detail).toEqual({ amount: text });
  return e.message;
}

describe('parseAmount', () => {
  it('turns exact decimal text into minor units without floats', () => {
    expect(parseAmount('12.34', cny)).toBe(1234);
    expect(parseAmount('12.3', cny)).toBe(1230);
    expect(parseAmount('12', cny)).toBe(1200);
    expect(parseAmount('0.01', cny)).toBe(1);
    expect(parseAmount('0.29', cny)).toBe(29); // 0.29 * 100 is 28.999999999999996 in floating point
    expect(parseAmount('5000.00', cny)).toBe(500_000);
  });

  it.each(['12.345', '-1', '0', '0.00', '1e3', '', ' 12', '12.', '.5', '012', '1,000', '12.3.4', 'NaN', 'Infinity', '0x10'])('refuses %j', (text) => {
    refused(text);
  });

  it('says what shape an amount must have, per currency', () => {
    expect(refused('12.345')).toBe('amount "12.345" is not a plain positive number (up to 2 decimals, e.g. 12.34)');
    expect(refused('12.5', { currency: 'JPY', maxAmount: 100_000 })).toBe('amount "12.5" is not a plain positive number (whole units only)');
    expect(refused('1.2345', { currency: 'BHD', maxAmount: 100_000 })).toContain('up to 3 decimals');
  });

  it('says zero is not an amount', () => {
    expect(refused('0.00')).toBe('amount must be more than zero');
    expect(refused('0', { currency: 'JPY', maxAmount: 100 })).toBe('amount must be more than zero');
  });

  it('refuses amounts over the configured limit and says the limit', () => {
    expect(refused('5000.01')).toContain('5000.00 CNY');
    expect(refused('99999999999999999999')).toContain('over the limit');
  });

  it('follows the currency: no decimals for JPY', () => {
    expect(parseAmount('1200', { currency: 'JPY', maxAmount: 100_000 })).toBe(1200);
    refused('12.5', { currency: 'JPY', maxAmount: 100_000 });
    expect(formatAmount(1200, 'JPY')).toBe('1200 JPY');
  });

  it('formats minor units back', () => {
    expect(formatAmount(1234, 'CNY')).toBe('12.34 CNY');
    expect(formatAmount(5, 'CNY')).toBe('0.05 CNY');
    expect(formatAmount(0, 'CNY')).toBe('0.00 CNY');
    // Refund totals and discrepancies can be negative.
    expect(formatAmount(-1234, 'CNY')).toBe('-12.34 CNY');
    expect(formatAmount(1234, 'BHD')).toBe('1.234 BHD');
  });

  it('knows each currency\'s minor digits from ICU, including three-decimal ones', () => {
    expect(minorDigits('CNY')).toBe(2);
    expect(minorDigits('JPY')).toBe(0);
    expect(minorDigits('BHD')).toBe(3);
    expect(parseAmount('1.234', { currency: 'BHD', maxAmount: 100_000 })).toBe(1234);
  });
});

describe('checkAmount', () => {
  it('takes a positive integer of minor units up to the limit', () => {
    expect(checkAmount(1, 100)).toBe(1);
    expect(checkAmount(100, 100)).toBe(100);
  });

  it.each([0, -1, 101, 12.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses %d and keeps it in the detail', (minor) => {
    const e = thrown(() => checkAmount(minor, 100));
    expect(e.message).toBe('amount must be an integer of minor units between 1 and 100');
    expect(e.detail).toEqual({ amount: minor });
  });
});
