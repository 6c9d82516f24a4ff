/**
 * Cuts a serial byte stream into scan frames. Bytes arrive in arbitrary pieces; a frame
 * ends at the terminator, or after a silence when there is no terminator or when a 2D code
 * may carry the terminator byte itself (then a terminator only counts if silence follows).
 * Time comes from the injected Clock so tests can drive the silence by hand.
 */
import type { Clock } from '../../agent/clock.ts';

export type Terminator = 'cr' | 'lf' | 'crlf' | 'none';

export interface FramerOptions {
  terminator: Terminator;
  /**
   * Milliseconds of silence that end a frame. Required with terminator `none`; with a
   * terminator it means "the terminator counts only when followed by this much silence".
   */
  idleMs?: number | undefined;
  /** A frame this long is cut off and handed on, so line noise cannot grow the buffer forever. */
  maxBytes: number;
}

const TERMINATOR_BYTES: Record<Exclude<Terminator, 'none'>, Buffer> = {
  cr: Buffer.from('\r'),
  lf: Buffer.from('\n'),
  crlf: Buffer.from('\r\n'),
};

export class Framer {
  readonly #terminator: Buffer | undefined;
  readonly #idleMs: number | undefined;
  readonly #maxBytes: number;
  readonly #clock: Clock;
  readonly #onFrame: (frame: Buffer) => void;
  #buffer = Buffer.alloc(0);
  #timer: unknown;

  constructor(options: FramerOptions, clock: Clock, onFrame: (frame: Buffer) => void) {
    if (options.terminator === 'none' && !(options.idleMs && options.idleMs > 0)) {
      throw new TypeError('"idleMs" is required when the terminator is none');
    }
    if (!(options.maxBytes > 0)) throw new TypeError('"maxBytes" must be positive');
    this.#terminator = options.terminator === 'none' ? undefined : TERMINATOR_BYTES[options.terminator];
    this.#idleMs = options.idleMs;
    this.#maxBytes = options.maxBytes;
    this.#clock = clock;
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#terminator && this.#idleMs === undefined) this.#splitAtTerminators(this.#terminator);
    while (this.#buffer.length >= this.#maxBytes) {
      this.#onFrame(this.#buffer.subarray(0, this.#maxBytes));
      this.#buffer = this.#buffer.subarray(this.#maxBytes);
    }
    if (this.#idleMs !== undefined) this.#restartIdleTimer(this.#idleMs);
  }

  /** Hands on what is buffered (the port closed) and stops the idle timer. */
  flush(): void {
    this.#stopIdleTimer();
    this.#emitBuffered();
  }

  #splitAtTerminators(terminator: Buffer): void {
    for (let end = this.#buffer.indexOf(terminator); end >= 0; end = this.#buffer.indexOf(terminator)) {
      const frame = this.#buffer.subarray(0, end);
      this.#buffer = this.#buffer.subarray(end + terminator.length);
      this.#onFrame(frame);
    }
  }

  #restartIdleTimer(ms: number): void {
    this.#stopIdleTimer();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#emitBuffered();
    }, ms);
  }

  #stopIdleTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #emitBuffered(): void {
    let frame = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    const t = this.#terminator;
    if (t && frame.length >= t.length && frame.subarray(frame.length - t.length).equals(t)) frame = frame.subarray(0, frame.length - t.length);
    if (frame.length > 0) this.#onFrame(frame);
  }
}
