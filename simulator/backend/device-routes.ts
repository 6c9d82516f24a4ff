/**
 * Protocol v1 device operations over HTTP (docs/protocol.md, "Device operations") and
 * their QA controls under /control. Same envelope as the payment operations: requests
 * verified before their JSON is read, answers signed with the key that verified them.
 * Refusals carry `serverTime`, unsigned, so a device whose clock is off can tell by how much.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import type { Clock } from '../../agent/clock.ts';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import { WALLETS } from '../../agent/payment-code.ts';
import { DEVICE_PATHS, DEVICE_REQUESTS, wrapKey, type DeviceOperation } from '../../agent/protocol/device-messages.ts';
import { HEADER, signResponse, verifyRequest, type NonceCache } from '../../agent/protocol/signing.ts';
import type { DeviceBackend } from './device-backend.ts';
import { describeIssues } from './faults.ts';
import type { TerminalRegistry } from './terminal-registry.ts';
import { refuseForeign } from '../local-guard.ts';
import { listOrders, type OrderBook } from './order-listing.ts';

export interface DeviceRouteDeps {
  device: DeviceBackend;
  registry: TerminalRegistry;
  clock: Clock;
  nonces: NonceCache;
  logger: Logger;
  /** The orders `POST /v1/orders` lists (issue 12). */
  book?: OrderBook;
}

const codeBody = z.strictObject({ merchantName: z.string().min(1).max(64).optional(), ttlMs: z.number().int().positive().optional() });
const revokeBody = z.strictObject({ ttlMs: z.number().int().positive().optional() });
const changeBody = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('drop'), orderNo: z.string().min(1).max(32) }),
  z.strictObject({ kind: z.literal('extra'), orderNo: z.string().min(1).max(32), wallet: z.enum(WALLETS as unknown as [string, ...string[]]), amount: z.number().int().positive() }),
]);

function parse<S extends z.ZodType>(schema: S, body: unknown, code: 'SIM_CONTROL_INVALID' | 'PROTO_BAD_REQUEST'): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new ScanpayError(code, { message: describeIssues(r.error) });
  return r.data;
}

