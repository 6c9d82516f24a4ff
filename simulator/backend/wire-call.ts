/**
 * One call of an acquirer's wire format (WeChat, Alipay, Upay) through the simulator's fault
 * table, with the same meaning per fault as protocol v1 (build-backend.ts): `reset` and
 * `http5xx` never reach the wallets; `lost-response`, `hang`, `malformed`, `unsigned` and
 * `bad-signature` bend the answer of a processed call (deliverFault, which v1 shares);
 * `system-error` is the acquirer's own "result unknown" answer, given without processing.
 */
import type { FastifyReply } from 'fastify';
import type { Operation } from '../../agent/protocol/messages.ts';
import type { CallRecord, WireDeps } from './build-backend.ts';
import type { FaultKind } from './faults.ts';

export interface WireAnswer {
  status: number;
  body: string;
  /** Content type; or set in `headers`. */
  type?: string;
  headers?: Record<string, string>;
}

export type Signing = 'signed' | 'unsigned' | 'wrong-key';

export interface WireCall {
  op: Operation;
  orderNo?: string | undefined;
  /** Checks the request's signature and shape: an answer to refuse it with, or null. */
  refusal(): WireAnswer | null;
  /** Runs the call against the wallets, or answers "unknown" without touching them. */
  answer(systemError: boolean): unknown;
  /** Puts an answer on the wire, signed as the acquirer signs, or not, or with a wrong key. */
  render(answer: unknown, signing: Signing): WireAnswer;
}

export async function runWireCall(deps: WireDeps, reply: FastifyReply, call: WireCall): Promise<void> {
  const record: CallRecord = { op: call.op, at: deps.clock.now(), ...(call.orderNo ? { orderNo: call.orderNo.slice(0, 64) } : {}) };
  const pick = deps.faults.pick(call.op);
  if (pick.label) record.fault = pick.label;
  const saveRecord = deps.record(record);
  if (pick.latencyMs > 0) await deps.park(new Promise<void>((resolve) => deps.clock.setTimeout(resolve, pick.latencyMs)));
  const kind = pick.fault?.kind;
  const send = (a: WireAnswer) => sendAnswer(reply, a);
  if (kind === 'reset') return cut(reply);
  if (kind === 'http5xx') return send({ status: pick.fault?.status ?? 503, type: 'text/html', body: '<html><body>Service Unavailable</body></html>' });

  const refusal = call.refusal();
  const log = deps.logger.child({ op: call.op, orderNo: record.orderNo, ...(record.fault ? { fault: record.fault } : {}) });
  if (refusal) {
    // A wire's refusal is not always an HTTP error (WeChat v2 refuses with 200 and return_code FAIL).
    record.error = 'REFUSED';
    saveRecord();
    log.warn({ status: refusal.status }, 'request refused');
    return send(refusal);
  }
  const answer = call.answer(kind === 'system-error');
  log.info('processed');
  deliverFault(reply, kind, (signing) => call.render(answer, signing), send);
}

/**
 * Sends a processed call's answer as the injected fault bends it: lost (connection cut
 * after processing), hung (socket left open, unanswered, until the server stops), cut
 * in half, unsigned or signed with a wrong key; as rendered otherwise.
 */
export function deliverFault<A extends { body: string | Buffer }>(reply: FastifyReply, kind: FaultKind | undefined, render: (signing: Signing) => A, send: (a: A) => void): void {
  switch (kind) {
    case 'lost-response':
      return cut(reply);
    case 'hang':
      reply.hijack();
      return;
    case 'malformed': {
      const a = render('signed');
      return send({ ...a, body: a.body.slice(0, Math.max(1, Math.floor(a.body.length / 2))) });
    }
    case 'unsigned':
      return send(render('unsigned'));
    case 'bad-signature':
      return send(render('wrong-key'));
    default:
      return send(render('signed'));
  }
}

export function sendAnswer(reply: FastifyReply, a: WireAnswer): void {
  reply.code(a.status);
  if (a.headers) reply.headers(a.headers);
  if (a.type) reply.type(a.type);
  reply.send(a.body);
}

/** Ends the exchange with no answer at all: the client sees its connection cut. */
export function cut(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}
