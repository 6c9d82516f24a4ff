/**
 * Delivers the outbox: follow-ups (reversals, refunds, later uploads) that must reach the
 * backend eventually, across restarts. Each item has its own schedule, so one that keeps
 * failing only delays itself (jPOS's store-and-forward blocks behind a poison entry; this
 * does not). Items older than their kind's maximum age become dead letters, loudly.
 */
import type { Clock } from '../clock.ts';
import type { Journal, OutboxRow } from '../journal/journal.ts';
import type { Logger } from '../log.ts';
import { backoff } from '../payment/backoff.ts';

export type DeliveryResult =
  | { kind: 'done' }
  /** `notBefore`: the acquirer's own rule says when the next attempt can succeed (earliest reverse, code expiry). */
  | { kind: 'retry'; error: string; notBefore?: number }
  | { kind: 'dead'; error: string };

export type OutboxHandler = (item: OutboxRow) => Promise<DeliveryResult>;

export interface OutboxWorkerOptions {
  journal: Journal;
  clock: Clock;
  logger: Logger;
  handlers: Record<string, OutboxHandler>;
  /** Retry backoff (agent/payment/backoff.ts): the cap doubles from base to max, full jitter below it. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per kind; an item older than this is dead-lettered instead of tried again. */
  maxAgeMs?: Record<string, number>;
  /** Items delivered at the same time; the rest wait for a free slot, not for each other's backoff. */
  concurrency?: number;
  random?: () => number;
  /** Told about every item that ends (done or dead), so payment views can update. */
  onSettled?: (item: OutboxRow, result: DeliveryResult) => void;
}

const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;

export class OutboxWorker {
  readonly #o: Required<Omit<OutboxWorkerOptions, 'onSettled'>> & Pick<OutboxWorkerOptions, 'onSettled'>;
  readonly #busy = new Set<number>();
  /** Items whose attempt the journal could not record, left alone until the time given. */
  readonly #resting = new Map<number, number>();
  #timer: unknown;
  #timerAt: number | undefined;
  #running = false;
  #inFlight = new Set<Promise<void>>();

  constructor(o: OutboxWorkerOptions) {
    this.#o = { retryBaseMs: 1_000, retryMaxMs: 60_000, maxAgeMs: {}, concurrency: 4, random: Math.random, ...o };
  }

  start(): void {
    this.#running = true;
    this.kick();
  }

  /** Stops scheduling and waits for deliveries under way to finish. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clearTimer();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Deliveries under way; for tests and graceful shutdown. */
  get busy(): number {
    return this.#inFlight.size;
  }

  whenIdle(): Promise<unknown> {
    return Promise.allSettled([...this.#inFlight]);
  }

  /** Looks for due items now (after an enqueue, or a technician's retry). */
  kick(): void {
    if (!this.#running) return;
    const now = this.#o.clock.now();
    for (const [id, until] of this.#resting) if (until <= now) this.#resting.delete(id);
    const free = this.#o.concurrency - this.#busy.size;
    if (free > 0) {
      for (const item of this.#o.journal.dueOutbox(now, free, this.#leftOut())) this.#deliver(item);
    }
    this.#schedule();
  }

  #leftOut(): number[] {
    return [...this.#busy, ...this.#resting.keys()];
  }

  #schedule(): void {
    // With every slot taken, the next finishing delivery kicks again; items under way or
    // resting are left out, or their stale due time would spin the timer.
    const due = this.#busy.size >= this.#o.concurrency ? undefined : this.#o.journal.nextOutboxAt(this.#leftOut());
    const next = Math.min(due ?? Number.POSITIVE_INFINITY, ...this.#resting.values());
    if (next === Number.POSITIVE_INFINITY || !this.#running) return this.#clearTimer();
    const at = Math.max(next, this.#o.clock.now());
    if (this.#timerAt !== undefined && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.kick();
    }, at - this.#o.clock.now());
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  #deliver(item: OutboxRow): void {
    this.#busy.add(item.id);
    const p = this.#attempt(item)
      .catch((err: unknown) => {
        // The journal could not record the attempt (a full or failing disk): the item stays
        // as the journal last had it, due. Deliveries are idempotent, so it is tried again,
        // after a pause rather than in a loop; the worker itself goes on.
        this.#resting.set(item.id, this.#o.clock.now() + this.#o.retryBaseMs);
        this.#o.logger.error({ outboxId: item.id, kind: item.kind, orderNo: item.order_no, err }, 'outbox: the journal could not record a delivery attempt; trying again later');
      })
      .finally(() => {
        this.#busy.delete(item.id);
        this.#inFlight.delete(p);
        this.kick();
      });
    this.#inFlight.add(p);
  }

  async #attempt(item: OutboxRow): Promise<void> {
    const { journal, clock, logger } = this.#o;
    const maxAge = this.#o.maxAgeMs[item.kind] ?? DEFAULT_MAX_AGE_MS;
    const log = logger.child({ outboxId: item.id, kind: item.kind, orderNo: item.order_no, attempt: item.attempts + 1 });
    if (clock.now() - (item.revived_at ?? item.created_at) > maxAge) {
      const error = `older than ${Math.round(maxAge / 3600_000)} h without delivery (last error: ${item.last_error ?? 'none'})`;
      journal.outboxDead(item.id, clock.now(), error);
      log.error({ deadLetter: true, error }, 'outbox item moved to dead letters: needs a person');
      this.#o.onSettled?.(item, { kind: 'dead', error });
      return;
    }
    const handler = this.#o.handlers[item.kind];
    let result: DeliveryResult;
    try {
      result = handler ? await handler(item) : { kind: 'dead', error: `no handler for outbox kind "${item.kind}"` };
    } catch (e) {
      result = { kind: 'retry', error: e instanceof Error ? e.message : String(e) };
    }
    const now = clock.now();
    switch (result.kind) {
      case 'done':
        journal.outboxDone(item.id, now);
        log.info('outbox item delivered');
        break;
      case 'dead':
        journal.outboxDead(item.id, now, result.error);
        log.error({ deadLetter: true, error: result.error }, 'outbox item moved to dead letters: needs a person');
        break;
      case 'retry': {
        const wait = Math.max(backoff(item.attempts, this.#o.retryBaseMs, this.#o.retryMaxMs, this.#o.random), (result.notBefore ?? now) - now);
        journal.outboxAttemptFailed(item.id, now, result.error, now + wait);
        log.warn({ error: result.error, retryInMs: wait }, 'outbox delivery failed; will retry');
        return;
      }
    }
    this.#o.onSettled?.(item, result);
  }
}
