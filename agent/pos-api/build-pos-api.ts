/**
 * The local POS API (docs/pos-api.md, docs/openapi.json) as a Fastify app, not listening:
 * tests use `inject` or `listen.ts`. Every call needs the bearer token. Every input is
 * checked here with zod; whatever a client sends ends in a 4xx with a catalog code and a
 * message naming the field, or is served: nothing it sends can crash the agent.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import * as z from 'zod';
import { ScanpayError, isScanpayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ScanResult } from '../lane.ts';
import type { PosService } from '../pos-service.ts';
import { tokenMatches } from '../token.ts';
import { agentProof, CHALLENGE, PROOF_PATH } from '../agent-proof.ts';
import { createEventStreams } from './events.ts';

export interface PosApiDeps {
  service: PosService;
  token: string;
  logger: Logger;
  metrics: { contentType: string; text(): Promise<string> };
  openapi: unknown;
  /** What `GET /v1/agent` answers: mode, terminal, lanes, scanners, limits. */
  info(): Record<string, unknown>;
  /** Feeds a scan to a lane's virtual scanner (demo and QA). */
  scan(lane: string, text: string): ScanResult;
  /** Start of the local day, for "today's payments". */
  startOfToday(): number;
  heartbeatMs?: number;
}

const BODY_LIMIT = 64 * 1024;

/**
 * JSON may carry a lone UTF-16 surrogate ("\ud800"); such a string has no UTF-8 form, so it
 * would be stored as U+FFFD and a repeated request would no longer match the first
 * (idempotency broken: 201, then 409 for a charged payment). Refused instead.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = () => z.string().refine((s) => !LONE_SURROGATE.test(s), 'must be well-formed Unicode text (a lone surrogate was sent)');

const posId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1–64 letters, digits, ".", "_", ":" or "-"');
const createBody = z
  .object({
    id: posId.optional(),
    lane: text().max(32).optional(),
    amount: z.number().int('must be an integer of minor units (1234 for 12.34)'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as CNY').optional(),
    description: text().max(128).optional(),
    paymentCode: text().min(1).max(128).optional(),
  })
  .strict();
const refundBody = z.object({ refundId: posId, amount: z.number().int('must be an integer of minor units').positive().optional() }).strict();
const scanBody = z.object({ text: text().min(1).max(512) }).strict();
const idParams = z.object({ id: posId });
const proofQuery = z.object({ challenge: z.string().regex(CHALLENGE, 'must be 32 random bytes, base64url') }).strict();
const laneParams = z.object({ lane: text().max(32) });
/** `hold`: the POS id of the payment this client creates and waits for; it ends when the client goes away before anything was sent. */
const eventsQuery = z.object({ hold: posId.optional() }).strict();
const listQuery = z
  .object({
    since: z.coerce.number().int().nonnegative().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'path'): z.infer<S> {
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : where;
  const message = issue.code === 'unrecognized_keys' ? `${where}: unknown field(s) ${issue.keys.join(', ')}` : `${where === 'body' ? '' : `${where} `}${field}: ${issue.message}`;
  throw new ScanpayError('API_BAD_REQUEST', { message, detail: { field } });
}

/** Fastify's own errors for what a client may send, mapped onto the catalog. */
function clientError(e: { code?: string; message: string }): ScanpayError | undefined {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ScanpayError('API_BODY_TOO_LARGE', { message: `the request body exceeds ${BODY_LIMIT} bytes` });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ScanpayError('API_UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ScanpayError('API_BAD_REQUEST', { message: `body: ${e.message}`, detail: { field: 'body' } });
    default:
      return undefined;
  }
}

export function buildPosApi(deps: PosApiDeps): FastifyInstance {
  const log = deps.logger.child({ component: 'pos-api' });
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Fastify's own handler logs the parser's error, raw request bytes (token, codes) included.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      log.debug({ errorCode: err.code }, 'malformed HTTP request refused');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    },
  });
  const { service } = deps;
  const streams = createEventStreams({ subscribe: (l) => service.onEvent(l), heartbeatMs: deps.heartbeatMs ?? 15_000 });

  app.addHook('onRequest', async (req: FastifyRequest) => {
    // The one open endpoint: a client checks this is its agent before it sends the token.
    if (req.method === 'GET' && req.url.split('?')[0] === PROOF_PATH) return;
    const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (!m || !tokenMatches(m[1]!, deps.token)) throw new ScanpayError('API_UNAUTHORIZED');
  });
  app.addHook('preClose', async () => streams.closeAll());
  // JSON only: a form or text body is refused as API_UNSUPPORTED_MEDIA_TYPE, not half-parsed.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((e, req, reply) => {
    const known = isScanpayError(e) ? e : clientError(e as { code?: string; message: string });
    const error = known ?? new ScanpayError('API_INTERNAL', { cause: e });
    if (!known) req.log.error({ err: e, method: req.method, url: req.url }, 'POS API request failed');
    void reply.status(error.status).send({ error: error.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ScanpayError('API_NOT_FOUND', { message: `no endpoint ${req.method} ${req.url.split('?')[0]}: see GET /openapi.json` });
    void reply.status(404).send({ error: e.toJSON() });
  });

  app.get(PROOF_PATH, async (req) => {
    const { challenge } = parse(proofQuery, req.query, 'query');
    return { proof: agentProof(deps.token, challenge, req.socket.localPort ?? 0) };
  });
  app.get('/openapi.json', async () => deps.openapi);
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()));
  app.get('/v1/agent', async () => deps.info());

  app.post('/v1/payments', async (req, reply) => {
    const { payment, created } = service.create(parse(createBody, req.body, 'body'));
    return reply.status(created ? 201 : 200).send(payment);
  });
  app.get('/v1/payments', async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return { payments: service.list(q.since ?? deps.startOfToday(), q.limit) };
  });
  app.get('/v1/payments/:id', async (req) => service.get(parse(idParams, req.params, 'path').id));
  app.post('/v1/payments/:id/cancel', async (req) => service.cancel(parse(idParams, req.params, 'path').id));
  app.get('/v1/payments/:id/refunds', async (req) => ({ refunds: service.refunds(parse(idParams, req.params, 'path').id) }));
  app.post('/v1/payments/:id/refunds', async (req) => {
    const { id } = parse(idParams, req.params, 'path');
    return service.refund(id, parse(refundBody, req.body, 'body'));
  });
  app.post('/v1/lanes/:lane/scan', async (req) => {
    const { lane } = parse(laneParams, req.params, 'path');
    return { result: deps.scan(lane, parse(scanBody, req.body, 'body').text) };
  });
  app.get('/v1/events', (req, reply) => {
    const { hold } = parse(eventsQuery, req.query, 'query');
    reply.hijack();
    streams.open(reply.raw, { lanes: service.laneIds() }, hold === undefined ? undefined : service.holdWhileOpen(hold));
  });
  return app;
}
