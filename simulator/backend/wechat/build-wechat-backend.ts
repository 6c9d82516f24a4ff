/**
 * A simulated WeChat Pay backend (v2 or v3) as a Fastify app over HTTPS: the wire layer of
 * v2-wire.ts or v3-wire.ts, WeChat's rules (wechat-book.ts) over the shared wallet model,
 * the same injected faults and the same unsigned `/control` QA API as the protocol v1
 * simulator. The server asks for a client certificate and judges it against the demo CA
 * and the simulator's clock; only `/secapi/` insists on one, as WeChat does.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { systemClock, type Clock } from '../../../agent/clock.ts';
import { silentLogger, type Logger } from '../../../agent/log.ts';
import type { Operation } from '../../../agent/protocol/messages.ts';
import type { SimBackend, CallRecord } from '../build-backend.ts';
import { BACKEND_DEFAULTS, BODY_LIMIT } from '../build-backend.ts';
import { controlRoutes } from '../control-routes.ts';
import { DEMO_TERMINAL } from '../demo-terminal.ts';
import { DeviceBackend } from '../device-backend.ts';
import { FaultTable } from '../faults.ts';
import { TerminalRegistry } from '../terminal-registry.ts';
import { DEMO_FILES } from './demo-merchant.ts';
import { v2Wire } from './v2-wire.ts';
import { v3Wire } from './v3-wire.ts';
import { WechatBook, type WechatRules } from './wechat-book.ts';
import type { IncomingCall, Signing, Wire, WireProtocol } from './wire.ts';

export type WechatProtocol = 'wechat-v2' | 'wechat-v3';

export interface WechatBackendOptions {
  protocol: WechatProtocol;
  clock?: Clock;
  codeTtlMs?: number;
  reverseWindowMs?: number;
  /** WeChat's 15 s earliest reverse and 45 s revoke of unpaid orders; shortened for fast chaos runs. */
  rules?: Partial<WechatRules>;
  seed?: number;
  logger?: Logger;
}

const ca = readFileSync(DEMO_FILES.ca);
const caCert = new X509Certificate(ca);

/** The client certificate of this TLS connection, judged as WeChat would: issued by the CA, valid now. */
function peerCertOf(req: FastifyRequest, now: number): IncomingCall['peerCert'] {
  const socket = req.raw.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer || !peer.raw) return undefined;
  const cert = new X509Certificate(peer.raw);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return { valid: false, error: 'not issued by WeChat Pay (demo CA)' };
  if (Date.parse(cert.validTo) <= now) return { valid: false, error: `expired on ${cert.validTo}` };
  if (Date.parse(cert.validFrom) > now) return { valid: false, error: `not valid before ${cert.validFrom}` };
  return { valid: true };
}

export function buildWechatBackend(o: WechatBackendOptions): { app: FastifyInstance; sim: SimBackend } {
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  const book = new WechatBook({ clock, codeTtlMs: o.codeTtlMs ?? BACKEND_DEFAULTS.codeTtlMs, reverseWindowMs: o.reverseWindowMs ?? BACKEND_DEFAULTS.reverseWindowMs, ...(o.rules ? { rules: o.rules } : {}) });
  const model = book.model;
  const faults = new FaultTable(o.seed ?? BACKEND_DEFAULTS.seed);
  const wire = (o.protocol === 'wechat-v2' ? v2Wire : v3Wire) as WireProtocol<unknown, unknown>;
  let calls: CallRecord[] = [];
  let parked = 0;

  const sim: SimBackend = {
    issueCode: (wallet, behaviour) => book.issue(wallet, behaviour).code,
    issue: (wallet, behaviour) => book.issue(wallet, behaviour),
    setBehaviour: (code, behaviour) => book.setBehaviour(code, behaviour),
    addFault: (f) => faults.add(f).id,
    clearFaults: () => faults.clear(),
    faults: () => faults.list(),
    ledger: () => model.ledger(),
    order: (orderNo) => model.order(orderNo),
    orders: () => model.orders(),
    audit: () => model.audit(),
    reset: () => {
      book.reset();
      faults.reset();
      calls = [];
    },
    calls: () => calls.map((c) => ({ ...c })),
    now: () => clock.now(),
    parkedCalls: () => parked,
    // No device operations in WeChat's API; the control surface's type asks for one.
    device: new DeviceBackend({ clock, registry: new TerminalRegistry(clock, [DEMO_TERMINAL]), book: model }),
  };

  async function handle(op: Operation, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const now = clock.now();
    const call: IncomingCall = {
      method: req.method,
      url: req.url,
      params: (req.params ?? {}) as Record<string, string>,
      headers: req.headers,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      now,
    };
    const peerCert = peerCertOf(req, now);
    if (peerCert) call.peerCert = peerCert;
    const record: CallRecord = { op, at: now };
    calls.push(record);
    const pick = faults.pick(op);
    if (pick.label) record.fault = pick.label;
    if (pick.latencyMs > 0) {
      parked++;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, pick.latencyMs)).finally(() => parked--);
    }
    const kind = pick.fault?.kind;
    if (kind === 'reset') return cut(reply);
    if (kind === 'http5xx') return send(reply, { status: pick.fault?.status ?? 503, headers: { 'content-type': 'text/html' }, body: '<html><body>503 Service Unavailable</body></html>' });

    const parsed = wire.parse(op, call);
    if (parsed.orderNo) record.orderNo = parsed.orderNo.slice(0, 64);
    const log = logger.child({ op, orderNo: record.orderNo, ...(record.fault ? { fault: record.fault } : {}) });
    if ('refuse' in parsed) {
      record.error = 'REFUSED';
      log.warn({ status: parsed.refuse.status }, 'request refused');
      return send(reply, parsed.refuse);
    }
    const answer = parsed.invalid ?? (kind === 'system-error' ? wire.systemError(op, parsed.input) : wire.process(op, parsed.input, book));
    log.info('processed');
    const emit = (signing: Signing) => wire.emit(answer, signing, clock.now());
    switch (kind) {
      case 'lost-response':
        return cut(reply);
      case 'hang':
        reply.hijack();
        return;
      case 'malformed': {
        const w = emit('signed');
        return send(reply, { ...w, body: w.body.slice(0, Math.max(1, Math.floor(w.body.length / 2))) });
      }
      case 'unsigned':
        return send(reply, emit('unsigned'));
      case 'bad-signature':
        return send(reply, emit('wrong-key'));
      default:
        return send(reply, emit('signed'));
    }
  }

  const server = readFileSync(DEMO_FILES.server.cert);
  const app = Fastify({
    https: { cert: server, key: readFileSync(DEMO_FILES.server.key), ca, requestCert: true, rejectUnauthorized: false },
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;

  app.register(async (api) => {
    // The exact bytes: the signatures cover them.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    for (const r of wire.routes) api.route({ method: r.method, url: r.url, handler: (req, reply) => handle(r.op, req, reply) });
  });
  app.register(controlRoutes(sim), { prefix: '/control' });
  return { app, sim };
}

function send(reply: FastifyReply, w: Wire): void {
  reply.code(w.status).headers(w.headers).send(w.body);
}

function cut(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}
