/**
 * One terminal without a POS or scanners: a real journal file, the real payment engine and
 * the real HTTP acquirer. The scenario runner and the fleet drive payments through it.
 * "Restarting the agent" stops the engine and reopens the same journal file, as a power
 * cut and a reboot would leave them.
 */
import { join } from 'node:path';
import { HttpAcquirer } from '../agent/backend/http-acquirer.ts';
import type { Acquirer } from '../agent/backend/acquirer.ts';
import type { Clock } from '../agent/clock.ts';
import { Journal } from '../agent/journal/journal.ts';
import { PaymentEngine, type EngineOptions } from '../agent/payment/engine.ts';
import type { ProfileOverrides } from '../agent/payment/profiles.ts';
import type { Operation } from '../agent/protocol/messages.ts';
import { TrackedAcquirer } from './tracked-acquirer.ts';
import type { AcquirerProfile } from '../agent/backend/acquirer-profile.ts';

export interface SimTerminalOptions {
  /** Directory of this terminal's journal file. */
  dir: string;
  backendUrl: string;
  terminalId: string;
  key: Buffer;
  clock: Clock;
  profiles?: ProfileOverrides;
  timeoutMs?: Partial<Record<Operation, number>>;
  random?: () => number;
  outbox?: EngineOptions['outbox'];
  /** Another acquirer's adapter in place of protocol v1 over HTTP (WeChat, Alipay, Upay), made anew at each (re)start. */
  acquirer?: () => Acquirer;
  /** The rules of that acquirer (default protocol v1's). */
  acquirerProfile?: AcquirerProfile;
}

export class SimTerminal {
  readonly #o: SimTerminalOptions;
  #journal: Journal;
  #engine: PaymentEngine;
  #acquirer: TrackedAcquirer | undefined;

  /** Backend calls on their way, so a driver of a manual clock knows when time may move. */
  get inFlight(): number {
    return this.#acquirer?.inFlight ?? 0;
  }

  constructor(o: SimTerminalOptions) {
    this.#o = o;
    ({ journal: this.#journal, engine: this.#engine } = this.#open());
  }

  get engine(): PaymentEngine {
    return this.#engine;
  }

  get journal(): Journal {
    return this.#journal;
  }

  async restart(): Promise<void> {
    await this.close();
    ({ journal: this.#journal, engine: this.#engine } = this.#open());
  }

  async close(): Promise<void> {
    await this.#engine.stop();
    this.#journal.close();
  }

  #open(): { journal: Journal; engine: PaymentEngine } {
    const o = this.#o;
    const journal = Journal.open(join(o.dir, 'journal.db'));
    const http = o.acquirer?.() ?? new HttpAcquirer({ baseUrl: o.backendUrl, terminalId: o.terminalId, key: o.key, clock: o.clock, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
    const engine = new PaymentEngine({
      journal,
      acquirer: (this.#acquirer = new TrackedAcquirer(http)),
      ...(o.acquirerProfile ? { acquirerProfile: o.acquirerProfile } : {}),
      clock: o.clock,
      terminalId: o.terminalId,
      ...(o.profiles ? { profiles: o.profiles } : {}),
      ...(o.random ? { random: o.random } : {}),
      ...(o.outbox ? { outbox: o.outbox } : {}),
    });
    engine.start();
    return { journal, engine };
  }

}
