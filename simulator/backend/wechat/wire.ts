/**
 * What a WeChat wire layer (v2 XML, v3 JSON) provides to wechat-wire.ts: its routes,
 * how it reads and verifies a request, how it answers from the book, and how it writes an
 * answer signed, unsigned or signed with the wrong key (the injected faults).
 */
import type { Operation } from '../../../agent/protocol/messages.ts';
import type { Signing } from '../wire-call.ts';
import type { WechatBook } from './wechat-book.ts';

export type { Signing };

export interface Wire {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface IncomingCall {
  method: string;
  /** Path and query string, as signed. */
  url: string;
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The TLS client certificate, judged against the demo CA and the simulator's clock. */
  peerCert?: { valid: boolean; error?: string };
  now: number;
}

export type Parsed<I, A> =
  /** Refused before any business processing, unsigned (bad signature, no certificate…). */
  | { refuse: Wire; orderNo?: string | undefined }
  /** Verified; `invalid` is a signed business refusal of bad parameters. */
  | { input: I; orderNo: string | undefined; invalid?: A };

export interface WechatFormat<I, A> {
  name: 'wechat-v2' | 'wechat-v3';
  routes: Array<{ op: Operation; method: 'GET' | 'POST'; url: string }>;
  parse(op: Operation, call: IncomingCall): Parsed<I, A>;
  process(op: Operation, input: I, book: WechatBook): A;
  /** WeChat's SYSTEMERROR / SYSTEM_ERROR, answered without touching the order. */
  systemError(op: Operation, input: I): A;
  emit(answer: A, signing: Signing, now: number): Wire;
}
