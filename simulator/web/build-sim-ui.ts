/**
 * The desktop simulator's web page as a Fastify app (no listening): the static page, a
 * server-sent event stream of snapshots, and the JSON actions its buttons call. Every
 * action goes to the session, which uses the agent's real POS API and the simulator's
 * control surface; the page holds no state of its own.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import * as z from 'zod';
import { isScanpayError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import { faultSpecSchema, describeIssues } from '../backend/faults.ts';
import { SIMULATED_PROTOCOLS } from '../backend/protocol-wires.ts';
import { behaviourSchema } from '../backend/wallet-model.ts';
import type { SimSession } from '../sim-session.ts';
import { refuseForeign } from '../local-guard.ts';

export interface SimUiDeps {
  session: SimSession;
  logger: Logger;
  /** Shortest gap between two snapshots on the event stream. */
  throttleMs?: number;
}

// A browser asks for /favicon.ico whatever the page says: the same icon answers both.
const STATIC: Record<string, string> = { '/': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css', '/favicon.svg': 'favicon.svg', '/favicon.ico': 'favicon.svg' };
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
const IMAGE_LIMIT = 5 * 1024 * 1024;

const schemas = {
  pay: z.strictObject({ amount: z.number().int().positive() }),
  id: z.strictObject({ id: z.string().min(1).max(64) }),
  code: z.strictObject({ wallet: z.enum(['wechat', 'alipay', 'unionpay', 'ecny']), behaviour: behaviourSchema }),
  text: z.strictObject({ text: z.string().min(1).max(512) }),
  network: z.strictObject({ down: z.boolean().optional(), delayMs: z.number().int().min(0).max(60_000).optional() }),
  backend: z.strictObject({ up: z.boolean() }),
  protocol: z.strictObject({ protocol: z.enum(SIMULATED_PROTOCOLS) }),
};

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw Object.assign(new Error(describeIssues(r.error)), { statusCode: 400, code: 'SIM_CONTROL_INVALID' });
  return r.data;
}

export function buildSimUi(deps: SimUiDeps): FastifyInstance {
  const { session } = deps;
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: IMAGE_LIMIT, forceCloseConnections: true });
  // The page and its actions answer this machine's own page only (DNS rebinding, cross-site posts).
  app.addHook('onRequest', refuseForeign);
  app.addContentTypeParser(['image/png', 'image/jpeg', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (isScanpayError(err)) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err }, 'simulator action failed');
    return reply.code(status).send({ error: { code: err.code ?? 'SIM_INTERNAL', message: err.message } });
  });

  for (const [path, file] of Object.entries(STATIC)) {
    const body = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    app.get(path, (_req, reply) => reply.type(TYPES[file.split('.').pop()!]!).header('cache-control', 'no-store').send(body));
  }

  app.get('/api/snapshot', () => session.snapshot());
  app.get('/events', (req, reply) => streamSnapshots(reply, session, deps.throttleMs ?? 100, req.raw));

  app.post('/api/pos/pay', (req) => session.pay(parse(schemas.pay, req.body).amount));
  app.post('/api/pos/cancel', (req) => session.cancel(parse(schemas.id, req.body).id));
  app.post('/api/pos/refund', (req) => session.refund(parse(schemas.id, req.body).id));
  app.post('/api/phone/code', async (req) => {
    const { wallet, behaviour } = parse(schemas.code, req.body);
    const { code, png } = await session.issueCode(wallet, behaviour);
    return { code, image: `data:image/png;base64,${png.toString('base64')}` };
  });
  app.post('/api/phone/image', (req) => {
    if (!Buffer.isBuffer(req.body)) throw Object.assign(new Error('send the image bytes as image/png, image/jpeg or application/octet-stream'), { statusCode: 415, code: 'SIM_CONTROL_INVALID' });
    const name = String(req.headers['x-file-name'] ?? 'image');
    return session.presentImage(req.body, name);
  });
  app.post('/api/phone/type', (req) => session.scanText(parse(schemas.text, req.body).text));
  app.post('/api/network', async (req) => {
    await session.setNetwork(parse(schemas.network, req.body));
    return { ok: true };
  });
  app.post('/api/faults', (req) => ({ id: session.addFault(parse(faultSpecSchema, req.body)) }));
  app.post('/api/faults/clear', () => (session.clearFaults(), { ok: true }));
  app.post('/api/backend', async (req) => {
    await session.setBackend(parse(schemas.backend, req.body).up);
    return { ok: true };
  });
  app.post('/api/protocol', async (req) => {
    await session.setProtocol(parse(schemas.protocol, req.body).protocol);
    return { ok: true, protocol: session.snapshot().protocol.current };
  });
  app.post('/api/agent/restart', async () => {
    await session.restartAgent();
    return { ok: true };
  });
  return app;
}

/** One `snapshot` event now and after each change, at most one per `throttleMs`. */
function streamSnapshots(reply: FastifyReply, session: SimSession, throttleMs: number, req: NodeJS.EventEmitter): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    timer = undefined;
    res.write(`event: snapshot\ndata: ${JSON.stringify(session.snapshot())}\n\n`);
  };
  send();
  const off = session.onChange(() => {
    timer ??= setTimeout(send, throttleMs);
  });
  req.on('close', () => {
    off();
    clearTimeout(timer);
  });
}
