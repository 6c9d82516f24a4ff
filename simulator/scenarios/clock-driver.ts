/**
 * Moves a scenario's ManualClock, shared by the simulated acquirer and the terminal, over
 * real HTTP. Time may move only when nothing is on its way: every backend call in flight
 * is parked on the backend's clock (a held query, an injected latency). So a 45-second
 * query schedule runs in milliseconds, and the same scenario takes the same path each run.
 */
import type { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';

export interface DriverDeps {
  clock: ManualClock;
  /** Backend calls the terminal has on their way. */
  inFlight(): number;
  /** Calls the backend holds on its clock. */
  parkedCalls(): number;
}

/** Spins this many event-loop turns at most waiting for calls to land: a real socket call takes a few hundred. */
const MAX_TURNS = 500_000;

/**
 * Resolves once every call in flight is parked on the backend's clock and the agent has had
 * a few turns to act on what came back, several times running. `<=`, not `==`: a backend
 * taken down holds on to queries whose clients are gone. A journal sync in the thread pool
 * counts as on its way: its request leaves when it returns.
 */
export async function settleCalls(inFlight: () => number, parkedCalls: () => number): Promise<void> {
  for (let stable = 0, turns = 0; stable < 3; turns++) {
    if (turns > MAX_TURNS) throw new Error('backend calls still in flight after many turns of the event loop');
    await new Promise((r) => setImmediate(r));
    stable = inFlight() <= parkedCalls() && Journal.syncsUnderWay() === 0 ? stable + 1 : 0;
  }
}

export class ClockDriver {
  readonly #d: DriverDeps;

  constructor(deps: DriverDeps) {
    this.#d = deps;
  }

  quiesce(): Promise<void> {
    return settleCalls(this.#d.inFlight, this.#d.parkedCalls);
  }

  /** Moves time, timer by timer, until `done` holds or the clock reaches `limitAt`. Returns whether `done` holds. */
  async until(done: () => boolean, limitAt: number): Promise<boolean> {
    const clock = this.#d.clock;
    for (;;) {
      await this.quiesce();
      if (done()) return true;
      const next = clock.nextAt();
      if (next === undefined || next > limitAt) {
        if (clock.now() < limitAt) clock.advanceTo(limitAt);
        await this.quiesce();
        return done();
      }
      clock.advanceTo(next);
    }
  }

  /** Waits for a promise whose end needs time to move (an engine stop with a held query in flight). */
  async through<T>(p: Promise<T>, limitAt: number): Promise<T> {
    let ended = false;
    const watched = p.finally(() => (ended = true));
    await this.until(() => ended, limitAt);
    return watched;
  }
}
