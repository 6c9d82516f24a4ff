import { describe, expect, it } from 'vitest';
import { formatAmount, parseAmount } from '../../agent/amount.ts';
import { isScanpayError } from '../../agent/errors.ts';

const cny = { currency: 'CNY', maxAmount: 500_000 };

function refused(text: string, o = cny): string {
  try {
    parseAmount(text, o);
  } catch (e) {
    expect(isScanpayError(e, 'PAY_AMOUNT_INVALID')).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`"${text}" was accepted`);
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
  });
});
