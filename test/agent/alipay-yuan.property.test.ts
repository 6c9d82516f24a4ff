import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fenToYuan, yuanToFen } from '../../agent/backend/alipay/yuan.ts';
import { DEFAULTS } from '../../agent/config.ts';

/** Every amount the agent can accept: 1 fen up to the configured limit. */
const LIMIT = DEFAULTS.maxAmount;

describe('fen ↔ yuan', () => {
  it('round-trips every amount up to the limit exactly, with two decimals', () => {
    for (let fen = 0; fen <= LIMIT; fen++) {
      const yuan = fenToYuan(fen);
      if (yuanToFen(yuan) !== fen || !/^\d+\.\d\d$/.test(yuan)) throw new Error(`${fen} → ${yuan} → ${yuanToFen(yuan)}`);
    }
  });

  it('agrees with decimal arithmetic done another way (BigInt), far past the limit', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 14n }), (big) => {
        const yuan = fenToYuan(Number(big));
        expect(yuan).toBe(`${big / 100n}.${String(big % 100n).padStart(2, '0')}`);
        expect(yuanToFen(yuan)).toBe(Number(big));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the shorter forms Alipay may send', () => {
    expect(yuanToFen('12')).toBe(1200);
    expect(yuanToFen('12.3')).toBe(1230);
    expect(yuanToFen('0.01')).toBe(1);
  });

  it('refuses anything that is not an exact amount, rather than rounding', () => {
    for (const bad of ['12.345', '1e3', '-1', ' 12', '12.', '.5', '012.00', '0x10', '12,34', '', 'NaN', '1.2.3']) expect(yuanToFen(bad)).toBeNull();
    expect(() => fenToYuan(1.5)).toThrow(RangeError);
    expect(() => fenToYuan(-1)).toThrow(RangeError);
  });
});
