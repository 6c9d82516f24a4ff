/**
 * Delivers the outbox: follow-ups (reversals, refunds, later uploads) that must reach the
 * backend eventually, across restarts. Each item has its own schedule, so one that keeps
 * failing only delays itself (jPOS's store-and-forward blocks behind a poison entry; this
 * does not). Items older than their kind's maximum age become dead letters, loudly;
 * except the kinds that give a customer's money back, which raise an alarm and go on.
 *
 * Neither schedules nor ages trust the wall clock, which a technician or a bad NTP server
 * can move by days. Ages are measured on the monotonic clock and written back at every
 * attempt (`age_ms`), so they survive restarts (time the agent was stopped does not count).
 * Schedules are stored as wall time (`next_attempt_at`), and a kick reads only the few
 * items due soonest through the outbox_due index, never the whole queue: while the wall
 * clock keeps step with the monotonic one, the stored time says when an item is due. Only
 * the items whose stored time it cannot be trusted for are scheduled in memory, on the
 * monotonic clock: those written before the clock jumped in this run, and those whose last
 * attempt is in the clock's future at start (the clock went back: due now).
 */
import { elapsedNow, type Clock } from '../clock.ts';
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
  /**
   * Kinds that undo or give back a charge (a reversal, a refund): past their maximum age
   * they raise an alarm (`overdue_at`, an error log, `onOverdue`) and are tried on, never
   * dead-lettered on age alone: a dead letter would leave the customer charged.
   */
  keepTrying?: readonly string[];
  /** Told once when an item of a `keepTrying` kind passes its maximum age. */
  onOverdue?: (item: OutboxRow) => void;
  /** Items delivered at the same time; the rest wait for a free slot, not for each other's backoff. */
  concurrency?: number;
  random?: () => number;
  /** Told about every item that ends (done or dead), so payment views can update. */
  onSettled?: (item: OutboxRow, result: DeliveryResult) => void;
}

const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * How far the wall clock may move against the monotonic one before it counts as a jump:
 * more than the drift NTP slewing and timer jitter cause between two kicks, less than any
 * backoff that matters.
 */
const JUMP_MS = 1_000;

export class OutboxWorker {
  readonly #o: Required<Omit<OutboxWorkerOptions, 'onSettled' | 'onOverdue'>> & Pick<OutboxWorkerOptions, 'onSettled' | 'onOverdue'>;
  readonly #busy = new Set<number>();
  /** Items whose stored schedule the wall clock cannot be trusted for: when each is due, on the monotonic clock. */
  readonly #shifted = new Map<number, number>();
  /** Wall minus monotonic time when the worker last looked; undefined until its first kick. */
  #offset: number | undefined;
  /** Monotonic reading up to which each item's age has been counted into its `age_ms`. */
  readonly #counted = new Map<number, number>();
  /** Items whose attempt the journal could not record, left alone until the (monotonic) time given. */
  readonly #resting = new Map<number, number>();
  #timer: unknown;
  #timerAt: number | undefined;
  #running = false;
  #inFlight = new Set<Promise<void>>();

