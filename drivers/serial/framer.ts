/**
 * Cuts a serial byte stream into scan frames. Bytes arrive in arbitrary pieces; a frame
 * ends at the terminator, or after a silence when there is no terminator or when a 2D code
 * may carry the terminator byte itself (then a terminator only counts if silence follows).
 * Time comes from the injected Clock so tests can drive the silence by hand.
 *
 * Silence is only believed when the event loop was free to hear bytes: an idle timer that
 * fires late (the agent was busy signing a request, a frame was being decoded) may have
 * been queued ahead of bytes that already arrived, so it is re-armed once more instead of
 * cutting a code in two.
 */
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';

export type Terminator = 'cr' | 'lf' | 'crlf' | 'none';

export interface FramerOptions {
  terminator: Terminator;
  /**
   * Milliseconds of silence that end a frame. Required with terminator `none`; with a
   * terminator it means "the terminator counts only when followed by this much silence".
   */
  idleMs?: number | undefined;
  /** A frame reaching this length is dropped whole (reported once), up to its end. */
  maxBytes: number;
}

export type FrameResult = { frame: Buffer } | { error: ScanpayError };

const TERMINATOR_BYTES: Record<Exclude<Terminator, 'none'>, Buffer> = {
  cr: Buffer.from('\r'),
  lf: Buffer.from('\n'),
  crlf: Buffer.from('\r\n'),
};

/** A timer this much later than due means the loop was blocked: confirm the silence again. */
const LATE_MS = 10;
/**
 * Confirmations, each a full idle time, before a late timer is believed anyway (a loop
 * blocked again and again). A read still queued behind a busy thread pool needs the time;
 * codes from one scanner come far more than 6 idle times apart.
 */
const MAX_CONFIRMATIONS = 5;

export class Framer {
  readonly #terminator: Buffer | undefined;
  readonly #idleMs: number | undefined;
  readonly #maxBytes: number;
  readonly #clock: Clock;
  readonly #onResult: (result: FrameResult) => void;
  #buffer = Buffer.alloc(0);
  /** Dropping the rest of a frame that grew too long, until its end. */
  #overflowing = false;
  #timer: unknown;

  constructor(options: FramerOptions, clock: Clock, onResult: (result: FrameResult) => void) {
    if (options.terminator === 'none' && !(options.idleMs && options.idleMs > 0)) {
      throw new TypeError('"idleMs" is required when the terminator is none');
    }
    if (!(options.maxBytes > 0)) throw new TypeError('"maxBytes" must be positive');
    this.#terminator = options.terminator === 'none' ? undefined : TERMINATOR_BYTES[options.terminator];
    this.#idleMs = options.idleMs;
    this.#maxBytes = options.maxBytes;
    this.#clock = clock;
    this.#onResult = onResult;
  }

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#terminator && this.#idleMs === undefined) this.#splitAtTerminators(this.#terminator);
    this.#checkLength();
    if (this.#idleMs !== undefined) this.#armIdleTimer(this.#idleMs, 0);
  }

  /**
   * Drops what is buffered (the port closed or went away mid-code) and stops the idle
   * timer. Returns how many bytes of an unfinished code were lost: a code cut off by an
   * unplugged cable must be scanned again, never passed on as a shorter code.
   */
  discard(): number {
    this.#stopIdleTimer();
    const dropped = this.#overflowing ? 0 : this.#buffer.length;
    this.#buffer = Buffer.alloc(0);
    this.#overflowing = false;
    return dropped;
  }

  #splitAtTerminators(terminator: Buffer): void {
    for (let end = this.#buffer.indexOf(terminator); end >= 0; end = this.#buffer.indexOf(terminator)) {
      const frame = this.#buffer.subarray(0, end);
      this.#buffer = this.#buffer.subarray(end + terminator.length);
      this.#endFrame(frame);
    }
  }

  #checkLength(): void {
    if (this.#buffer.length < this.#maxBytes) return;
    if (!this.#overflowing) this.#onResult({ error: this.#tooLong() });
    this.#overflowing = true;
    // Keep a terminator's worth of bytes: a CRLF may straddle two reads.
    this.#buffer = this.#buffer.subarray(this.#buffer.length - (this.#terminator?.length ?? 1) + 1);
  }

  #armIdleTimer(ms: number, confirmations: number): void {
    this.#stopIdleTimer();
    const due = this.#clock.now() + ms;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#clock.now() - due > LATE_MS && confirmations < MAX_CONFIRMATIONS) {
        this.#armIdleTimer(ms, confirmations + 1);
        return;
      }
      this.#endByIdle();
    }, ms);
  }

  #stopIdleTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #endByIdle(): void {
    let frame = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    const t = this.#terminator;
    if (t && frame.length >= t.length && frame.subarray(frame.length - t.length).equals(t)) frame = frame.subarray(0, frame.length - t.length);
    if (frame.length > 0 || this.#overflowing) this.#endFrame(frame);
  }

  #endFrame(frame: Buffer): void {
    if (this.#overflowing) {
      this.#overflowing = false;
      return;
    }
    if (frame.length >= this.#maxBytes) return this.#onResult({ error: this.#tooLong() });
    this.#onResult({ frame });
  }

  #tooLong(): ScanpayError {
    return new ScanpayError('SCAN_FRAME_TOO_LONG', {
      message: `no end of code within ${this.#maxBytes} bytes: the frame is dropped up to its end (check the scanner's terminator setting)`,
      detail: { maxBytes: this.#maxBytes },
    });
  }
}
