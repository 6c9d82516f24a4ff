/**
 * The local POS API (docs/pos-api.md, docs/openapi.json) as a node:http server, not listening:
 * `listen.ts` puts it on a socket. Every call but the agent's proof needs the bearer token.
 * Every input is checked here with zod; whatever a client sends ends in a 4xx with a catalog
 * code and a message naming the field, or is served: nothing it sends can crash the agent.
 * node:http rather than Fastify: nine routes need no framework, and Fastify with its ajv,
 * avvio and serializers was a third of the JavaScript `scanpay run` parsed before it was ready.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as z from 'zod';
import { ScanpayError, isScanpayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ScanResult } from '../lane.ts';
import type { PosService } from '../pos-service.ts';
import { tokenMatcher } from '../token.ts';
import { agentProof, CHALLENGE, PROOF_PATH } from '../agent-proof.ts';
import { createEventStreams } from './events.ts';
import { readJsonBody } from './json-body.ts';

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

/** What a handler answers: JSON (status 200 unless said; a promise of it is awaited), or text of its own type; nothing when it took the response (the event stream). */
type Answer = { status?: number; json: unknown } | { type: string; text: string } | undefined;

interface Request {
  params: Record<string, string>;
  /** Every value a string, or an array when the name repeats (as Fastify's parser gave). */
  query: Record<string, string | string[]>;
  /** Read only for POST: undefined when none was sent. */
  body: unknown;
  raw: IncomingMessage;
  res: ServerResponse;
}

interface Route {
  method: 'GET' | 'POST';
  /** As docs/openapi.json writes it: `/v1/payments/{id}`. */
  path: string;
  handle(req: Request): Promise<Answer> | Answer;
}

