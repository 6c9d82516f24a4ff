/**
 * Alipay's clock is Beijing's (UTC+8, no daylight saving): request timestamps and the
 * "cancel only the same day" rule are read there, whatever zone the device is set to.
 * Plain arithmetic on UTC milliseconds, so the device's TZ cannot leak in.
 */
export const BEIJING_OFFSET_MINUTES = 480;
const OFFSET_MS = BEIJING_OFFSET_MINUTES * 60_000;
const DAY_MS = 86_400_000;

/** "yyyy-MM-dd HH:mm:ss" in Beijing time. */
export function beijingTimestamp(ms: number): string {
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Milliseconds (UTC) of "yyyy-MM-dd HH:mm:ss" read as Beijing time; NaN when malformed. */
export function parseBeijingTimestamp(text: string): number {
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text)) return Number.NaN;
  return Date.parse(`${text.replace(' ', 'T')}Z`) - OFFSET_MS;
}

/** The Beijing calendar day of an instant, as a day number: equal numbers, same day. */
export function beijingDay(ms: number): number {
  return Math.floor((ms + OFFSET_MS) / DAY_MS);
}
