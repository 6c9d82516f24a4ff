/**
 * The engine against the wallet model under acquirer rules other than protocol v1's, and
 * the restart of a payment that waited for the network, on a manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import type { AcquirerProfile } from '../../agent/backend/acquirer-profile.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { DEFAULT_PROFILES } from '../../agent/payment/profiles.ts';
import { ModelAcquirer, type ModelFault } from '../../simulator/backend/model-acquirer.ts';
import { RULE_PROFILES, walletRulesFor } from '../../simulator/backend/rule-profiles.ts';
import { WalletModel } from '../../simulator/backend/wallet-model.ts';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'scanpay-profiles-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function rig(profile: AcquirerProfile, faults: ModelFault[] = []) {
  const clock = new ManualClock(1_700_000_000_000);
  const model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 7 * 86_400_000, rules: walletRulesFor(profile) });
  const acquirer = new ModelAcquirer(model, () => faults.shift() ?? 'none');
  const path = join(dir, 'j.db');
  let journal = Journal.open(path);
  let engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5, acquirerProfile: profile });
  engine.start();
  const restart = async () => {
    await engine.stop();
    journal.close();
    journal = Journal.open(path);
    engine = new PaymentEngine({ journal, acquirer, clock, terminalId: 'T1', random: () => 0.5, acquirerProfile: profile });
    engine.start();
  };
  /** Moves time timer by timer until `until` holds or nothing is left to do. */
  const drive = async (until: () => boolean, limitAt = clock.now() + 600_000) => {
    for (let i = 0; i < 2_000; i++) {
      await engine.idle();
      if (until()) return;
      const next = clock.nextAt();
      if (next === undefined || next > limitAt) return;
      clock.advanceTo(next);
    }
  };
  return { clock, model, acquirer, get engine() { return engine; }, restart, drive };
}

describe('payments under other acquirers\' rules', () => {
  it('wechat-like: a cashier cancel a second after the pay waits for the earliest reverse, then reverses, charged zero', async () => {
    const r = rig(RULE_PROFILES['wechat-like']);
    const code = r.model.issueCode('wechat', { kind: 'password', seconds: 30 }).code;
    const start = r.clock.now();
    const p = r.engine.pay({ amount: 800, paymentCode: code });
    await r.drive(() => r.engine.get(p.orderNo).state === 'querying');
    r.clock.advanceTo(start + 1_000);
    r.engine.cancel(p.orderNo);
    await r.engine.idle();
    expect(r.engine.get(p.orderNo).cause).toMatch(/no reverse sooner than 15 s.*about 14 s/);
    await r.drive(() => r.engine.get(p.orderNo).outcome !== null);
    const reverses = r.acquirer.calls.filter((c) => c.op === 'reverse');
    expect(r.model.breaches()).toEqual([]);
    expect(reverses.length).toBeGreaterThan(0);
    expect(r.engine.get(p.orderNo).outcome).toBe('reversed');
    expect(r.model.order(p.orderNo)!.net).toBe(0);
  });

  it('upay-like: a pay that never arrived is not taken as reversed on "no such order" until its code has expired', async () => {
    // The pay is cut before the acquirer sees it; queries find nothing; the reverse finds nothing.
    const r = rig(RULE_PROFILES['upay-like'], ['reset']);
    const code = r.model.issueCode('wechat', { kind: 'instant' }).code;
    const p = r.engine.pay({ amount: 500, paymentCode: code });
    await r.drive(() => r.engine.get(p.orderNo).state === 'reversing');
    await r.drive(() => r.engine.get(p.orderNo).outcome !== null || /code expires/.test(r.engine.get(p.orderNo).cause));
    expect(r.engine.get(p.orderNo).outcome).toBeNull();
    await r.drive(() => r.engine.get(p.orderNo).outcome !== null);
    const v = r.engine.get(p.orderNo);
    expect(v.outcome).toBe('reversed');
    expect(v.finalAt! - v.createdAt).toBeGreaterThanOrEqual(DEFAULT_PROFILES.wechat.codeTtlMs);
    expect(r.model.order(p.orderNo)).toBeUndefined();
  });

  it('a payment restarted while it waited for the network keeps its wait instead of resending at once', async () => {
    const r = rig(RULE_PROFILES.v1, ['not-sent']);
    const code = r.model.issueCode('wechat', { kind: 'instant' }).code;
    const start = r.clock.now();
    const p = r.engine.pay({ amount: 300, paymentCode: code });
    await r.engine.idle();
    expect(r.engine.get(p.orderNo).state).toBe('waiting_network');
    r.clock.advanceTo(start + 500);
    await r.restart();
    await r.drive(() => r.engine.get(p.orderNo).outcome !== null);
    const pays = r.acquirer.calls.filter((c) => c.op === 'pay');
    expect(pays).toHaveLength(2);
    expect(r.engine.get(p.orderNo).outcome).toBe('paid');
    expect(r.engine.get(p.orderNo).finalAt! - start).toBe(DEFAULT_PROFILES.wechat.networkRetryMs);
  });
});
