/**
 * The agent as the benchmarks run it: the real journal (SQLite, synchronous=FULL) in a
 * temporary directory, the real HTTP acquirer client and the real payment engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Acquirer } from '../agent/backend/acquirer.ts';
import { HttpAcquirer } from '../agent/backend/http-acquirer.ts';
import { systemClock, type Clock } from '../agent/clock.ts';
import { Journal } from '../agent/journal/journal.ts';
import { PaymentEngine, type PaymentView } from '../agent/payment/engine.ts';
import type { ProfileOverrides } from '../agent/payment/profiles.ts';
import { DEMO_TERMINAL } from '../simulator/backend/demo-terminal.ts';

export interface AgentUnderTest {
  engine: PaymentEngine;
  journal: Journal;
  dir: string;
  /** Resolves with the payment's view once it is final. */
  finished(orderNo: string): Promise<PaymentView>;
  close(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'scanpay-bench-'));
}

export function httpAcquirer(url: string, clock: Clock = systemClock): HttpAcquirer {
  return new HttpAcquirer({ baseUrl: url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock });
}

export function openAgent(o: { acquirer: Acquirer; clock?: Clock; profiles?: ProfileOverrides; dir?: string; outboxConcurrency?: number }): AgentUnderTest {
  const dir = o.dir ?? tempDir();
  const clock = o.clock ?? systemClock;
  const journal = Journal.open(join(dir, 'journal.db'));
  const engine = new PaymentEngine({
    journal,
    acquirer: o.acquirer,
    clock,
    terminalId: DEMO_TERMINAL.terminalId,
    ...(o.profiles ? { profiles: o.profiles } : {}),
    ...(o.outboxConcurrency ? { outbox: { concurrency: o.outboxConcurrency } } : {}),
  });
  // One listener resolves every waiter: engine.waitFinal adds a listener per payment.
  const waiters = new Map<string, (v: PaymentView) => void>();
  engine.onChange((v) => {
    if (v.outcome === null) return;
    waiters.get(v.orderNo)?.(v);
    waiters.delete(v.orderNo);
  });
  engine.start();
  return {
    engine,
    journal,
    dir,
    finished(orderNo) {
      const v = engine.get(orderNo);
      if (v.outcome !== null) return Promise.resolve(v);
      return new Promise((resolve) => waiters.set(orderNo, resolve));
    },
    async close() {
      await engine.stop();
      journal.close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A distinct, well-formed WeChat payment code per payment (18 digits, prefix 13). */
export function wechatCode(i: number, run = 0): string {
  return `13${String(run).padStart(2, '0')}${String(i).padStart(14, '0')}`;
}
