/**
 * What each backend answer means (agent/payment/outcomes.ts), answer by answer, to the
 * field: the rules of docs/protocol.md as a table. Anything without a verified answer is
 * unknown (rule 2); a query's answer is final only for a trade that is.
 */
import { describe, expect, it } from 'vitest';
import { ScanpayError } from '../../agent/errors.ts';
import { answer as output, as, payOutcome, queryOutcome, refundInsteadOutcome, reverseGuards, reverseOutcome } from '../../agent/payment/outcomes.ts';

const AT = 1_700_000_000_000;
const notSent = { kind: 'not_sent' as const, latencyMs: 1, error: new ScanpayError('BACKEND_NOT_SENT', { message: 'connection refused' }) };
const unknown = { kind: 'unknown' as const, latencyMs: 1, error: new ScanpayError('BACKEND_UNKNOWN', { message: 'response lost' }) };
const answer = <T>(body: T) => ({ kind: 'answer' as const, latencyMs: 1, body });
const trade = (state: string) => ({ orderNo: 'O1', state, amount: 100, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: 'TN1', refundedAmount: 0 });

describe('pay outcomes', () => {
  it.each<[string, unknown, unknown]>([
    ['not sent', notSent, { kind: 'notSent', at: AT, reason: 'BACKEND_NOT_SENT: connection refused' }],
    ['no verified answer', unknown, { kind: 'unknown', at: AT, reason: 'BACKEND_UNKNOWN: response lost' }],
    ['SUCCESS', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('SUCCESS') }), { kind: 'paid', at: AT, tradeNo: 'TN1' }],
    ['SUCCESS without trade', answer({ result: 'SUCCESS', orderNo: 'O1' }), { kind: 'paid', at: AT, tradeNo: undefined }],
    ['USER_PAYING', answer({ result: 'USER_PAYING', orderNo: 'O1' }), { kind: 'userPaying', at: AT }],
    ['UNKNOWN with a reason', answer({ result: 'UNKNOWN', orderNo: 'O1', reasonCode: 'SYSTEM_ERROR' }), { kind: 'unknown', at: AT, reason: 'backend: SYSTEM_ERROR' }],
    ['UNKNOWN bare', answer({ result: 'UNKNOWN', orderNo: 'O1' }), { kind: 'unknown', at: AT, reason: 'backend: UNKNOWN' }],
    ['FAIL ORDER_PAID (a repeated pay)', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'ORDER_PAID', trade: trade('SUCCESS') }), { kind: 'paid', at: AT, tradeNo: 'TN1' }],
    ['FAIL ORDER_PAID without trade', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'ORDER_PAID' }), { kind: 'paid', at: AT, tradeNo: undefined }],
    ['FAIL ORDER_REVERSED', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'ORDER_REVERSED' }), { kind: 'reversed', at: AT, reasonCode: 'ORDER_REVERSED' }],
    ['FAIL NOT_ENOUGH', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'NOT_ENOUGH', reasonMessage: 'balance' }), { kind: 'declined', at: AT, reasonCode: 'NOT_ENOUGH', reasonMessage: 'balance' }],
    ['FAIL bare', answer({ result: 'FAIL', orderNo: 'O1' }), { kind: 'declined', at: AT, reasonCode: 'DECLINED', reasonMessage: undefined }],
  ])('%s', (_name, result, outcome) => {
    expect(payOutcome(result as never, AT)).toStrictEqual(outcome);
  });
});

