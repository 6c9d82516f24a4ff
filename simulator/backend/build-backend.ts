/**
 * The simulated acquiring backend as a Fastify app (no listening: see start-backend.ts).
 *
 * `/v1/*` speaks protocol v1 (docs/protocol.md): every request verified, every 200
 * answer signed over the exact bytes sent. `/control/*` is the unsigned QA API
 * (control-routes.ts). `sim` is the same control surface in process, for tests.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyPluginAsync, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as z from 'zod';
import { systemClock, type Clock } from '../../agent/clock.ts';
import { isScanpayError, ScanpayError } from '../../agent/errors.ts';
import { silentLogger, type Logger } from '../../agent/log.ts';
import type { Wallet } from '../../agent/payment-code.ts';
import { PATHS, REQUEST_SCHEMAS, type Operation } from '../../agent/protocol/messages.ts';
import { DEFAULT_SKEW_MS, HEADER, NonceCache, signResponse } from '../../agent/protocol/signing.ts';
import { controlRoutes } from './control-routes.ts';
import { DEMO_TERMINAL } from './demo-terminal.ts';
import { DeviceBackend } from './device-backend.ts';
import { deviceRoutes } from './device-routes.ts';
import { TerminalRegistry } from './terminal-registry.ts';
import { memoryStore, sqliteStore } from './backend-store.ts';
import { describeIssues, FaultTable, type FaultKind, type FaultSpec, type FaultState } from './faults.ts';
import type { LedgerAudit, LedgerEntry } from './ledger.ts';
import { cut, deliverFault, type Signing } from './wire-call.ts';
import { V1_RULES, WalletModel, type Behaviour, type OrderView, type WalletRules } from './wallet-model.ts';

export type { Behaviour, OrderView, FaultSpec, FaultState, LedgerEntry, LedgerAudit };

export interface BackendOptions {
  clock?: Clock;
  terminals?: Array<{ terminalId: string; key: Buffer }>;
  /** How long an issued payment code stays valid. */
  codeTtlMs?: number;
  /** When a walk-away customer gives up (the order turns NOTPAY). */
  passwordAbandonMs?: number;
  /** How old an order may be and still be reversed. */
  reverseWindowMs?: number;
  /** Seed of the random choices of rate-based faults. */
  seed?: number;
  /** The acquirer's own rules where acquirers differ (simulator/backend/rule-profiles.ts); default protocol v1's. */
  rules?: Partial<WalletRules>;
  logger?: Logger;
  /** Another acquirer's wire format over the same wallets, ledger, faults and control API, in place of /v1 (simulator/backend/wechat, alipay, upay). */
  wire?: WireProtocol;
  /** SQLite file keeping orders, codes, the ledger, calls and terminals across restarts (backend-store.ts); an in-memory database when absent. */
  storePath?: string | undefined;
}

/** What a wire format needs from the simulated backend. */
export interface WireDeps {
  model: WalletModel;
  faults: FaultTable;
  clock: Clock;
  logger: Logger;
  /** The rules the wallets enforce: protocol v1's, then the wire's, then the options'. */
  rules: WalletRules;
  /** Adds a call to calls(); the function returned saves later changes to it (a refusal). */
  record(call: CallRecord): () => void;
  /** Waits on the clock as a parked call (see parkedCalls). */
  park(wait: Promise<void>): Promise<void>;
}

export interface WireProtocol {
  routes(deps: WireDeps): FastifyPluginAsync;
  /** The acquirer's own rules (e.g. WeChat's 15 s earliest reverse); `rules` of the options override them. */
  rules?: Partial<WalletRules>;
  /** Served over HTTPS with this certificate; a client certificate is asked for (not required) and judged by the wire. */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer };
  /** The only wallet this acquirer takes: codes issued through the control API are of it (an Alipay app takes Alipay codes only). */
  onlyWallet?: Wallet;
}

export const BACKEND_DEFAULTS = {
  codeTtlMs: 60_000,
  passwordAbandonMs: 90_000,
  reverseWindowMs: 7 * 24 * 60 * 60_000,
  seed: 1,
} as const;

/** Largest request body accepted, as docs/protocol.md says. */
export const BODY_LIMIT = 64 * 1024;