function queryOf(search: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of search) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/** A route's path as a pattern: each `{name}` one whole segment, percent-decoded. */
function matcher(path: string): (pathname: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const re = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), '([^/]+)'))}$`);
  return (pathname) => {
    const m = re.exec(pathname);
    if (!m) return undefined;
    try {
      return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
    } catch {
      throw new ScanpayError('API_BAD_REQUEST', { message: `path: ${pathname} is not valid percent-encoding`, detail: { field: 'path' } });
    }
  };
}

export interface PosApi {
  server: Server;
  /** "METHOD /path/{param}" of every route served (HEAD answers as GET), as docs/openapi.json names them. */
  routes: readonly string[];
  /** Ends the event streams, stops accepting, closes idle connections; resolves when the last request is answered. */
  close(): Promise<void>;
}

export function buildPosApi(deps: PosApiDeps): PosApi {
  const log = deps.logger.child({ component: 'pos-api' });
  const { service } = deps;
  const tokenMatches = tokenMatcher(deps.token);
  const streams = createEventStreams({ subscribe: (l) => service.onEvent(l), heartbeatMs: deps.heartbeatMs ?? 15_000 });

  const routes: Route[] = [
    {
      method: 'GET',
      path: PROOF_PATH,
      handle: (req) => ({ json: { proof: agentProof(deps.token, parse(proofQuery, req.query, 'query').challenge, req.raw.socket.localPort ?? 0) } }),
    },
    { method: 'GET', path: '/openapi.json', handle: () => ({ json: deps.openapi }) },
    { method: 'GET', path: '/metrics', handle: async () => ({ type: deps.metrics.contentType, text: await deps.metrics.text() }) },
    { method: 'GET', path: '/v1/agent', handle: () => ({ json: deps.info() }) },
    {
      method: 'POST',
      path: '/v1/payments',
      handle: (req) => {
        const { payment, created } = service.create(parse(createBody, req.body, 'body'));
        return { status: created ? 201 : 200, json: payment };
      },
    },
    {
      method: 'GET',
      path: '/v1/payments',
      handle: (req) => {
        const q = parse(listQuery, req.query, 'query');
        return { json: { payments: service.list(q.since ?? deps.startOfToday(), q.limit) } };
      },
    },
    { method: 'GET', path: '/v1/payments/{id}', handle: (req) => ({ json: service.get(parse(idParams, req.params, 'path').id) }) },
    { method: 'POST', path: '/v1/payments/{id}/cancel', handle: (req) => ({ json: service.cancel(parse(idParams, req.params, 'path').id) }) },
    { method: 'GET', path: '/v1/payments/{id}/refunds', handle: (req) => ({ json: { refunds: service.refunds(parse(idParams, req.params, 'path').id) } }) },
    {
      method: 'POST',
      path: '/v1/payments/{id}/refunds',
      handle: (req) => {
        const { id } = parse(idParams, req.params, 'path');
        return { json: service.refund(id, parse(refundBody, req.body, 'body')) };
      },
    },
    {
      method: 'POST',
      path: '/v1/lanes/{lane}/scan',
      handle: (req) => {
        const { lane } = parse(laneParams, req.params, 'path');
        return { json: { result: deps.scan(lane, parse(scanBody, req.body, 'body').text) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/events',
      handle: (req) => {
        const { hold } = parse(eventsQuery, req.query, 'query');
        streams.open(req.res, { lanes: service.laneIds() }, hold === undefined ? undefined : service.holdWhileOpen(hold));
        return undefined;
      },
    },
  ];
  const table = routes.map((r) => ({ ...r, match: matcher(r.path) }));
  let closing = false;

  function send(res: ServerResponse, status: number, type: string, text: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
  function sendError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const known = isScanpayError(e) ? e : undefined;
    const error = known ?? new ScanpayError('API_INTERNAL', { cause: e });
    if (!known) log.error({ err: e, method: req.method, url: req.url }, 'POS API request failed');
    if (res.headersSent) return void res.destroy();
    // A body left unread (too large, refused early) is not drained: the connection closes instead.
    if (!req.complete) res.setHeader('connection', 'close');
    send(res, error.status, 'application/json; charset=utf-8', JSON.stringify({ error: error.toJSON() }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closing) throw new ScanpayError('API_SHUTTING_DOWN');
    const url = new URL(req.url ?? '/', 'http://pos-api');
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    // The one open endpoint: a client checks this is its agent before it sends the token.
    if (!(method === 'GET' && url.pathname === PROOF_PATH)) {
      const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
      if (!m || !tokenMatches(m[1]!)) throw new ScanpayError('API_UNAUTHORIZED');
    }
    let found: { route: Route; params: Record<string, string> } | undefined;
    for (const r of table) {
      if (r.method !== method) continue;
      const params = r.match(url.pathname);
      if (params) {
        found = { route: r, params };
        break;
      }
    }
    if (!found) throw new ScanpayError('API_NOT_FOUND', { message: `no endpoint ${req.method} ${url.pathname}: see GET /openapi.json` });
    const body = method === 'POST' ? await readJsonBody(req, BODY_LIMIT) : undefined;
    const answer = await found.route.handle({ params: found.params, query: queryOf(url.searchParams), body, raw: req, res });
    if (answer === undefined) return;
    if ('text' in answer) send(res, 200, answer.type, answer.text);
    else send(res, answer.status ?? 200, 'application/json; charset=utf-8', JSON.stringify(await answer.json));
  }

  const server = createServer((req, res) => {
    // Once closing, a connection ends with its response: close() need not wait out a keep-alive (an event stream it ended included).
    res.once('finish', () => closing && req.socket.end());
    void handle(req, res).catch((e) => sendError(req, res, e));
  });
  // As Fastify kept them: a POS may hold its connection open between payments.
  server.keepAliveTimeout = 72_000;
  // Node's own answer would do; this one keeps the parser's error, raw request bytes (token, codes) included, out of the log.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug({ errorCode: err.code }, 'malformed HTTP request refused');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    routes: routes.map((r) => `${r.method} ${r.path}`),
    close() {
      closing = true;
      streams.closeAll();
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
