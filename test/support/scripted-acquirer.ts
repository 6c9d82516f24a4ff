/**
 * An acquirer that answers from a script and records every request that left: for tests
 * of the engine's logic, each saying what the backend answered. It stands behind the same
 * interface as the HTTP client (agent/backend/acquirer.ts); tests over the real wire use
 * the simulator (payment-rig.ts).
 */
import type { Acquirer, CallResult } from '../../agent/backend/acquirer.ts';
import { ScanpayError } from '../../agent/errors.ts';
import type { PayResponse, QueryResponse, RefundResponse, ReverseResponse } from '../../agent/protocol/messages.ts';

export type Calls = { op: string; req: Record<string, unknown> }[];
/** An answer, or a function of the request giving one (a promise: an answer that takes its time). */
export type Answer<T> = CallResult<T> | ((req: Record<string, unknown>) => CallResult<T> | Promise<CallResult<T>>);

/** An acquirer that answers from a script and records every request that left. */
export class ScriptedAcquirer implements Acquirer {
  readonly calls: Calls = [];
  readonly script: { pay: Answer<PayResponse>[]; query: Answer<QueryResponse>[]; reverse: Answer<ReverseResponse>[]; refund: Answer<RefundResponse>[] } = { pay: [], query: [], reverse: [], refund: [] };
  #next<T>(op: keyof ScriptedAcquirer['script'], req: object): Promise<CallResult<T>> {
    this.calls.push({ op, req: { ...req } });
    const a = (this.script[op] as Answer<T>[]).shift();
    if (!a) throw new Error(`no scripted answer for ${op}`);
    return Promise.resolve(typeof a === 'function' ? a(req as Record<string, unknown>) : a);
  }
  pay(req: object) {
    return this.#next<PayResponse>('pay', req);
  }
  query(req: object) {
    return this.#next<QueryResponse>('query', req);
  }
  reverse(req: object) {
    return this.#next<ReverseResponse>('reverse', req);
  }
  refund(req: object) {
    return this.#next<RefundResponse>('refund', req);
  }
}

export const answer = <T>(body: T): CallResult<T> => ({ kind: 'answer', body, latencyMs: 3 });
export const unknown = (): CallResult<never> => ({ kind: 'unknown', error: new ScanpayError('BACKEND_UNKNOWN', { message: 'response lost' }), latencyMs: 3 });
export const notSent = (): CallResult<never> => ({ kind: 'not_sent', error: new ScanpayError('BACKEND_NOT_SENT', { message: 'connection refused' }), latencyMs: 3 });
export const trade = (orderNo: string, state: string) => ({ orderNo, state, amount: 1000, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: 'TN-1', refundedAmount: 0 }) as QueryResponse['trade'];
