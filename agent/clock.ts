/**
 * Time behind one narrow interface, so that payment deadlines, query schedules and the
 * simulator's customers can run on a clock the tests advance by hand.
 *
 * The shape matches xstate v5's `Clock`, so the same instance drives the machine's delays.
 */
export interface Clock {
  /** Wall time, epoch ms: what is written in the journal and shown. It can jump either way. */
  now(): number;
  /**
   * Elapsed time, ms from an arbitrary origin, that never jumps with the wall clock: what
   * schedules and ages within a run are measured on (agent/outbox/outbox-worker.ts).
   * Timers run on it too. A clock without one is read as its wall time.
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The clock's monotonic reading, or its wall time for a clock that has none. */
export function elapsedNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

/**
 * A wrong device clock, faked for chaos runs and QA (simulator/chaos: the `clock` fault):
 * milliseconds added to the system time of this process. Unset, or 0, in production.
 */
export const FAKE_CLOCK_OFFSET_MS = Number(process.env.SCANPAY_FAKE_CLOCK_OFFSET_MS ?? 0) || 0;

export const systemClock: Clock = {
  now: () => Date.now() + FAKE_CLOCK_OFFSET_MS,
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in due order, each at its own time,
 * so a callback that schedules another timer within the advanced span sees it fire too.
 * `jump` sets the wall clock wrong (or right again) the way a technician or a bad NTP
 * server does: elapsed time and timers do not move.
 */
export class ManualClock implements Clock {
  /** Elapsed time; timers are due on it. */
  #now: number;
  /** Wall time minus elapsed time: what `jump` changes. */
  #wallOffset = 0;
  #timers: Timer[] = [];
  #nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now + this.#wallOffset;
  }

  monotonic(): number {
    return this.#now;
  }

  /** Moves the wall clock by `ms` (negative: back) without any time passing. */
  jump(ms: number): void {
    this.#wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Number of timers still waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Wall time of the earliest waiting timer, or undefined when none waits. */
  nextAt(): number | undefined {
    const at = this.#timers.reduce<number | undefined>((min, t) => (min === undefined || t.at < min ? t.at : min), undefined);
    return at === undefined ? undefined : at + this.#wallOffset;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.#advanceElapsed(this.#now + ms);
  }

  /** Moves time forward to the wall time `target`. */
  advanceTo(target: number): void {
    this.#advanceElapsed(target - this.#wallOffset);
  }

  #advanceElapsed(target: number): void {
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Jumps to the earliest timer and fires it (and any due at the same instant). Returns false when none waits. */
  advanceToNext(): boolean {
    const at = this.nextAt();
    if (at === undefined) return false;
    this.advanceTo(at);
    return true;
  }
}
