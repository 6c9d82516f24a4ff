/**
 * Driving a ManualClock over real HTTP: time may move only when nothing is on its way.
 * With long-poll, a query the simulated backend holds on that same clock is never going
 * to finish by itself, so "nothing on its way" means: every call in flight is a held query.
 */
import type { Acquirer } from '../../agent/backend/acquirer.ts';
import type { SimBackend } from '../../simulator/backend/build-backend.ts';

/** An Acquirer that counts its calls in flight. */
export class TrackedAcquirer implements Acquirer {
  inFlight = 0;
  readonly #inner: Acquirer;

  constructor(inner: Acquirer) {
    this.#inner = inner;
  }

  pay(req: Parameters<Acquirer['pay']>[0]) {
    return this.#track(this.#inner.pay(req));
  }

  query(req: Parameters<Acquirer['query']>[0]) {
    return this.#track(this.#inner.query(req));
  }

  reverse(req: Parameters<Acquirer['reverse']>[0]) {
    return this.#track(this.#inner.reverse(req));
  }

  refund(req: Parameters<Acquirer['refund']>[0]) {
    return this.#track(this.#inner.refund(req));
  }

  async #track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await p;
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * Resolves once every call in flight is parked on the backend's clock (a held query, an
 * injected latency) and the
 * agent has had a few turns to act on what came back, several times running.
 */
export async function quiesce(acquirer: TrackedAcquirer, sim: SimBackend): Promise<void> {
  for (let stable = 0; stable < 3; ) {
    await new Promise((r) => setImmediate(r));
    stable = acquirer.inFlight === sim.parkedCalls() ? stable + 1 : 0;
  }
}
