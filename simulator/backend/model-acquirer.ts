/**
 * The simulated acquirer without the network: the engine's `Acquirer` interface served
 * straight from the wallet model, with a fault chosen for every call. Property tests and
 * benchmarks use it where thousands of payments must run in seconds; what it cannot show
 * (signatures, sockets) the HTTP tests cover.
 */
import type { Acquirer, CallResult } from '../../agent/backend/acquirer.ts';
import { ScanpayError } from '../../agent/errors.ts';
import type { Operation, PayRequest, RefundRequest } from '../../agent/protocol/messages.ts';
import { payRequest, refundRequest } from '../../agent/protocol/messages.ts';
import type { WalletModel } from './wallet-model.ts';

/**
 * What happens to one call: `not-sent` never reaches the model (connection refused);
 * `reset` is cut before processing; `lost-response` is processed and its answer lost;
 * `system-error` is answered UNKNOWN without processing.
 */
export type ModelFault = 'none' | 'not-sent' | 'reset' | 'lost-response' | 'system-error';

export class ModelAcquirer implements Acquirer {
  readonly #model: WalletModel;
  readonly #faultFor: (op: Operation) => ModelFault;
  /** Every call, with the fault it met: the test's record of what crossed the "wire". */
  readonly calls: Array<{ op: Operation; orderNo: string; fault: ModelFault }> = [];

  constructor(model: WalletModel, faultFor: (op: Operation) => ModelFault = () => 'none') {
    this.#model = model;
    this.#faultFor = faultFor;
  }

  pay(req: PayRequest) {
    return this.#call('pay', req.orderNo, () => this.#model.pay(payRequest.parse(req)), { result: 'UNKNOWN' as const, orderNo: req.orderNo });
  }

  query(req: { orderNo: string }) {
    return this.#call('query', req.orderNo, () => this.#model.query(req.orderNo), { result: 'UNKNOWN' as const, orderNo: req.orderNo });
  }

  reverse(req: { orderNo: string }) {
    return this.#call('reverse', req.orderNo, () => this.#model.reverse(req.orderNo), { result: 'UNKNOWN' as const, orderNo: req.orderNo, recall: true });
  }

  refund(req: RefundRequest) {
    return this.#call('refund', req.orderNo, () => this.#model.refund(refundRequest.parse(req)), { result: 'UNKNOWN' as const, orderNo: req.orderNo, refundNo: req.refundNo });
  }

  async #call<T>(op: Operation, orderNo: string, process: () => T, systemError: T): Promise<CallResult<T>> {
    const fault = this.#faultFor(op);
    this.calls.push({ op, orderNo, fault });
    switch (fault) {
      case 'not-sent':
        return { kind: 'not_sent', latencyMs: 0, error: new ScanpayError('BACKEND_NOT_SENT', { detail: { op } }) };
      case 'reset':
        return { kind: 'unknown', latencyMs: 0, error: new ScanpayError('BACKEND_UNKNOWN', { message: 'connection reset', detail: { op } }) };
      case 'lost-response':
        process();
        return { kind: 'unknown', latencyMs: 0, error: new ScanpayError('BACKEND_UNKNOWN', { message: 'response lost', detail: { op } }) };
      case 'system-error':
        return { kind: 'answer', latencyMs: 0, body: systemError };
      case 'none':
        return { kind: 'answer', latencyMs: 0, body: process() };
    }
  }
}
