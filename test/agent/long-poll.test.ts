/**
 * The engine's side of the query long-poll: against a gateway that holds, "paid" comes at
 * the instant the customer confirms; against one that ignores waitMs, the wallet's
 * schedule still applies, unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { ModelAcquirer } from '../../simulator/backend/model-acquirer.ts';
import { WalletModel } from '../../simulator/backend/wallet-model.ts';
import { createRig, type Rig } from '../support/payment-rig.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('query long-poll', () => {
  it('a holding gateway: paid at the moment the customer confirms, with one query', async () => {
    rig = await createRig();
    const code = rig.backend.sim.issueCode('wechat', { kind: 'password', seconds: 12 });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('paid');
    // Simulated time: the held query is answered at the confirmation itself, not at a later tick.
    expect(p.finalAt! - p.createdAt).toBe(12_000);
    const queries = rig.backend.sim.calls().filter((c) => c.op === 'query');
    expect(queries).toHaveLength(1);
    expect(queries[0]!.at - p.createdAt).toBe(5_000);
  });

  it('a customer who never confirms: held queries fill the window, fewer than the plain schedule, then a reversal at the deadline', async () => {
    rig = await createRig();
    const code = rig.backend.sim.issueCode('wechat', { kind: 'walkaway' });
    const p = await rig.payAndFinish(code);
    expect(p.outcome).toBe('reversed');
    const calls = rig.backend.sim.calls();
    expect(calls.filter((c) => c.op === 'query').map((c) => c.at - p.createdAt)).toEqual([5_000, 25_000]);
    expect(calls.find((c) => c.op === 'reverse')!.at - p.createdAt).toBe(45_000);
  });

  it('a gateway that ignores waitMs: the wallet schedule, paid at the next query', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-lp-'));
    const clock = new ManualClock();
    const model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 86_400_000 });
    const acquirer = new ModelAcquirer(model);
    const journal = Journal.open(join(dir, 'j.db'));
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5 });
    try {
      engine.start();
      const p = engine.pay({ amount: 1234, paymentCode: model.issueCode('wechat', { kind: 'password', seconds: 12 }).code });
      for (let i = 0; i < 50 && engine.get(p.orderNo).outcome === null; i++) {
        await engine.idle();
        clock.advanceToNext();
      }
      await engine.idle();
      const done = engine.get(p.orderNo);
      expect(done.outcome).toBe('paid');
      expect(done.finalAt! - done.createdAt).toBe(15_000);
      expect(acquirer.calls.filter((c) => c.op === 'query')).toHaveLength(2);
    } finally {
      await engine.stop();
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