const durationMs = z.number().int().positive().max(365 * 24 * 60 * 60_000);
const optionsSchema = z.object({
  codeTtlMs: durationMs.default(BACKEND_DEFAULTS.codeTtlMs),
  passwordAbandonMs: durationMs.default(BACKEND_DEFAULTS.passwordAbandonMs),
  reverseWindowMs: durationMs.default(BACKEND_DEFAULTS.reverseWindowMs),
  seed: z.number().int().default(BACKEND_DEFAULTS.seed),
  terminals: z
    .array(z.object({ terminalId: z.string().min(1).max(64), key: z.instanceof(Buffer).refine((k) => k.length >= 16, 'keys are at least 16 bytes') }))
    .min(1)
    .optional(),
});

export interface CallRecord {
  op: Operation;
  orderNo?: string;
  /** Clock time the call arrived. */
  at: number;
  /** Injected fault(s) that hit the call, e.g. `lost-response` or `latency+http5xx`. */
  fault?: string;
  /** Protocol refusal code when the call was refused (401, 400). */
  error?: string;
}

export interface SimBackend {
  /** A fresh valid code for that wallet, issued now, whose suffix (and override) encodes the behaviour. */
  issueCode(wallet: Wallet, behaviour: Behaviour): string;
  /** Like issueCode, also returning when the code expires. */
  issue(wallet: Wallet, behaviour: Behaviour): { code: string; expiresAt: number };
  setBehaviour(code: string, behaviour: Behaviour): void;
  addFault(f: FaultSpec): string;
  clearFaults(): void;
  faults(): FaultState[];
  /** The whole ledger, or its newest `last` entries (oldest first). */
  ledger(last?: number): LedgerEntry[];
  order(orderNo: string): OrderView | undefined;
  orders(): OrderView[];
  audit(): LedgerAudit;
  /** Forgets orders, codes, faults, the ledger and calls (not the nonces seen). */
  reset(): void;
  /** Every call received, or those naming `orderNo`, oldest first. */
  calls(orderNo?: string): CallRecord[];
  /** The time on the backend's clock. */
  now(): number;
  /**
   * Calls waiting on the backend's clock right now (held queries, injected latency): a
   * driver of a ManualClock moves time once every call in flight is one of these.
   */
  parkedCalls(): number;
  /** Activation, parameters, heartbeats, key rotation and settlement (device-backend.ts). */
  device: DeviceBackend;
}

type PayInput = z.output<typeof REQUEST_SCHEMAS.pay>;
type RefundInput = z.output<typeof REQUEST_SCHEMAS.refund>;
type QueryInput = z.output<typeof REQUEST_SCHEMAS.query>;

/** What the protocol handler decided to send, before response faults bend it. */
type Answer = { status: number; body: Buffer };