  constructor(o: OutboxWorkerOptions) {
    this.#o = { retryBaseMs: 1_000, retryMaxMs: 60_000, maxAgeMs: {}, keepTrying: [], concurrency: 4, random: Math.random, ...o };
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
    const mono = elapsedNow(this.#o.clock);
    const now = this.#o.clock.now();
    this.#noticeJump(now, mono);
    for (const [id, until] of this.#resting) if (until <= mono) this.#resting.delete(id);
    let next = Math.min(Number.POSITIVE_INFINITY, ...this.#resting.values());
    const free = this.#o.concurrency - this.#busy.size;
    // With every slot taken, the next finishing delivery kicks again; items under way or
    // resting are left out, or their stale due time would spin the timer.
    if (free > 0) {
      // As many as there are free slots: when all are due, every slot is taken and no timer is needed.
      const skip = [...this.#busy, ...this.#resting.keys(), ...this.#shifted.keys()];
      const waiting: Array<{ id: number; at: number; item?: OutboxRow }> = this.#o.journal
        .dueOutbox(free, skip)
        .map((item) => ({ id: item.id, at: mono + item.next_attempt_at - now, item }));
      for (const [id, at] of this.#shifted) if (!this.#busy.has(id) && !this.#resting.has(id)) waiting.push({ id, at });
      // Stable: at equal times the journal's order, then the memory schedule's.
      waiting.sort((a, b) => a.at - b.at);
      let started = 0;
      for (const w of waiting) {
        if (started === free) break;
        if (w.at > mono) {
          next = Math.min(next, w.at);
          break;
        }
        const item = w.item ?? this.#shiftedItem(w.id);
        if (item) {
          this.#deliver(item);
          started++;
        }
      }
    }
    this.#schedule(next === Number.POSITIVE_INFINITY ? undefined : next, mono);
  }

  /**
   * Moves to the memory schedule the items whose stored time the wall clock can no longer
   * be trusted for: at the first kick, those last written in the clock's future (it went
   * back: due now); after a jump, those written before it (due when they were, on the
   * monotonic clock). Reads the whole queue, but only then.
   */
  #noticeJump(now: number, mono: number): void {
    const before = this.#offset;
    this.#offset = now - mono;
    if (before !== undefined && Math.abs(this.#offset - before) <= JUMP_MS) return;
    for (const item of this.#o.journal.outbox('pending')) {
      if (this.#shifted.has(item.id)) continue;
      const wrote = Math.max(item.last_attempt_at ?? item.created_at, item.revived_at ?? 0);
      if (before === undefined) {
        if (wrote > now) this.#shifted.set(item.id, mono);
      } else if (wrote - before <= mono) {
        // Written in the monotonic future on the old clock: written since the jump, on the new one.
        this.#shifted.set(item.id, item.next_attempt_at - before);
      }
    }
  }

  /** A due item of the memory schedule, read again: one someone else ended meanwhile is forgotten. */
  #shiftedItem(id: number): OutboxRow | undefined {
    const item = this.#o.journal.getOutboxItem(id);
    if (item?.status === 'pending') return item;
    this.#shifted.delete(id);
    return undefined;
  }

  #schedule(next: number | undefined, mono: number): void {
    if (next === undefined || !this.#running) return this.#clearTimer();
    const at = Math.max(next, mono);
    if (this.#timerAt !== undefined && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.kick();
    }, at - mono);
  }

  /** The item's age: what earlier attempts recorded, plus the time this run has watched it since. */
  #age(item: OutboxRow, mono: number): number {
    if (!this.#counted.has(item.id)) this.#counted.set(item.id, mono);
    return item.age_ms + (mono - this.#counted.get(item.id)!);
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
        this.#resting.set(item.id, elapsedNow(this.#o.clock) + this.#o.retryBaseMs);
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
    const age = this.#age(item, elapsedNow(clock));
    if (age > maxAge) {
      const error = `older than ${Math.round(maxAge / 3600_000)} h without delivery (last error: ${item.last_error ?? 'none'})`;
      if (!this.#o.keepTrying.includes(item.kind)) {
        journal.outboxDead(item.id, clock.now(), error);
        this.#forget(item.id);
        log.error({ deadLetter: true, error }, 'outbox item moved to dead letters: needs a person');
        this.#o.onSettled?.(item, { kind: 'dead', error });
        return;
      }
      if (item.overdue_at === null) {
        journal.outboxOverdue(item.id, clock.now(), age);
        log.error({ overdue: true, error }, 'outbox item overdue: the customer may still be charged; still trying, needs a person');
        this.#o.onOverdue?.(journal.getOutboxItem(item.id) ?? item);
      }
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
        const mono = elapsedNow(clock);
        const ageMs = this.#age(item, mono);
        journal.outboxAttemptFailed(item.id, now, result.error, now + wait, ageMs);
        this.#counted.set(item.id, mono);
        // Written on the clock as the worker last saw it: the stored time holds. Written
        // after a jump the next kick has yet to notice: kept in memory, as the rest will be.
        if (this.#offset !== undefined && Math.abs(now - mono - this.#offset) <= JUMP_MS) this.#shifted.delete(item.id);
        else this.#shifted.set(item.id, mono + wait);
        log.warn({ error: result.error, retryInMs: wait }, 'outbox delivery failed; will retry');
        return;
      }
    }
    this.#forget(item.id);
    this.#o.onSettled?.(item, result);
  }

  #forget(id: number): void {
    this.#shifted.delete(id);
    this.#counted.delete(id);
  }
}
