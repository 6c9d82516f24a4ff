/**
 * Time behind one narrow interface, so that payment deadlines, query schedules and the
 * simulator's customers can run on a clock the tests advance by hand.
 *
 * The shape matches xstate v5's `Clock`, so the same instance drives the machine's delays.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * A wrong device clock, faked for chaos runs and QA (simulator/chaos: the `clock` fault):
 * milliseconds added to the system time of this process. Unset, or 0, in production.
 */
export const FAKE_CLOCK_OFFSET_MS = Number(process.env.SCANPAY_FAKE_CLOCK_OFFSET_MS ?? 0) || 0;

export const systemClock: Clock = {
  now: () => Date.now() + FAKE_CLOCK_OFFSET_MS,
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
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
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

  /** Time of the earliest waiting timer, or undefined when none waits. */
  nextAt(): number | undefined {
    return this.#timers.reduce<number | undefined>((min, t) => (min === undefined || t.at < min ? t.at : min), undefined);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  advanceTo(target: number): void {
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