export function deviceRoutes(d: DeviceRouteDeps): FastifyPluginAsync {
  const refuse = (reply: FastifyReply, e: ScanpayError) =>
    reply.code(e.status).type('application/json; charset=utf-8').send(JSON.stringify({ error: { code: e.code, message: e.message }, serverTime: d.clock.now() }));

  /**
   * Step 1 of an activation is the one unsigned exchange: there is no key yet. It only
   * names the code and trades X25519 shares; nothing in it helps guess the code.
   */
  async function hello(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ScanpayError('PROTO_BAD_REQUEST', { message: 'the body is not JSON' });
      }
      const answer = d.device.hello(parse(DEVICE_REQUESTS.activateHello, body, 'PROTO_BAD_REQUEST'));
      reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(answer));
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      d.logger.warn({ op: 'activateHello', refusal: e.code }, 'device request refused');
      return refuse(reply, e);
    }
  }

  /** Verifies, runs `answer`, and signs what it returns with the key that verified the request. */
  async function handle(op: DeviceOperation, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const path = DEVICE_PATHS[op];
    const terminalId = String(req.headers[HEADER.terminal] ?? '');
    const parts = { method: 'POST', path, terminalId, body: raw };
    const opts = { now: d.clock.now(), nonces: d.nonces };
    let key: Buffer;
    let nonce: string;
    try {
      if (!terminalId) throw new ScanpayError('PROTO_SIGNATURE_MISSING', { message: 'the message carries no terminal id' });
      if (op === 'activate') {
        key = d.device.activationKey(terminalId);
        try {
          nonce = verifyRequest(parts, req.headers, key, opts);
        } catch (e) {
          if (isScanpayError(e, 'PROTO_SIGNATURE_INVALID')) d.device.activationFailed(terminalId);
          throw e;
        }
      } else {
        ({ key, nonce } = d.registry.verify(parts, req.headers, opts));
        d.device.keyUsed(terminalId, key);
      }
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      d.logger.warn({ op, terminalId, refusal: e.code }, 'device request refused');
      return refuse(reply, e);
    }
    const send = (status: number, body: unknown) => {
      const bytes = Buffer.from(JSON.stringify(body));
      reply.headers({ ...signResponse({ ...parts, body: bytes, status, requestNonce: nonce }, key, d.clock.now()) });
      reply.code(status).type('application/json; charset=utf-8').send(bytes);
    };
    let input: unknown;
    try {
      input = parse(DEVICE_REQUESTS[op], JSON.parse(raw.toString('utf8')), 'PROTO_BAD_REQUEST');
    } catch (e) {
      const err = isScanpayError(e) ? e : new ScanpayError('PROTO_BAD_REQUEST', { message: 'the body is not JSON' });
      return send(err.status, { error: { code: err.code, message: err.message } });
    }
    let out: unknown;
    try {
      out = answer(op, terminalId, key, input);
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      d.logger.warn({ op, terminalId, refusal: e.code }, 'device request refused');
      return send(e.status, { error: { code: e.code, message: e.message } });
    }
    send(200, out);
    d.logger.info({ op, terminalId }, 'device request processed');
  }

  function answer(op: DeviceOperation, terminalId: string, key: Buffer, input: unknown): unknown {
    switch (op) {
      case 'activate': {
        const a = d.device.activate(terminalId);
        return { result: 'ACTIVATED', terminalId: a.terminalId, merchantId: a.merchantId, merchantName: a.merchantName, wrappedKey: wrapKey(a.key, key), params: a.params };
      }
      case 'params': {
        const p = d.device.params();
        return (input as { version: number }).version === p.version ? { result: 'UNCHANGED', version: p.version } : { result: 'NEW', params: p };
      }
      case 'heartbeat': {
        // Issue 12: the journal the terminal reported before, then the one it reports now.
        const hb = input as z.output<typeof DEVICE_REQUESTS.heartbeat>;
        const known = d.registry.journalOf(terminalId);
        if (hb.journal) d.registry.noteJournal(terminalId, hb.journal);
        return { ...d.device.heartbeat(terminalId, hb), ...(known ? { journal: known } : {}) };
      }
      case 'orders':
        return listOrders(d.book ?? { order: () => undefined }, d.registry.ordersOf(terminalId), input as z.output<typeof DEVICE_REQUESTS.orders>);
      case 'activateHello':
        throw new ScanpayError('PROTO_BAD_REQUEST', { message: 'activate/hello is not signed' });
      case 'rotateKey': {
        const r = d.device.rotate(terminalId, key, (input as z.output<typeof DEVICE_REQUESTS.rotateKey>).ephemeralKey);
        return { result: 'ROTATED', ephemeralKey: r.serverEphemeral, keyVersion: r.version };
      }
      case 'upload':
        return { result: 'OK', accepted: d.device.upload(terminalId, (input as z.output<typeof DEVICE_REQUESTS.upload>).records) };
      case 'settle':
        return d.device.settle(terminalId, input as z.output<typeof DEVICE_REQUESTS.settle>);
    }
  }

  return async (app: FastifyInstance) => {
    await app.register(async (v1) => {
      // The signature covers the exact bytes: JSON is parsed after verification.
      v1.removeAllContentTypeParsers();
      v1.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      for (const op of Object.keys(DEVICE_PATHS) as DeviceOperation[]) v1.post(DEVICE_PATHS[op], (req, reply) => (op === 'activateHello' ? hello(req, reply) : handle(op, req, reply)));
    });

    await app.register(
      async (control) => {
        control.addHook('onRequest', refuseForeign);
        control.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
          if (isScanpayError(err)) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
          const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
          return reply.code(status).send({ error: { code: status === 500 ? 'INTERNAL' : 'SIM_CONTROL_INVALID', message: err.message } });
        });
        control.post('/activation-codes', async (req, reply) => reply.code(201).send(d.device.issueActivationCode(parse(codeBody, req.body, 'SIM_CONTROL_INVALID'))));
        control.get('/params', async () => d.device.params());
        control.put('/params', async (req) => d.device.setParams(parse(z.record(z.string(), z.unknown()), req.body, 'SIM_CONTROL_INVALID')));
        control.get('/terminals', async () => ({ terminals: d.device.terminals() }));
        control.post<{ Params: { id: string } }>('/terminals/:id/rotate-key', async (req) => {
          d.device.requestRotation(req.params.id);
          return { ok: true };
        });
        control.post<{ Params: { id: string } }>('/terminals/:id/revoke-old-keys', async (req) => d.device.revokeOldKeys(req.params.id));
        // Suspected compromise: every key stops now, and a re-activation code comes back.
        control.post<{ Params: { id: string } }>('/terminals/:id/revoke', async (req, reply) => reply.code(201).send(d.device.revoke(req.params.id, parse(revokeBody, req.body, 'SIM_CONTROL_INVALID'))));
        control.post<{ Params: { id: string } }>('/terminals/:id/settlement-change', async (req) => {
          d.device.changeSettlement(req.params.id, parse(changeBody, req.body, 'SIM_CONTROL_INVALID'));
          return { ok: true };
        });
        control.get<{ Params: { id: string } }>('/terminals/:id/uploads', async (req) => ({ records: d.device.uploaded(req.params.id) }));
      },
      { prefix: '/control' },
    );
  };
}