describe('query outcomes', () => {
  it.each<[string, unknown, unknown]>([
    ['no verified answer: still pending', unknown, { kind: 'pending', at: AT, customerPaying: false, reason: 'BACKEND_UNKNOWN: response lost' }],
    ['not sent: still pending', notSent, { kind: 'pending', at: AT, customerPaying: false, reason: 'BACKEND_NOT_SENT: connection refused' }],
    ['a tombstone', answer({ result: 'SUCCESS', orderNo: 'O1', reasonCode: 'ORDER_REVERSED' }), { kind: 'reversed', at: AT }],
    ['ORDER_NOT_FOUND: the pay may be on its way', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'ORDER_NOT_FOUND' }), { kind: 'pending', at: AT, customerPaying: false, reason: 'query FAIL ORDER_NOT_FOUND', notFound: true }],
    ['UNKNOWN bare', answer({ result: 'UNKNOWN', orderNo: 'O1' }), { kind: 'pending', at: AT, customerPaying: false, reason: 'query UNKNOWN' }],
    ['SUCCESS without trade', answer({ result: 'SUCCESS', orderNo: 'O1' }), { kind: 'pending', at: AT, customerPaying: false, reason: 'query SUCCESS' }],
    ['FAIL with a trade', answer({ result: 'FAIL', orderNo: 'O1', reasonCode: 'SYSTEM_ERROR', trade: trade('SUCCESS') }), { kind: 'pending', at: AT, customerPaying: false, reason: 'query FAIL SYSTEM_ERROR' }],
    ['SUCCESS', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('SUCCESS') }), { kind: 'paid', at: AT, tradeNo: 'TN1' }],
    ['REFUND (paid, then refunded)', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('REFUND') }), { kind: 'paid', at: AT, tradeNo: 'TN1' }],
    ['REVOKED', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('REVOKED') }), { kind: 'reversed', at: AT }],
    ['CLOSED', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('CLOSED') }), { kind: 'declined', at: AT, reasonCode: 'ORDER_CLOSED' }],
    ['PAYERROR', answer({ result: 'SUCCESS', orderNo: 'O1', reasonCode: 'BANK_ERROR', reasonMessage: 'bank', trade: trade('PAYERROR') }), { kind: 'declined', at: AT, reasonCode: 'BANK_ERROR', reasonMessage: 'bank' }],
    ['PAYERROR bare', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('PAYERROR') }), { kind: 'declined', at: AT, reasonCode: 'PAYERROR', reasonMessage: undefined }],
    ['USERPAYING', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('USERPAYING') }), { kind: 'pending', at: AT, customerPaying: true, reason: 'USERPAYING' }],
    ['NOTPAY: not final', answer({ result: 'SUCCESS', orderNo: 'O1', trade: trade('NOTPAY') }), { kind: 'pending', at: AT, customerPaying: false, reason: 'NOTPAY' }],
  ])('%s', (_name, result, outcome) => {
    expect(queryOutcome(result as never, AT)).toStrictEqual(outcome);
  });
});

describe('reverse outcomes', () => {
  it.each<[string, unknown, unknown]>([
    ['no verified answer: unreachable', unknown, { kind: 'unreachable', at: AT, reason: 'BACKEND_UNKNOWN: response lost' }],
    ['SUCCESS', answer({ result: 'SUCCESS', orderNo: 'O1', recall: false }), { kind: 'reversed', at: AT }],
    ['RETRY USER_PAYING', answer({ result: 'RETRY', orderNo: 'O1', recall: true, reasonCode: 'USER_PAYING' }), { kind: 'retry', at: AT, reason: 'RETRY USER_PAYING', reasonCode: 'USER_PAYING' }],
    ['UNKNOWN bare', answer({ result: 'UNKNOWN', orderNo: 'O1', recall: true }), { kind: 'retry', at: AT, reason: 'UNKNOWN', reasonCode: undefined }],
    ['FAIL ORDER_NOT_FOUND', answer({ result: 'FAIL', orderNo: 'O1', recall: false, reasonCode: 'ORDER_NOT_FOUND' }), { kind: 'notFound', at: AT }],
    ['FAIL REVERSE_EXPIRED', answer({ result: 'FAIL', orderNo: 'O1', recall: false, reasonCode: 'REVERSE_EXPIRED' }), { kind: 'refused', at: AT, reasonCode: 'REVERSE_EXPIRED' }],
    ['FAIL bare', answer({ result: 'FAIL', orderNo: 'O1', recall: false }), { kind: 'refused', at: AT, reasonCode: 'REVERSE_FAILED' }],
  ])('%s', (_name, result, outcome) => {
    expect(reverseOutcome(result as never, AT)).toStrictEqual(outcome);
  });
});