export function buildBackend(o: BackendOptions = {}): { app: FastifyInstance; sim: SimBackend } {
  const parsed = optionsSchema.safeParse(o);
  if (!parsed.success) throw new ScanpayError('CONFIG_INVALID', { message: `simulated backend options: ${describeIssues(parsed.error)}` });
  const opts = parsed.data;
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  const store = o.storePath ? sqliteStore(o.storePath) : memoryStore();
  const terminals = new TerminalRegistry(clock, opts.terminals ?? [DEMO_TERMINAL], store);
  const rules: WalletRules = { ...V1_RULES, ...o.wire?.rules, ...o.rules };
  const model = new WalletModel({ clock, codeTtlMs: opts.codeTtlMs, passwordAbandonMs: opts.passwordAbandonMs, reverseWindowMs: opts.reverseWindowMs, store, rules });
  const device = new DeviceBackend({ clock, registry: terminals, book: model, store });
  const faults = new FaultTable(opts.seed);
  // A fleet's requests (65,536: 50 lanes at full speed over the 10 minutes a nonce is held);
  // past that each terminal's low-water mark keeps replays out (agent/protocol/signing.ts).
  const nonces = new NonceCache(DEFAULT_SKEW_MS, 65_536);
  // On disk like the orders: one or more calls per payment.
  const callLog = store.calls<CallRecord>();
  const record = (call: CallRecord): (() => void) => {
    const seq = callLog.append(call, call.orderNo);
    return () => callLog.replace(seq, call);
  };
  /** Held queries by order number: each entry releases one. */
  const held = new Map<string, Set<() => void>>();
  let parked = 0;
  const park = async (wait: Promise<void>): Promise<void> => {
    parked++;
    try {
      await wait;
    } finally {
      parked--;
    }
  };
  const release = (orderNo: string) => {
    for (const wake of held.get(orderNo) ?? []) wake();
  };

  /**
   * Long-poll (docs/protocol.md): holds a query on the clock until its order changes on
   * its own (the customer's decision), another call touches it, or `waitMs` passes.
   */
  const hold = async ({ orderNo, waitMs = 0 }: QueryInput): Promise<void> => {
    const until = Math.min(clock.now() + waitMs, model.changesAt(orderNo));
    if (until <= clock.now()) return;
    await park(new Promise<void>((resolve) => {
      const set = held.get(orderNo) ?? new Set();
      held.set(orderNo, set);
      const wake = () => {
        clock.clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) held.delete(orderNo);
        resolve();
      };
      const timer = clock.setTimeout(wake, until - clock.now());
      set.add(wake);
    }));
  };

  const sim: SimBackend = {
    issueCode: (wallet, behaviour) => model.issueCode(o.wire?.onlyWallet ?? wallet, behaviour).code,
    issue: (wallet, behaviour) => model.issueCode(o.wire?.onlyWallet ?? wallet, behaviour),
    setBehaviour: (code, behaviour) => model.setBehaviour(code, behaviour),
    addFault: (f) => faults.add(f).id,
    clearFaults: () => faults.clear(),
    faults: () => faults.list(),
    ledger: (last) => model.ledger(last),
    order: (orderNo) => model.order(orderNo),
    orders: () => model.orders(),
    audit: () => model.audit(),
    reset: () => {
      model.reset();
      faults.reset();
      callLog.clear();
    },
    calls: (orderNo) => (orderNo === undefined ? callLog.all() : callLog.byOrder(orderNo)),
    now: () => clock.now(),
    parkedCalls: () => parked,
    device,
  };

  /** Runs a validated request against the wallets. */
  const answerFor = (op: Operation, input: unknown): unknown => {
    switch (op) {
      case 'pay':
        return model.pay(input as PayInput);
      case 'query':
        return model.query((input as { orderNo: string }).orderNo);
      case 'reverse':
        return model.reverse((input as { orderNo: string }).orderNo);
      case 'refund':
        return model.refund(input as RefundInput);
    }
  };

  async function handle(op: Operation, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const call: CallRecord = { op, at: clock.now(), ...orderNoOf(raw) };
    const pick = faults.pick(op);
    if (pick.label) call.fault = pick.label;
    const saveCall = record(call);
    if (pick.latencyMs > 0) await park(new Promise<void>((resolve) => clock.setTimeout(resolve, pick.latencyMs)));
    const kind: FaultKind | undefined = pick.fault?.kind;
    const log = logger.child({ op, orderNo: call.orderNo, ...(call.fault ? { fault: call.fault } : {}) });

    if (kind === 'reset') {
      log.info('fault: connection reset before processing');
      return cut(reply);
    }
    if (kind === 'http5xx') {
      log.info('fault: HTTP error without processing');
      return refuse(reply, pick.fault?.status ?? 503, new ScanpayError('SIM_FAULT_INJECTED'));
    }

    // Verify the envelope; a refusal of an unverified request goes out unsigned.
    const path = PATHS[op];
    const terminalId = headerOf(req, HEADER.terminal);
    let key: Buffer;
    let requestNonce: string;
    try {
      if (!terminalId) throw new ScanpayError('PROTO_SIGNATURE_MISSING', { message: 'the message carries no terminal id' });
      ({ key, nonce: requestNonce } = terminals.verify({ method: 'POST', path, terminalId, body: raw }, req.headers, { now: clock.now(), nonces }));
      device.keyUsed(terminalId, key);
      terminals.noteOrder(terminalId, call.orderNo);
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      call.error = e.code;
      saveCall();
      log.warn({ refusal: e.code }, 'request refused');
      return refuse(reply, e.status, e, clock.now());
    }

    const send = ({ status, body, signing = 'signed' }: Answer & { signing?: Signing }): void => {
      if (signing !== 'unsigned') {
        const signKey = signing === 'signed' ? key : Buffer.concat([key, Buffer.from('-not-the-key')]);
        reply.headers({ ...signResponse({ method: 'POST', path, terminalId, body, status, requestNonce }, signKey, clock.now()) });
      }
      reply.code(status).type('application/json; charset=utf-8').send(body);
    };

    const input = parseBody(op, raw);
    if (input instanceof ScanpayError) {
      call.error = input.code;
      saveCall();
      log.warn({ refusal: input.code, reason: input.message }, 'request refused');
      return send({ status: input.status, body: errorBody(input) });
    }

    if (op === 'query' && kind !== 'system-error') await hold(input as QueryInput);
    const answer = kind === 'system-error' ? systemError(op, input) : answerFor(op, input);
    // A reverse or refund changes the order: a query held on it answers now.
    if (op !== 'query') release((input as { orderNo: string }).orderNo);
    const body = Buffer.from(JSON.stringify(answer));
    log.info({ result: (answer as { result?: string }).result }, 'processed');
    // The signature covers what is sent, even a malformed half: send() signs after the fault.
    deliverFault(reply, kind, (signing) => ({ status: 200, body, signing }), send);
  }

  const tls = o.wire?.tls;
  const app = Fastify({
    ...(tls ? { https: { ...tls, requestCert: true, rejectUnauthorized: false } } : {}),
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;

  if (o.wire) app.register(o.wire.routes({ model, faults, clock, logger, rules, park, record }));
  else app.register(async (v1) => {
    // Keep the exact bytes: the signature covers them, and JSON is parsed after verification.
    v1.removeAllContentTypeParsers();
    v1.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    v1.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      const e = new ScanpayError('PROTO_BAD_REQUEST', { message: status === 413 ? `the body exceeds ${BODY_LIMIT} bytes` : err.message });
      reply.code(status).send(status === 500 ? { error: { code: 'INTERNAL', message: err.message } } : errorBody(e));
    });
    for (const op of Object.keys(PATHS) as Operation[]) {
      v1.post(PATHS[op], (req, reply) => handle(op, req, reply));
    }
  });
  app.register(controlRoutes(sim), { prefix: '/control' });
  app.register(deviceRoutes({ device, registry: terminals, clock, nonces, logger, book: model }));
  // Held queries wait on the clock: let them go, or a system clock keeps the process alive.
  app.addHook('onClose', async () => {
    for (const orderNo of [...held.keys()]) release(orderNo);
    store.close();
  });
  return { app, sim };
}

