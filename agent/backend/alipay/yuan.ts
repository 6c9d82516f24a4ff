/**
 * Alipay speaks yuan as decimal text ("12.34"); scanpay keeps integer fen. The conversion
 * is string work on integers only, never through a float, and refuses anything that is not
 * an exact amount (a third decimal, an exponent, a sign, padding) rather than rounding it.
 */

/** 1234 → "12.34"; 5 → "0.05". */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError(`not a whole non-negative number of fen: ${fen}`);
  const s = String(fen).padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** "12.34" → 1234, "12.3" → 1230, "12" → 1200; null for anything that is not exact yuan. */
export function yuanToFen(text: string): number | null {
  const m = /^(0|[1-9]\d{0,12})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}
