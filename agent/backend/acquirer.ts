/**
 * The narrow interface the payment engine uses to reach an acquirer. Every call ends in
 * one of three kinds, and only an `answer` carries information: `not_sent` proves the
 * request never left the device; `unknown` means it may have been processed.
 */
import type { ScanpayError } from '../errors.ts';
import type {
  PayRequest,
  PayResponse,
  QueryRequest,
  QueryResponse,
  RefundRequest,
  RefundResponse,
  ReverseRequest,
  ReverseResponse,
} from '../protocol/messages.ts';

export type CallResult<T> =
  | { kind: 'answer'; body: T; latencyMs: number }
  | { kind: 'not_sent'; error: ScanpayError; latencyMs: number }
  | { kind: 'unknown'; error: ScanpayError; latencyMs: number };

export interface Acquirer {
  pay(req: PayRequest): Promise<CallResult<PayResponse>>;
  query(req: QueryRequest): Promise<CallResult<QueryResponse>>;
  reverse(req: ReverseRequest): Promise<CallResult<ReverseResponse>>;
  refund(req: RefundRequest): Promise<CallResult<RefundResponse>>;
}