function errorBody(e: ScanpayError): Buffer {
  return Buffer.from(JSON.stringify({ error: { code: e.code, message: e.message } }));
}

/**
 * An unsigned protocol refusal: the request did not verify, or was never looked at. A
 * refusal for skew says the backend's time, so the terminal learns how far off it is.
 */
function refuse(reply: FastifyReply, status: number, e: ScanpayError, now?: number): void {
  const body = isScanpayError(e, 'PROTO_TIMESTAMP_SKEW') && now !== undefined ? Buffer.from(JSON.stringify({ error: { code: e.code, message: e.message }, serverTime: now })) : errorBody(e);
  reply.code(status).type('application/json; charset=utf-8').send(body);
}

function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The order number, read leniently before verification, so calls() can name it. */
function orderNoOf(raw: Buffer): { orderNo?: string } {
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    const n = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).orderNo : undefined;
    return typeof n === 'string' ? { orderNo: n.slice(0, 64) } : {};
  } catch {
    return {};
  }
}

function parseBody(op: Operation, raw: Buffer): unknown {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return new ScanpayError('PROTO_BAD_REQUEST', { message: 'the body is not JSON' });
  }
  const r = REQUEST_SCHEMAS[op].safeParse(json);
  return r.success ? r.data : new ScanpayError('PROTO_BAD_REQUEST', { message: `${op}: ${describeIssues(r.error)}` });
}

/** A signed business UNKNOWN (WeChat's SYSTEMERROR), answered without touching the order. */
function systemError(op: Operation, input: unknown): unknown {
  const { orderNo, refundNo } = input as { orderNo: string; refundNo?: string };
  const base = { result: 'UNKNOWN', orderNo, reasonCode: 'SYSTEM_ERROR', reasonMessage: 'simulated system error: query again' };
  if (op === 'reverse') return { ...base, recall: true };
  if (op === 'refund') return { ...base, refundNo };
  return base;
}
