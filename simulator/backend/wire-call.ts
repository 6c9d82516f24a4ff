/**
 * One call of another acquirer's wire format (Alipay, Upay) through the simulator's fault
 * table, with the same meaning per fault as protocol v1 (build-backend.ts): `reset` and
 * `http5xx` never reach the wallets; `lost-response`, `hang`, `malformed`, `unsigned` and
 * `bad-signature` bend the answer of a processed call; `system-error` is the acquirer's
 * own "result unknown" answer, given without processing.
 */
import type { FastifyReply } from 'fastify';
import type { Operation } from '../../agent/protocol/messages.ts';
import type { CallRecord, WireDeps } from './build-backend.ts';

export interface WireAnswer {
  status: number;
  body: string;
  type: string;
}

export type Signing = 'signed' | 'unsigned' | 'wrong-key';

export interface WireCall {
  op: Operation;
  orderNo?: string;
  /** Checks the request's signature and shape: an answer to refuse it with, or null. */
  refusal(): WireAnswer | null;
  /** Runs the call against the wallets, or answers "unknown" without touching them. */
  answer(systemError: boolean): unknown;
  /** Puts an answer on the wire, signed as the acquirer signs, or not, or with a wrong key. */
  render(answer: unknown, signing: Signing): WireAnswer;
}

export async function runWireCall(deps: WireDeps, reply: FastifyReply, call: WireCall): Promise<void> {
  const record: CallRecord = { op: call.op, at: deps.clock.now(), ...(call.orderNo ? { orderNo: call.orderNo } : {}) };
  deps.record(record);
  const pick = deps.faults.pick(call.op);
  if (pick.label) record.fault = pick.label;
  if (pick.latencyMs > 0) await deps.park(new Promise<void>((resolve) => deps.clock.setTimeout(resolve, pick.latencyMs)));
  const kind = pick.fault?.kind;
  const send = (a: WireAnswer) => reply.code(a.status).type(a.type).send(a.body);
  if (kind === 'reset') return cut(reply);
  if (kind === 'http5xx') return send({ status: pick.fault?.status ?? 503, type: 'text/html', body: '<html><body>Service Unavailable</body></html>' });

  const refusal = call.refusal();
  if (refusal) {
    record.error = `HTTP ${refusal.status}`;
    return send(refusal);
  }
  const answer = call.answer(kind === 'system-error');
  switch (kind) {
    case 'lost-response':
      return cut(reply);
    case 'hang':
      reply.hijack();
      return;
    case 'malformed': {
      const a = call.render(answer, 'signed');
      return send({ ...a, body: a.body.slice(0, Math.max(1, Math.floor(a.body.length / 2))) });
    }
    case 'unsigned':
      return send(call.render(answer, 'unsigned'));
    case 'bad-signature':
      return send(call.render(answer, 'wrong-key'));
    default:
      return send(call.render(answer, 'signed'));
  }
}

/** Ends the exchange with no answer at all: the client sees its connection cut. */
function cut(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}
