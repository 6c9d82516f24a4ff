/**
 * The control API: a thin, unsigned HTTP layer over SimBackend for QA tools and the
 * desktop simulator. No authentication: bind the backend to loopback; requests from web
 * pages (DNS rebinding, cross-site posts) are refused (local-guard.ts).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import * as z from 'zod';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import { WALLETS } from '../../agent/payment-code.ts';
import type { SimBackend } from './build-backend.ts';
import { describeIssues, faultSpecSchema } from './faults.ts';
import { behaviourSchema } from './wallet-model.ts';
import { refuseForeign } from '../local-guard.ts';

const issueBody = z.strictObject({ wallet: z.enum(WALLETS as [string, ...string[]]), behaviour: behaviourSchema.default({ kind: 'instant' }) });
const behaviourBody = z.strictObject({ code: z.string().min(1).max(64), behaviour: behaviourSchema });

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new ScanpayError('SIM_CONTROL_INVALID', { message: describeIssues(r.error) });
  return r.data;
}

export function controlRoutes(sim: SimBackend): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', refuseForeign);
    app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
      if (isScanpayError(err)) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      // Fastify's own refusals (bad JSON, body too large) are the caller's mistake too.
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      return reply.code(status).send({ error: { code: status === 500 ? 'INTERNAL' : 'SIM_CONTROL_INVALID', message: err.message } });
    });

    app.get('/health', async () => ({ ok: true, now: sim.now(), orders: sim.orders().length, faults: sim.faults().length }));

    app.post('/codes', async (req) => {
      const { wallet, behaviour } = parse(issueBody, req.body);
      const w = wallet as (typeof WALLETS)[number];
      const { code, expiresAt } = sim.issue(w, behaviour);
      return { code, wallet: w, behaviour, expiresAt };
    });

    app.post('/behaviour', async (req) => {
      const { code, behaviour } = parse(behaviourBody, req.body);
      sim.setBehaviour(code, behaviour);
      return { ok: true, behaviour };
    });

    app.get('/faults', async () => ({ faults: sim.faults() }));
    app.post('/faults', async (req, reply) => {
      const spec = parse(faultSpecSchema, req.body);
      const id = sim.addFault(spec);
      return reply.code(201).send({ id, fault: sim.faults().find((f) => f.id === id) });
    });
    app.delete('/faults', async () => {
      const cleared = sim.faults().length;
      sim.clearFaults();
      return { cleared };
    });

    app.get('/ledger', async () => ({ entries: sim.ledger(), audit: sim.audit() }));
    app.get('/orders', async () => ({ orders: sim.orders() }));
    app.get<{ Params: { orderNo: string } }>('/orders/:orderNo', async (req) => {
      const order = sim.order(req.params.orderNo);
      if (!order) throw new ScanpayError('SIM_ORDER_UNKNOWN', { detail: { orderNo: req.params.orderNo } });
      return order;
    });
    app.get('/calls', async () => ({ calls: sim.calls() }));
    app.post('/reset', async () => {
      sim.reset();
      return { ok: true };
    });
  };
}
