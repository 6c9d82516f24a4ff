/**
 * Model-based test: random customers, random faults on every call, random cashier cancels
 * and agent restarts, against the wallet model as the acquirer. Whatever happens, every
 * payment must end final, charged exactly once if the agent says paid, and charged zero
 * (net) otherwise; nobody is ever charged twice.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine, type PaymentView } from '../../agent/payment/engine.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { ModelAcquirer, type ModelFault } from '../../simulator/backend/model-acquirer.ts';
import { WalletModel, type Behaviour } from '../../simulator/backend/wallet-model.ts';

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.constant({ kind: 'instant' as const }),
  fc.integer({ min: 1, max: 90 }).map((seconds) => ({ kind: 'password' as const, seconds })),
  fc.constant({ kind: 'walkaway' as const }),
  fc.constantFrom({ kind: 'insufficient' as const }, { kind: 'expired' as const }, { kind: 'invalid' as const }),
);

const fault: fc.Arbitrary<ModelFault> = fc.constantFrom('none', 'none', 'not-sent', 'reset', 'lost-response', 'system-error');

const scenario = fc.record({
  wallet: fc.constantFrom<Wallet>('wechat', 'alipay', 'unionpay', 'ecny'),
  behaviour,
  amount: fc.integer({ min: 1, max: 500_000 }),
  /** Faults met by the first calls, in order; after them the network is clean. */
  faults: fc.array(fault, { maxLength: 40 }),
  /** Cashier cancels and agent restarts, at times in ms after the start. */
  interruptions: fc.array(fc.record({ at: fc.integer({ min: 0, max: 120_000 }), kind: fc.constantFrom('cancel', 'restart') }), { maxLength: 4 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function run(s: Scenario, dir: string) {
  const clock = new ManualClock(1_700_000_000_000);
  const model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 7 * 24 * 3600_000 });
  const faults = [...s.faults];
  const acquirer = new ModelAcquirer(model, () => faults.shift() ?? 'none');
  const path = join(dir, `j-${Math.random().toString(36).slice(2)}.db`);
  const told: PaymentView[] = [];
  const open = () => {
    const journal = Journal.open(path);
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5 });
    engine.onChange((v) => told.push(v));
    engine.start();
    return { journal, engine };
  };
  let { journal, engine } = open();
  const start = clock.now();
  const code = model.issueCode(s.wallet, s.behaviour).code;
  const { orderNo } = engine.pay({ amount: s.amount, paymentCode: code });
  const pending = [...s.interruptions].sort((a, b) => a.at - b.at).map((i) => ({ ...i, at: start + i.at }));

  const settled = () => journal.unfinished().length === 0 && journal.outbox('pending').length === 0;
  for (let step = 0; step < 5_000; step++) {
    await engine.idle();
    if (settled() && pending.length === 0) break;
    const nextTimer = clock.nextAt();
    const next = pending[0];
    if (next && (nextTimer === undefined || next.at <= nextTimer)) {
      pending.shift();
      clock.advanceTo(next.at);
      if (next.kind === 'restart') {
        await engine.stop();
        journal.close();
        ({ journal, engine } = open());
      } else if (!engine.get(orderNo).outcome) {
        engine.cancel(orderNo);
      }
    } else if (!clock.advanceToNext()) {
      break;
    }
  }
  const final = engine.get(orderNo);
  const outboxLeft = journal.outbox('pending').length + journal.outbox('dead').length;
  await engine.stop();
  journal.close();
  const entries = model.ledger().filter((e) => e.orderNo === orderNo);
  return {
    final,
    told,
    outboxLeft,
    charges: entries.filter((e) => e.kind === 'charge').length,
    net: entries.reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0),
    audit: model.audit(),
  };
}

describe('payment engine against the acquirer model', () => {
  it('always ends final, charged once when paid and zero otherwise, never twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-model-'));
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const r = await run(s, dir);
          expect(r.final.outcome, `left in ${r.final.state}`).not.toBeNull();
          expect(r.outboxLeft).toBe(0);
          expect(r.charges).toBeLessThanOrEqual(1);
          expect(r.audit.doubleCharges).toEqual([]);
          if (r.final.outcome === 'paid') expect(r.net).toBe(s.amount);
          else expect(r.net).toBe(0);
          // "Paid" is said only once it is true, and never taken back.
          const paidAt = r.told.findIndex((v) => v.state === 'paid');
          if (paidAt >= 0) expect(r.told.slice(paidAt).every((v) => v.outcome === 'paid')).toBe(true);
          expect(r.final.outcome === 'paid').toBe(paidAt >= 0);
        }),
        { numRuns: 150 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
