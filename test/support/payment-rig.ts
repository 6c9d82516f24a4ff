/**
 * A terminal and a simulated acquirer on one manual clock: real HTTP on port 0, a real
 * SQLite journal in a temporary directory, the real engine. Time moves only when the rig
 * moves it, so a 45-second query schedule runs in milliseconds without sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { PaymentEngine, type PaymentView } from '../../agent/payment/engine.ts';
import type { EngineOptions } from '../../agent/payment/engine.ts';
import type { AcquirerProfile } from '../../agent/backend/acquirer-profile.ts';
import type { Logger } from '../../agent/log.ts';
import type { ProfileOverrides } from '../../agent/payment/profiles.ts';
import type { BackendOptions } from '../../simulator/backend/build-backend.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { settleCalls } from '../../simulator/scenarios/clock-driver.ts';
import { TrackedAcquirer } from '../../simulator/tracked-acquirer.ts';

export interface Rig {
  clock: ManualClock;
  backend: RunningBackend;
  engine: PaymentEngine;
  journal: Journal;
  dir: string;
  /** Every view the engine emitted, in order. */
  seen: PaymentView[];
  /** Lets answers land and moves the clock timer by timer until `until` holds. */
  drive(until: () => boolean, maxSteps?: number): Promise<void>;
  payAndFinish(code: string, amount?: number): Promise<PaymentView>;
  /**
   * Stops the engine and closes the journal, as a power cut would leave them, then starts a
   * new engine on the same file; `offForMs`: the device stays off that long in between.
   */
  restartAgent(o?: { offForMs?: number }): Promise<void>;
  close(): Promise<void>;
}

export async function createRig(
  o: {
    profiles?: ProfileOverrides;
    timeoutMs?: number;
    backend?: BackendOptions;
    outbox?: EngineOptions['outbox'];
    /** The acquirer's rules as the agent is told them (default protocol v1's); the backend's are set under `backend.rules`. */
    acquirerProfile?: AcquirerProfile;
    logger?: Logger;
    /** The manual clock's start (default now). */
    startAt?: number;
    journalMaxBytes?: number;
  } = {},
): Promise<Rig> {
  const clock = new ManualClock(o.startAt ?? Date.now());
  const backend = await startBackend({ ...o.backend, clock });
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-rig-'));
  const seen: PaymentView[] = [];
  let acquirer: TrackedAcquirer;

  const open = () => {
    const journal = Journal.open(join(dir, 'journal.db'), o.journalMaxBytes === undefined ? {} : { maxSizeBytes: o.journalMaxBytes });
    const http = new HttpAcquirer({
      baseUrl: backend.url,
      terminalId: DEMO_TERMINAL.terminalId,
      key: DEMO_TERMINAL.key,
      clock,
      ...(o.timeoutMs ? { timeoutMs: { pay: o.timeoutMs, query: o.timeoutMs, reverse: o.timeoutMs, refund: o.timeoutMs } } : {}),
    });
    acquirer = new TrackedAcquirer(http);
    const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: DEMO_TERMINAL.terminalId, profiles: o.profiles, outbox: o.outbox, random: () => 0.5, ...(o.acquirerProfile ? { acquirerProfile: o.acquirerProfile } : {}), ...(o.logger ? { logger: o.logger } : {}) });
    engine.onChange((v) => seen.push(v));
    engine.start();
    return { journal, engine };
  };

  let { journal, engine } = open();

  const rig: Rig = {
    clock,
    backend,
    get engine() {
      return engine;
    },
    get journal() {
      return journal;
    },
    dir,
    seen,
    async drive(until, maxSteps = 1000) {
      // Not engine.idle(): a query the backend holds on this clock ends only when the clock moves.
      for (let i = 0; i < maxSteps; i++) {
        await settleCalls(() => acquirer.inFlight, () => backend.sim.parkedCalls());
        if (until()) return;
        if (!clock.advanceToNext()) {
          await settleCalls(() => acquirer.inFlight, () => backend.sim.parkedCalls());
          if (until()) return;
          throw new Error('nothing left to wait for, and the condition does not hold');
        }
      }
      throw new Error(`condition not reached in ${maxSteps} steps`);
    },
    async payAndFinish(code, amount = 1234) {
      const p = engine.pay({ amount, paymentCode: code, description: 'test' });
      await rig.drive(() => engine.get(p.orderNo).outcome !== null);
      return engine.get(p.orderNo);
    },
    async restartAgent(r = {}) {
      await engine.stop();
      journal.close();
      if (r.offForMs) clock.advanceTo(clock.now() + r.offForMs);
      ({ journal, engine } = open());
    },
    async close() {
      await engine.stop();
      journal.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  } as Rig;
  return rig;
}