describe('as', () => {
  it('narrows an outcome of the named kind and refuses any other, naming both', () => {
    const o = { kind: 'paid' as const, at: AT };
    expect(as(o, 'paid')).toBe(o);
    expect(() => as<{ kind: string }, string>(o, 'declined')).toThrow('expected a declined outcome, got paid');
  });
});

describe('a refund sent instead of a refused reverse', () => {
  it.each<[string, unknown, unknown]>([
    ['no verified answer: unanswered, never failed', unknown, { kind: 'unanswered', at: AT, reason: 'BACKEND_UNKNOWN: response lost' }],
    ['not sent: unanswered', notSent, { kind: 'unanswered', at: AT, reason: 'BACKEND_NOT_SENT: connection refused' }],
    ['SUCCESS', answer({ result: 'SUCCESS', orderNo: 'O1', refundNo: 'R1' }), { kind: 'refunded', at: AT }],
    ['FAIL REFUND_NOT_PAID: nothing was paid to refund', answer({ result: 'FAIL', orderNo: 'O1', refundNo: 'R1', reasonCode: 'REFUND_NOT_PAID' }), { kind: 'notPaid', at: AT }],
    ['FAIL ORDER_NOT_FOUND', answer({ result: 'FAIL', orderNo: 'O1', refundNo: 'R1', reasonCode: 'ORDER_NOT_FOUND' }), { kind: 'notPaid', at: AT }],
    ['UNKNOWN: asked again, never failed', answer({ result: 'UNKNOWN', orderNo: 'O1', refundNo: 'R1', reasonCode: 'SYSTEM_ERROR' }), { kind: 'unknown', at: AT }],
    ['FAIL with a reason', answer({ result: 'FAIL', orderNo: 'O1', refundNo: 'R1', reasonCode: 'NOT_ENOUGH' }), { kind: 'failed', at: AT, reasonCode: 'NOT_ENOUGH' }],
    ['FAIL bare', answer({ result: 'FAIL', orderNo: 'O1', refundNo: 'R1' }), { kind: 'failed', at: AT, reasonCode: 'FAIL' }],
  ])('%s', (_name, result, outcome) => {
    expect(refundInsteadOutcome(result as never, AT)).toStrictEqual(outcome);
  });
});

describe('the reverse guards both machines share', () => {
  const ctx = (unseenReverseIsFinal: boolean) => ({ context: { unseenReverseIsFinal, codeExpiresAt: AT } });
  const notFound = (at: number) => ({ kind: 'notFound' as const, at });

  it('"reversed" confirms; nothing else does', () => {
    expect(reverseGuards.reverseConfirmed(undefined, { kind: 'reversed', at: AT })).toBe(true);
    expect(reverseGuards.reverseConfirmed(undefined, notFound(AT))).toBe(false);
  });

  it('"not found" is final under a tombstone rule, or once the code can no longer land; before that it could still land', () => {
    expect(reverseGuards.unseenAndCannotLand(ctx(true), notFound(AT - 1))).toBe(true);
    expect(reverseGuards.unseenAndCannotLand(ctx(false), notFound(AT - 1))).toBe(false);
    expect(reverseGuards.unseenAndCannotLand(ctx(false), notFound(AT))).toBe(true);
    expect(reverseGuards.unseenAndCannotLand(ctx(true), { kind: 'reversed', at: AT })).toBe(false);
    expect(reverseGuards.unseenButCouldLand(undefined, notFound(AT - 1))).toBe(true);
    expect(reverseGuards.unseenButCouldLand(undefined, { kind: 'reversed', at: AT })).toBe(false);
  });

  it('a guard reads the output of the actor that just finished', () => {
    const o = notFound(AT);
    expect(output({ event: { output: o } })).toBe(o);
  });
});
