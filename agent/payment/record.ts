/**
 * `record`: the one writer of a payment's state. The payment machine's and the reversal
 * machine's `record` actions, and the cashier's cancel flag, all write through here, so a
 * reader finds every change of a payment's state in the machines and this file.
 */
import type { PaymentState } from '../journal/journal.ts';
import { enqueueReversal, requirePayment, type EngineCore } from './engine-core.ts';

/** What the machine knows when it records a state. */
export interface RecordFacts {
  cause: string;
  /** The wait the payment enters (querying, waiting for the network): kept as `next_action_at` for a restart. */
  waitMs?: number;
  reasonCode?: string | undefined;
  reasonMessage?: string | undefined;
  tradeNo?: string | undefined;
}

export class PaymentRecorder {
  readonly #c: EngineCore;
  readonly #kickOutbox: () => void;

  constructor(core: EngineCore, kickOutbox: () => void) {
    this.#c = core;
    this.#kickOutbox = kickOutbox;
  }

  record(orderNo: string, state: PaymentState, f: RecordFacts): void {
    const { journal, clock } = this.#c;
    const at = clock.now();
    switch (state) {
      case 'submitting':
        // The pay actor writes "submitting" itself, immediately before the request.
        break;
      case 'waiting_network':
      case 'querying':
      case 'reversing':
        journal.transition(orderNo, state, at, f.cause, { next_action_at: state === 'reversing' ? at : at + (f.waitMs ?? 0) });
        break;
      case 'reversal_queued':
        journal.atomically(() => {
          // Restored in this state: the outbox holds the reversal already; make sure (enqueue is idempotent).
          if (requirePayment(journal, orderNo).state !== 'reversal_queued') journal.transition(orderNo, 'reversal_queued', at, f.cause);
          enqueueReversal(journal, orderNo, at);
        });
        // Outside the machine's transition: delivery starts on the next turn.
        queueMicrotask(this.#kickOutbox);
        break;
      case 'paid':
      case 'declined':
      case 'reversed':
        // "paid" grouped: the engine shows it once journal.synced() says it is on disk.
        journal.finish(
          orderNo,
          state,
          at,
          f.cause,
          {
            reason_code: f.reasonCode ?? null,
            reason_message: f.reasonMessage ?? null,
            ...(f.tradeNo ? { acquirer_trade_no: f.tradeNo } : {}),
          },
          undefined,
          'grouped',
        );
        // Debug: the running agent logs every state change the POS sees, this one included (daemon.ts).
        this.#c.log.debug({ orderNo, outcome: state, reasonCode: f.reasonCode }, `payment ${state}`);
        break;
    }
  }

  /** The cashier's cancel, kept so that a restart still honours it; the state itself is unchanged. */
  requestCancel(orderNo: string): void {
    const row = requirePayment(this.#c.journal, orderNo);
    if (!row.cancel_requested) this.#c.journal.transition(orderNo, row.state, this.#c.clock.now(), 'cancel requested', { cancel_requested: 1 });
  }
}
