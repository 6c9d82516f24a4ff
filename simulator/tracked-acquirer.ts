/**
 * An Acquirer that counts its calls in flight: what a driver of a ManualClock over real
 * HTTP needs to know before it may move time (simulator/scenarios/clock-driver.ts).
 */
import type { Acquirer } from '../agent/backend/acquirer.ts';


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

