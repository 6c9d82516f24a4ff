/**
 * The device's clock as the backend sees it. A device clock minutes off makes every signed
 * request fail (PROTO_TIMESTAMP_SKEW beyond 5 minutes) while the money is perfectly safe:
 * the cashier sees "checking result" and reversals that never land. The backend says its
 * time in every answer: the signed timestamp of a verified answer, or `serverTime` in a
 * refusal for skew. From those this measures the skew, and beyond SKEW_CORRECT_MS signs
 * with the backend's time rather than the device's (protocol v1 allows any timestamp
 * within the window; nothing else depends on it). It never changes the device's clock:
 * payment deadlines keep running on the clock they started on.
 *
 * A refusal is unsigned, so a forger could shift the signing time: the worst it can do is
 * make requests fail, which it could do by dropping them. Answers still verify against the
 * key and the request nonce, so no replay gets through.
 */
import { elapsedNow, type Clock } from './clock.ts';
import { ScanpayError } from './errors.ts';
import { HEADER } from './protocol/signing.ts';

/** Beyond this the signing time is corrected (the heartbeat warns at the same level). */
export const SKEW_CORRECT_MS = 30_000;

export class ClockOffset {
  readonly #clock: Clock;
  #skewMs: number | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The time to sign and verify with: the backend's, as far as it is known. */
  now(): number {
    const skew = this.#skewMs ?? 0;
    return this.#clock.now() - (Math.abs(skew) > SKEW_CORRECT_MS ? skew : 0);
  }

  /** A Clock that reads the corrected time, for a client that signs with its clock (DeviceClient); timers run on the device's. */
  asClock(): Clock {
    return { now: () => this.now(), monotonic: () => elapsedNow(this.#clock), setTimeout: (fn, ms) => this.#clock.setTimeout(fn, ms), clearTimeout: (h) => this.#clock.clearTimeout(h) };
  }

  /** Device minus backend, ms, from the last answer that carried the backend's time. */
  skewMs(): number | undefined {
    return this.#skewMs;
  }

  /** The backend stamped `serverTime` somewhere between `sentAt` and `receivedAt` (device clock): compare with the middle. */
  observe(sentAt: number, receivedAt: number, serverTime: number): void {
    if (Number.isFinite(serverTime) && serverTime > 0) this.#skewMs = Math.round((sentAt + receivedAt) / 2 - serverTime);
  }

  /**
   * Reads one answer: a refusal for skew becomes BACKEND_CLOCK_SKEW (not the missing
   * signature it also is) and teaches the offset; a verified answer's timestamp is noted.
   */
  noteAnswer(a: { status: number; body: Buffer; headers: Record<string, unknown>; sentAt: number; verified: boolean }): ScanpayError | undefined {
    const receivedAt = this.#clock.now();
    if (a.verified) {
      this.observe(a.sentAt, receivedAt, Number(a.headers[HEADER.timestamp]));
      return undefined;
    }
    if (a.status !== 401) return undefined;
    let body: { error?: { code?: string }; serverTime?: unknown };
    try {
      body = JSON.parse(a.body.toString('utf8')) as typeof body;
    } catch {
      return undefined;
    }
    if (body.error?.code !== 'PROTO_TIMESTAMP_SKEW') return undefined;
    if (typeof body.serverTime === 'number') this.observe(a.sentAt, receivedAt, body.serverTime);
    const skewMs = this.#skewMs;
    return new ScanpayError('BACKEND_CLOCK_SKEW', {
      message: `the backend refused the request: this device's clock is ${describeSkew(skewMs)}; fix the clock (NTP). Requests are now signed with the backend's time`,
      detail: { status: a.status, ...(skewMs !== undefined ? { skewMs } : {}) },
    });
  }
}

/** "10 min ahead", "45 s behind", or "off" when unknown: for cashiers and technicians alike. */
export function describeSkew(skewMs: number | undefined): string {
  if (skewMs === undefined) return 'off by more than 5 minutes';
  const abs = Math.abs(skewMs);
  const size = abs >= 90 * 60_000 ? `${Math.round(abs / 3_600_000)} h` : abs >= 90_000 ? `${Math.round(abs / 60_000)} min` : `${Math.round(abs / 1000)} s`;
  return `${size} ${skewMs > 0 ? 'ahead' : 'behind'}`;
}

/** What the cashier is told while the clock is off (the POS and `doctor` show it). */
export function cashierSkewNotice(skewMs: number | undefined): string | undefined {
  if (skewMs === undefined || Math.abs(skewMs) <= SKEW_CORRECT_MS) return undefined;
  return `The terminal's clock is ${describeSkew(skewMs)}. Payments still work, but call the technician to set the time.`;
}
