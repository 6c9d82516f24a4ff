import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { Journal, type OutboxRow } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { OutboxWorker, type DeliveryResult } from '../../agent/outbox/outbox-worker.ts';
import { fillDisk } from '../support/journal-faults.ts';

let dir: string;
let journal: Journal;
let clock: ManualClock;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-outbox-'));
  journal = Journal.open(join(dir, 'j.db'));
  clock = new ManualClock(1_000_000);
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const settle = () => new Promise((r) => setImmediate(r));

function worker(handler: (item: OutboxRow) => Promise<DeliveryResult>, extra: Partial<ConstructorParameters<typeof OutboxWorker>[0]> = {}) {
  return new OutboxWorker({ journal, clock, logger: silentLogger, handlers: { test: handler }, random: () => 0.5, retryBaseMs: 1_000, retryMaxMs: 8_000, ...extra });
}

const enqueue = (key: string) => journal.enqueue({ kind: 'test', dedupeKey: key, payload: { key }, at: clock.now() });

async function runFor(ms: number) {
  const end = clock.now() + ms;
  for (;;) {
    await settle();
    const next = clock.nextAt();
    if (next === undefined || next > end) break;
    clock.advanceTo(next);
  }
  clock.advanceTo(end);
  await settle();
}

describe('outbox worker', () => {
  it('a poison item never blocks the items behind it', async () => {
    enqueue('poison');
    enqueue('a');
    enqueue('b');
    const delivered: string[] = [];
    const w = worker(async (item) => {
      const { key } = JSON.parse(item.payload) as { key: string };
      if (key === 'poison') return { kind: 'retry', error: 'backend keeps refusing this one' };
      delivered.push(key);
      return { kind: 'done' };
    }, { concurrency: 1 });
    w.start();
    await runFor(30_000);
    expect(delivered).toEqual(['a', 'b']);
    const poison = journal.outbox('pending');
    expect(poison).toHaveLength(1);
    expect(poison[0]!.attempts).toBeGreaterThan(3);
    expect(poison[0]!.last_error).toMatch(/keeps refusing/);
    await w.stop();
  });

  it('backs off exponentially per item, up to the maximum', async () => {
    enqueue('x');
    const times: number[] = [];
    const w = worker(async () => {
      times.push(clock.now() - 1_000_000);
      return { kind: 'retry', error: 'down' };
    });
    w.start();
    await runFor(40_000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Full jitter fixed at 0.5: waits are half the doubling cap (1 s, 2 s, 4 s, 8 s max).
    expect(gaps.slice(0, 5)).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    await w.stop();
  });

  it('spreads retries over the whole window (full jitter), not its upper half', async () => {
    enqueue('x');
    const draws = [0, 0.999, 0.25];
    const times: number[] = [];
    const w = worker(
      async () => {
        times.push(clock.now() - 1_000_000);
        return { kind: 'retry', error: 'down' };
      },
      { random: () => draws.shift() ?? 0.5 },
    );
    w.start();
    await runFor(10_000);
    const gaps = times.slice(1, 4).map((t, i) => t - times[i]!);
    // Caps 1 s, 2 s, 4 s: a draw of 0 retries at once, 0.999 at the cap.
    expect(gaps).toEqual([0, 1_998, 1_000]);
    await w.stop();
  });

  it('waits for the time the acquirer allows when a delivery names one', async () => {
    enqueue('x');
    const times: number[] = [];
    const w = worker(async () => {
      times.push(clock.now() - 1_000_000);
      return times.length === 1 ? { kind: 'retry', error: 'too soon', notBefore: clock.now() + 15_000 } : { kind: 'done' };
    });
    w.start();
    await runFor(30_000);
    expect(times[1]! - times[0]!).toBe(15_000);
    await w.stop();
  });

  it('survives a restart: a new worker on the same journal delivers what the old one could not', async () => {
    enqueue('persist');
    const first = worker(async () => ({ kind: 'retry', error: 'down' }));
    first.start();
    await runFor(5_000);
    await first.stop();
    journal.close();
    journal = Journal.open(join(dir, 'j.db'));
    const delivered: string[] = [];
    const second = worker(async (item) => (delivered.push(item.dedupe_key), { kind: 'done' }));
    second.start();
    await runFor(10_000);
    expect(delivered).toEqual(['persist']);
    expect(journal.outbox('done')).toHaveLength(1);
    await second.stop();
  });

  it('moves an item past its maximum age to the dead letters, loudly, and a technician can retry it', async () => {
    enqueue('old');
    const lines: string[] = [];
    const logger = { ...silentLogger, child: () => ({ error: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`), warn: () => {}, info: () => {} }) };
    let succeed = false;
    const w = worker(async () => (succeed ? { kind: 'done' } : { kind: 'retry', error: 'down' }), {
      maxAgeMs: { test: 20_000 },
      logger: logger as never,
    });
    w.start();
    await runFor(60_000);
    const dead = journal.outbox('dead');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.last_error).toMatch(/older than/);
    expect(lines.some((l) => l.includes('dead letters') && l.includes('"deadLetter":true'))).toBe(true);
    // The dead letter is not tried again on its own...
    const attempts = dead[0]!.attempts;
    await runFor(60_000);
    expect(journal.outbox('dead')[0]!.attempts).toBe(attempts);
    // ...until a technician retries it: a fresh window, and this time it goes through.
    succeed = true;
    expect(journal.outboxRetryNow(dead[0]!.id, clock.now())).toBe(true);
    w.kick();
    await runFor(1_000);
    expect(journal.outbox('done')).toHaveLength(1);
    await w.stop();
  });

  describe('a wrong wall clock (issue 12)', () => {
    const day = 24 * 3600_000;

    it('clock 8 days ahead with a reversal queued: no dead letter; delivered once the backend answers, before and after the clock is fixed', async () => {
      journal.enqueue({ kind: 'reverse', orderNo: 'O1', dedupeKey: 'reverse:O1', payload: {}, at: clock.now() });
      let up = false;
      const w = new OutboxWorker({ journal, clock, logger: silentLogger, handlers: { reverse: async () => (up ? { kind: 'done' } : { kind: 'retry', error: 'down' }) }, random: () => 0.5, retryBaseMs: 1_000, retryMaxMs: 8_000, maxAgeMs: { reverse: 7 * day }, keepTrying: ['reverse'] });
      w.start();
      await runFor(5_000);
      clock.jump(8 * day);
      await runFor(20_000);
      expect(journal.outbox('dead')).toEqual([]);
      expect(journal.outbox('pending')[0]!.overdue_at).toBeNull();
      clock.jump(-8 * day);
      await w.stop();
      // The agent restarts on the fixed clock: still pending, still tried, delivered.
      up = true;
      const again = new OutboxWorker({ journal, clock, logger: silentLogger, handlers: { reverse: async () => ({ kind: 'done' }) }, maxAgeMs: { reverse: 7 * day }, keepTrying: ['reverse'] });
      again.start();
      await runFor(10_000);
      expect(journal.outbox('done')).toHaveLength(1);
      await again.stop();
    });

    it('an upload is not dead-lettered by a clock jump either: its age is elapsed time', async () => {
      enqueue('upload');
      const w = worker(async () => ({ kind: 'retry', error: 'down' }), { maxAgeMs: { test: 3_600_000 } });
      w.start();
      await runFor(5_000);
      clock.jump(8 * day);
      await runFor(20_000);
      expect(journal.outbox('dead')).toEqual([]);
      expect(journal.outbox('pending')[0]!.age_ms).toBeLessThan(60_000);
      await w.stop();
    });

    it('clock 1 h ahead, then corrected: retries keep their backoff, in the same run and after a restart', async () => {
      enqueue('ahead');
      const tries: number[] = [];
      const w = worker(async () => (tries.push(clock.monotonic()), { kind: 'retry', error: 'down' }));
      w.start();
      await runFor(100);
      clock.jump(3_600_000);
      await runFor(2_000);
      const before = tries.length;
      clock.jump(-3_600_000);
      // Backoff caps at 8 s: within 20 s of the correction the item is tried again, not an hour later.
      await runFor(20_000);
      expect(tries.length).toBeGreaterThan(before);
      await w.stop();
      // Stopped while the clock was ahead; restarted after it was fixed: tried at once.
      clock.jump(3_600_000);
      const w2 = worker(async () => ({ kind: 'retry', error: 'down' }));
      w2.start();
      await runFor(1_000);
      await w2.stop();
      clock.jump(-3_600_000);
      const attempts = journal.outbox('pending')[0]!.attempts;
      const w3 = worker(async () => ({ kind: 'done' }));
      w3.start();
      await runFor(1_000);
      expect(journal.outbox('done')).toHaveLength(1);
      expect(journal.outbox('done')[0]!.attempts).toBe(attempts + 1);
      await w3.stop();
    });

    it('clock 8 days ahead mid-backoff: each item is tried when its backoff ends, not at once, and an item queued after the jump at once', async () => {
      enqueue('a');
      const tries: Array<[string, number]> = [];
      const w = worker(async (item) => (tries.push([item.dedupe_key, clock.monotonic() - 1_000_000]), { kind: 'retry', error: 'down' }), {
        random: () => 0.999,
      });
      w.start();
      await runFor(1_500);
      // Tried at 0 and, after a 1 s backoff, at 999; the next wait is just under 2 s.
      expect(tries).toEqual([['a', 0], ['a', 999]]);
      clock.jump(8 * day);
      enqueue('b');
      w.kick();
      await runFor(1_000);
      // 'b' at once and after its own first backoff; 'a' not before its backoff ends (2997).
      expect(tries.slice(2)).toEqual([['b', 1_500], ['b', 2_499]]);
      await runFor(1_000);
      expect(tries.slice(4)).toEqual([['a', 2_997]]);
      clock.jump(-8 * day);
      await runFor(3_990);
      // Back again: the backoffs written on the wrong clock hold as if it had never moved.
      expect(tries.slice(5)).toEqual([['b', 4_497], ['a', 6_993]]);
      await w.stop();
    });

    it('clock put back 1 h while a delivery is under way: its retry keeps its backoff', async () => {
      enqueue('x');
      const tries: number[] = [];
      let answer!: (r: DeliveryResult) => void;
      const w = worker((): Promise<DeliveryResult> => (tries.push(clock.monotonic() - 1_000_000), tries.length === 1 ? new Promise((r) => (answer = r)) : Promise.resolve({ kind: 'retry', error: 'down' })), {
        random: () => 0.999,
      });
      w.start();
      await settle();
      clock.jump(-3_600_000);
      answer({ kind: 'retry', error: 'down' });
      await runFor(1_500);
      expect(tries).toEqual([0, 999]);
      await w.stop();
    });

    it('after a jump, an item waiting on the monotonic clock that someone else ends is not tried again; one a technician retries is', async () => {
      enqueue('ended');
      enqueue('revived');
      const tries: Array<[string, number]> = [];
      let up = false;
      const w = worker(async (item) => (tries.push([item.dedupe_key, clock.monotonic() - 1_000_000]), up ? { kind: 'done' } : { kind: 'retry', error: 'down' }), { random: () => 0.999 });
      w.start();
      await runFor(1_500);
      clock.jump(8 * day);
      w.kick();
      const [ended, revived] = journal.outbox('pending');
      journal.outboxDone(ended!.id, clock.now());
      expect(journal.outboxRetryNow(revived!.id, clock.now())).toBe(true);
      up = true;
      w.kick();
      await runFor(5_000);
      await w.stop();
      expect(tries.slice(4).map(([key]) => key)).toEqual(['revived']);
      expect(journal.outbox('done')).toHaveLength(2);
    });

    it('the age survives restarts: two runs of 15 s each pass a 20 s maximum', async () => {
      enqueue('slow');
      const first = worker(async () => ({ kind: 'retry', error: 'down' }), { maxAgeMs: { test: 20_000 } });
      first.start();
      await runFor(15_000);
      await first.stop();
      expect(journal.outbox('pending')).toHaveLength(1);
      const second = worker(async () => ({ kind: 'retry', error: 'down' }), { maxAgeMs: { test: 20_000 } });
      second.start();
      await runFor(15_000);
      expect(journal.outbox('dead')).toHaveLength(1);
      await second.stop();
    });
  });

  it('a reversal past its maximum age is never a dead letter: one alarm, and it keeps trying until delivered', async () => {
    journal.enqueue({ kind: 'reverse', orderNo: 'O2', dedupeKey: 'reverse:O2', payload: {}, at: clock.now() });
    const overdue: OutboxRow[] = [];
    const lines: string[] = [];
    const logger = { ...silentLogger, child: () => ({ error: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`), warn: () => {}, info: () => {} }) };
    let attempts = 0;
    const w = new OutboxWorker({
      journal, clock, logger: logger as never, random: () => 0.5, retryBaseMs: 1_000, retryMaxMs: 8_000,
      handlers: { reverse: async () => (++attempts > 20 ? { kind: 'done' } : { kind: 'retry', error: 'down' }) },
      maxAgeMs: { reverse: 20_000 }, keepTrying: ['reverse'], onOverdue: (item) => overdue.push(item),
    });
    w.start();
    await runFor(60_000);
    expect(journal.outbox('dead')).toEqual([]);
    expect(overdue).toHaveLength(1);
    expect(overdue[0]!.overdue_at).not.toBeNull();
    expect(lines.filter((l) => l.includes('overdue'))).toHaveLength(1);
    await runFor(200_000);
    expect(journal.outbox('done')).toHaveLength(1);
    await w.stop();
  });

  it('a delivery that throws (the journal refused a write) is tried again, never dead-lettered for it', async () => {
    enqueue('x');
    let calls = 0;
    const w = worker(async () => {
      calls++;
      if (calls <= 3) throw new ScanpayError('JOURNAL_WRITE_FAILED', { message: 'journal write failed (SQLITE_FULL): nothing was sent' });
      return { kind: 'done' };
    });
    w.start();
    await runFor(1_000);
    // Between attempts: waiting, with the error that stopped the last one.
    expect(journal.outbox('pending')).toEqual([expect.objectContaining({ last_error: expect.stringContaining('SQLITE_FULL') })]);
    await runFor(5_000);
    await w.stop();
    expect(calls).toBe(4);
    expect(journal.outbox('dead')).toEqual([]);
    // Three failed attempts and the one that went through.
    expect(journal.outbox('done')).toEqual([expect.objectContaining({ dedupe_key: 'x', attempts: 4 })]);
  });

  it('never gives up on a count of attempts: a hundred failures, then delivered', async () => {
    enqueue('x');
    let calls = 0;
    const w = worker(async () => (++calls <= 100 ? { kind: 'retry', error: 'down' } : { kind: 'done' }), { retryMaxMs: 1_000 });
    w.start();
    await runFor(200_000);
    await w.stop();
    expect(calls).toBe(101);
    expect(journal.outbox('dead')).toEqual([]);
    expect(journal.outbox('done')).toHaveLength(1);
  });

  it('a journal that cannot record the attempt: the worker goes on, rests the item, delivers it once the disk is back', async () => {
    enqueue('x');
    let calls = 0;
    const w = worker(async () => (calls++, { kind: 'retry', error: 'down' }));
    const disk = fillDisk(journal);
    w.start();
    await runFor(2_500);
    // Tried once per rest (retryBaseMs), not in a loop; nothing was recorded.
    expect(calls).toBe(3);
    disk.restore();
    await runFor(2_000);
    expect(calls).toBeGreaterThan(3);
    expect(journal.outbox('pending')).toEqual([expect.objectContaining({ dedupe_key: 'x', attempts: calls - 3, last_error: 'down' })]);
    await w.stop();
  });

  it('an item of a kind nobody handles is a dead letter at once, said loudly, and its end is reported', async () => {
    journal.enqueue({ kind: 'mystery', dedupeKey: 'm', payload: {}, at: clock.now() });
    const lines: string[] = [];
    const settled: DeliveryResult[] = [];
    const logger = { ...silentLogger, child: () => ({ error: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`), warn: () => {}, info: () => {} }) };
    const w = worker(async () => ({ kind: 'done' }), { logger: logger as never, onSettled: (_item, r) => settled.push(r) });
    w.start();
    await runFor(1_000);
    await w.stop();
    expect(journal.outbox('dead')).toEqual([expect.objectContaining({ kind: 'mystery', last_error: 'no handler for outbox kind "mystery"' })]);
    expect(settled).toEqual([{ kind: 'dead', error: 'no handler for outbox kind "mystery"' }]);
    expect(lines).toEqual([expect.stringMatching(/^outbox item moved to dead letters: needs a person .*"deadLetter":true.*no handler/)]);
  });

  it('ages out at the maximum age, not a moment before, naming the last error; the default age is a week', async () => {
    enqueue('edge');
    const settled: DeliveryResult[] = [];
    const times: number[] = [];
    const w = worker(async () => (times.push(clock.now() - 1_000_000), { kind: 'retry', error: 'down', notBefore: 1_000_000 + 10_000 }), {
      maxAgeMs: { test: 10_000 },
      onSettled: (_item, r) => settled.push(r),
    });
    w.start();
    await runFor(10_000);
    // Exactly the maximum age: still tried.
    expect(times).toEqual([0, 10_000]);
    clock.advanceTo(clock.now() + 1);
    w.kick();
    await runFor(1_000);
    await w.stop();
    expect(times).toHaveLength(2);
    const dead = journal.outbox('dead');
    expect(dead[0]!.last_error).toBe('older than 0 h without delivery (last error: down)');
    expect(settled).toEqual([{ kind: 'dead', error: dead[0]!.last_error }]);

    enqueue('week');
    const w2 = worker(async () => ({ kind: 'retry', error: 'down', notBefore: clock.now() + 86_400_000 }), { retryMaxMs: 1_000 });
    w2.start();
    await runFor(6 * 86_400_000 + 1_000);
    expect(journal.outbox('pending').map((i) => i.dedupe_key)).toEqual(['week']);
    await runFor(2 * 86_400_000);
    await w2.stop();
    expect(journal.outbox('dead').map((i) => i.dedupe_key)).toContain('week');
  });

  it('stops: waits for the delivery under way, then delivers nothing more however long time runs', async () => {
    enqueue('a');
    enqueue('b');
    let release!: () => void;
    const delivered: string[] = [];
    const w = worker(
      (item) =>
        new Promise((resolve) => {
          release = () => (delivered.push(item.dedupe_key), resolve({ kind: 'done' }));
        }),
      { concurrency: 1 },
    );
    w.start();
    await settle();
    expect(w.busy).toBe(1);
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    let idle = false;
    void w.whenIdle().then(() => (idle = true));
    await settle();
    expect(stopped).toBe(false);
    expect(idle).toBe(false);
    release();
    await stopping;
    expect(idle).toBe(true);
    await runFor(60_000);
    expect(delivered).toEqual(['a']);
    expect(journal.outbox('pending').map((i) => i.dedupe_key)).toEqual(['b']);
  });

  it('delivers at most `concurrency` items at a time, and the rest as slots free', async () => {
    for (const k of ['a', 'b', 'c']) enqueue(k);
    const waiting: Array<() => void> = [];
    const started: string[] = [];
    const w = worker((item) => (started.push(item.dedupe_key), new Promise((resolve) => waiting.push(() => resolve({ kind: 'done' })))), { concurrency: 2 });
    w.start();
    await settle();
    expect(w.busy).toBe(2);
    // A kick (an enqueue, a technician's retry) with every slot taken starts nothing more.
    w.kick();
    await settle();
    expect(w.busy).toBe(2);
    expect(waiting).toHaveLength(2);
    waiting.shift()!();
    await settle();
    await settle();
    expect(waiting).toHaveLength(2);
    for (const done of waiting.splice(0)) done();
    await settle();
    await settle();
    await w.stop();
    // Each once: an item under way is never handed out again to the free slot.
    expect(started).toEqual(['a', 'b', 'c']);
    expect(journal.outbox('done')).toHaveLength(3);
  });

  it('a kick reads the few items due soonest, not the whole queue (10,000 queued reversals drain without rereading them)', async () => {
    // A wall clock that differs from the monotonic one, steadily: no jump.
    clock.jump(5_000);
    journal.atomically(() => {
      for (let i = 0; i < 60; i++) enqueue(`k${i}`);
    });
    const read = { full: 0, rows: 0, kicks: 0 };
    const j = journal as unknown as Record<string, (...a: unknown[]) => unknown>;
    let skipped = 0;
    for (const name of ['outbox', 'dueOutbox', 'getOutboxItem', 'pendingOutboxOf']) {
      const own = j[name]!.bind(journal);
      j[name] = (...a: unknown[]) => {
        const r = own(...a);
        if (name === 'outbox') read.full++;
        if (name === 'dueOutbox') skipped = Math.max(skipped, (a[1] as number[]).length);
        read.rows += Array.isArray(r) ? r.length : r ? 1 : 0;
        return r;
      };
    }
    const tried = new Set<string>();
    const w = worker(async (item) => (tried.has(item.dedupe_key) ? { kind: 'done' } : (tried.add(item.dedupe_key), { kind: 'retry', error: 'down', notBefore: clock.now() + 60_000 })), {
      concurrency: 2,
    });
    const kick = w.kick.bind(w);
    w.kick = () => (read.kicks++, kick());
    w.start();
    // The first look reads the queue once, for items last written in the clock's future.
    expect(read.full).toBe(1);
    read.rows = 0;
    await runFor(120_000);
    await w.stop();
    expect(journal.outbox('done')).toHaveLength(60);
    expect(read.full).toBe(2);
    // Each item tried twice, each attempt ending in a kick; each kick read a free slot's worth at most.
    expect(read.kicks).toBeGreaterThanOrEqual(120);
    expect(read.rows).toBeLessThanOrEqual(read.kicks * 2);
    // Nothing is kept in memory but the items under way.
    expect(skipped).toBeLessThanOrEqual(2);
  });

  it('enqueue is idempotent by dedupe key', () => {
    enqueue('same');
    enqueue('same');
    expect(journal.outbox()).toHaveLength(1);
  });

  describe('the schedule at its edges', () => {
    const day = 24 * 3600_000;

    it('kicked before start or after stop, it starts nothing; stopped or idle, it leaves no timer behind', async () => {
      enqueue('x');
      let calls = 0;
      const w = worker(async () => (calls++, { kind: 'retry', error: 'down' }));
      w.kick();
      await runFor(1_000);
      expect(calls).toBe(0);
      w.start();
      await settle();
      expect(calls).toBe(1);
      expect(clock.nextAt()).toBeDefined();
      await w.stop();
      expect(clock.nextAt()).toBeUndefined();
      w.kick();
      await runFor(60_000);
      expect(calls).toBe(1);
      journal.outboxDone(journal.outbox('pending')[0]!.id, clock.now());
      const idle = worker(async () => ({ kind: 'done' }));
      idle.start();
      await settle();
      expect(clock.nextAt()).toBeUndefined();
      await idle.stop();
    });

    it('an earlier retry re-arms a timer armed for a later one', async () => {
      enqueue('late');
      const tries: Array<[string, number]> = [];
      const w = worker(async (item) => (tries.push([item.dedupe_key, clock.monotonic() - 1_000_000]), { kind: 'retry', error: 'down', notBefore: item.dedupe_key === 'late' ? clock.now() + 10_000 : undefined }));
      w.start();
      await runFor(100);
      enqueue('soon');
      w.kick();
      await runFor(1_000);
      expect(tries).toEqual([['late', 0], ['soon', 100], ['soon', 600]]);
      await w.stop();
    });

    it('after a jump: no more than `concurrency` items in memory start, and one under way is not started twice', async () => {
      for (const k of ['a', 'b', 'c']) enqueue(k);
      const started: string[] = [];
      const hold = new Map<string, () => void>();
      let holding = false;
      const w = worker(
        (item) => {
          if (!holding) return Promise.resolve({ kind: 'retry', error: 'down' });
          started.push(item.dedupe_key);
          return new Promise((r) => hold.set(item.dedupe_key, () => r({ kind: 'done' })));
        },
        { concurrency: 2 },
      );
      w.start();
      // a, b, then c tried at 0, each due again at 500.
      await runFor(100);
      holding = true;
      clock.jump(8 * day);
      w.kick();
      await runFor(500);
      expect(started).toEqual(['a', 'b']);
      hold.get('b')!();
      await settle();
      await settle();
      expect(started).toEqual(['a', 'b', 'c']);
      hold.get('a')!();
      hold.get('c')!();
      await w.stop();
      expect(journal.outbox('done')).toHaveLength(3);
    });

    it('revived by a technician right after a jump, before any kick noticed it: tried at once', async () => {
      enqueue('x');
      const tries: number[] = [];
      const w = worker(async () => (tries.push(clock.monotonic() - 1_000_000), { kind: tries.length > 1 ? 'done' : 'retry', error: 'down', notBefore: clock.now() + 60_000 }) as DeliveryResult);
      w.start();
      await runFor(100);
      clock.jump(8 * day);
      expect(journal.outboxRetryNow(journal.outbox('pending')[0]!.id, clock.now())).toBe(true);
      w.kick();
      await runFor(100);
      expect(tries).toEqual([0, 100]);
      await w.stop();
    });

    it('clock put back in the very millisecond of a retry: that retry keeps its backoff', async () => {
      enqueue('x');
      const tries: number[] = [];
      const w = worker(async () => (tries.push(clock.monotonic() - 1_000_000), { kind: 'retry', error: 'down' }), { random: () => 0.999 });
      w.start();
      await settle();
      clock.jump(-3_600_000);
      w.kick();
      await runFor(1_500);
      expect(tries).toEqual([0, 999]);
      await w.stop();
    });

    it('an age already past the maximum when the agent starts: a dead letter before any delivery; an overdue reversal goes on without an onOverdue listener', async () => {
      const old = enqueue('old');
      journal.outboxAttemptFailed(old.id, clock.now(), 'down', clock.now(), 30_000);
      const fresh = enqueue('fresh');
      journal.outboxDone(fresh.id, clock.now());
      journal.enqueue({ kind: 'reverse', orderNo: 'O3', dedupeKey: 'reverse:O3', payload: {}, at: clock.now() });
      let calls = 0;
      const w = new OutboxWorker({
        journal, clock, logger: silentLogger, random: () => 0.5,
        handlers: { test: async () => (calls++, { kind: 'done' }), reverse: async () => (calls++, { kind: 'done' }) },
        maxAgeMs: { test: 20_000, reverse: -1 }, keepTrying: ['reverse'],
      });
      w.start();
      await settle();
      await settle();
      await w.stop();
      expect(journal.outbox('dead')).toEqual([expect.objectContaining({ dedupe_key: 'old', last_error: 'older than 0 h without delivery (last error: down)' })]);
      // Delivered at its first attempt, the alarm recorded.
      expect(calls).toBe(1);
      expect(journal.outbox('done').map((i) => [i.dedupe_key, i.overdue_at !== null])).toEqual([['fresh', false], ['reverse:O3', true]]);
      const never = enqueue('never');
      const w2 = worker(async () => ({ kind: 'done' }), { maxAgeMs: { test: -1 } });
      w2.start();
      await settle();
      await w2.stop();
      expect(journal.getOutboxItem(never.id)!.last_error).toBe('older than 0 h without delivery (last error: none)');
    });
  });
});
