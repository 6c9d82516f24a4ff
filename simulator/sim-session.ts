/**
 * The desktop simulator's composition root (`scanpay sim`): a simulated acquirer, a fault
 * proxy between it and the agent (the network: offline, latency), the real agent in demo
 * mode with a virtual scanner, and the operations and live snapshot the web page shows.
 * The agent is the real daemon over its real POS API; nothing here reaches into it beyond
 * its read-only `inspect` views.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PosClient } from '../agent/cli/pos-client.ts';
import { startAgent, type RunningAgent } from '../agent/daemon.ts';
import type { OutboxRow } from '../agent/journal/journal.ts';
import type { Logger } from '../agent/log.ts';
import type { ProfileOverrides } from '../agent/payment/profiles.ts';
import type { Wallet } from '../agent/payment-code.ts';
import type { PosPayment } from '../agent/pos-payment.ts';
import type { PosEvent } from '../agent/pos-service.ts';
import { Emitter } from '../drivers/source.ts';
import type { ProtocolName } from '../agent/backend/acquirer-profile.ts';
import { ScanpayError } from '../agent/errors.ts';
import type { Behaviour, FaultSpec, FaultState, LedgerAudit, LedgerEntry } from './backend/build-backend.ts';
import { SIMULATED_PROTOCOLS, simulatedWire } from './backend/protocol-wires.ts';
import { startBackend, type RunningBackend } from './backend/start-backend.ts';
import { findViolations, type Violation } from './invariants.ts';
import { CameraReader, renderCodePng } from './phone.ts';
import { startFaultProxy, type FaultProxy } from './proxy/fault-proxy.ts';

export interface SimSessionOptions {
  logger: Logger;
  /** Per-wallet timing overrides for the agent, e.g. short deadlines for a demo or a test. */
  profiles?: ProfileOverrides;
  /** The agent's outbox retry schedule (agent/config.ts `outbox`). */
  outbox?: { retryBaseMs?: number; retryMaxMs?: number };
  /** The agent's backend call timeouts (agent/config.ts `backend.timeoutMs`). */
  timeoutMs?: { pay?: number; query?: number; reverse?: number; refund?: number };
  seed?: number;
  /** The wire format the simulated acquirer speaks first (default scanpay-v1); setProtocol() switches. */
  protocol?: ProtocolName;
}

export interface OutboxItemView {
  id: number;
  kind: string;
  orderNo: string | null;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

/** Everything the page shows, in one object: the page redraws from it. */
export interface SimSnapshot {
  at: number;
  /** The wire format the acquirer and the agent speak now, and those QA may switch to. */
  protocol: { current: ProtocolName; available: readonly ProtocolName[]; switching: boolean };
  agent: { up: boolean; apiUrl: string; scanners: Array<{ source: string; status: string }> };
  /** The lane's latest payment. */
  payment: PosPayment | null;
  recent: PosPayment[];
  journal: Array<{ at: number; state: string; cause: string }>;
  outbox: { pending: OutboxItemView[]; dead: OutboxItemView[] };
  network: { down: boolean; delayMs: number };
  backend: { up: boolean; faults: FaultState[]; fired: Array<{ at: number; op: string; orderNo?: string | undefined; fault: string }> };
  ledger: { entries: LedgerEntry[]; audit: LedgerAudit; alarms: Violation[] };
}

export interface SimSession {
  /** The POS: start, cancel, refund on lane 1. */
  pay(amount: number): Promise<PosPayment>;
  cancel(id: string): Promise<PosPayment>;
  refund(id: string): Promise<unknown>;
  /** The customer's phone: a fresh code with this behaviour, and its QR image. */
  issueCode(wallet: Wallet, behaviour: Behaviour): Promise<{ code: string; png: Buffer }>;
  /** An image in front of the scanner: decoded by the real image decoder, then scanned. */
  presentImage(image: Buffer, name: string): Promise<{ text: string; result: string }>;
  /** Typed or pasted text, straight into the virtual scanner. */
  scanText(text: string): Promise<{ result: string }>;
  setNetwork(n: { down?: boolean; delayMs?: number }): Promise<void>;
  addFault(f: FaultSpec): string;
  clearFaults(): void;
  setBackend(up: boolean): Promise<void>;
  restartAgent(): Promise<void>;
  /**
   * The acquirer starts again speaking `protocol` and a fresh agent (new journal: a terminal
   * set up for that acquirer) follows it. Refused while a payment or a queued call is open,
   * which only the acquirer that took it can settle.
   */
  setProtocol(protocol: ProtocolName): Promise<void>;
  snapshot(): SimSnapshot;
  /** Something changed: the page should redraw. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

const LANE = '1';
const RECENT = 8;
const LEDGER_SHOWN = 40;
const FIRED_SHOWN = 20;

function outboxView(r: OutboxRow): OutboxItemView {
  return { id: r.id, kind: r.kind, orderNo: r.order_no, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error };
}

export async function startSimSession(o: SimSessionOptions): Promise<SimSession> {
  const log = o.logger;
  const seed = o.seed ?? 1;
  const root = mkdtempSync(join(tmpdir(), 'scanpay-sim-'));
  let protocol: ProtocolName = o.protocol ?? 'scanpay-v1';
  let switching = false;
  let backend: RunningBackend;
  let proxy: FaultProxy;
  let home: string;
  let agentBackendUrl: string;
  let network = { down: false, delayMs: 0 };
  let backendUp = true;
  /** The simulated acquirer speaking `protocol`, behind the fault proxy (the network), and a home for an agent set up for it. */
  const startAcquirer = async () => {
    const wire = await simulatedWire(protocol);
    backend = await startBackend({ port: 0, seed, logger: log.child({ component: 'simulated-backend' }), ...(wire.wire ? { wire: wire.wire } : {}) });
    proxy = await startFaultProxy({ target: backend.url, seed });
    await proxy.set({ down: network.down, ...(network.delayMs ? { delayMs: network.delayMs } : {}) });
    backendUp = true;
    // The proxy relays bytes: TLS to a WeChat simulator passes through it end to end.
    agentBackendUrl = wire.agentUrl(wire.wire?.tls ? proxy.url.replace(/^http:/, 'https:') : proxy.url);
    home = mkdtempSync(join(root, `${protocol}-`));
    writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: o.profiles ?? {}, ...(o.outbox ? { outbox: o.outbox } : {}), ...(o.timeoutMs ? { backend: { timeoutMs: o.timeoutMs } } : {}) }));
  };
  await startAcquirer();
  const camera = new CameraReader();
  const changes = new Emitter<{ change: undefined }>();
  const changed = () => changes.emit('change', undefined);
  const payments = new Map<string, PosPayment>();
  const scanners = new Map<string, string>();
  let agent: RunningAgent;
  let client: PosClient;
  let agentUp = false;
  let offEvents = () => {};

  const onEvent = (e: PosEvent) => {
    if (e.type === 'payment') {
      payments.delete(e.payment.id);
      payments.set(e.payment.id, e.payment);
      if (payments.size > RECENT) payments.delete(payments.keys().next().value!);
    } else if (e.type === 'scanner') scanners.set(e.source, e.status);
    changed();
  };
  const launch = async (port: number) => {
    agent = await startAgent({ home, logger: log.child({ component: 'agent' }), demo: true, backendUrl: agentBackendUrl, protocol, port });
    client = new PosClient({ baseUrl: agent.apiUrl, token: agent.token });
    offEvents = agent.inspect.onEvent(onEvent);
    type Info = { lanes: Array<{ scanners: Array<{ source: string; status: string }> }> };
    // After a restart on the same port, fetch may first pick a kept-alive socket of the
    // agent that just stopped: one retry gets a fresh connection.
    const info = await client.request<Info>('GET', '/v1/agent').catch(() => client.request<Info>('GET', '/v1/agent'));
    for (const s of info.lanes.flatMap((l) => l.scanners)) scanners.set(s.source, s.status);
    agentUp = true;
    changed();
  };
  await launch(0);
  // The same port after a restart, so a page or script holding the URL keeps working.
  const apiPort = Number(new URL(agent!.apiUrl).port);
  // Faults, the customer's decision and the outbox change state without an agent event.
  const poll = setInterval(changed, 500);
  poll.unref();

  let lastAlarms: Violation[] = [];
  const snapshot = (): SimSnapshot => {
    const payment = [...payments.values()].at(-1) ?? null;
    const journal = agentUp ? agent.inspect.journal : undefined;
    if (journal) lastAlarms = findViolations(backend.sim, (orderNo) => journal.getPayment(orderNo));
    return {
      at: Date.now(),
      protocol: { current: protocol, available: SIMULATED_PROTOCOLS, switching },
      agent: { up: agentUp, apiUrl: agent.apiUrl, scanners: [...scanners].map(([source, status]) => ({ source, status })) },
      payment,
      recent: [...payments.values()].reverse(),
      journal: journal && payment?.orderNo ? journal.events(payment.orderNo).map((e) => ({ at: e.at, state: e.state, cause: e.cause })) : [],
      outbox: { pending: journal?.outbox('pending').map(outboxView) ?? [], dead: journal?.outbox('dead').map(outboxView) ?? [] },
      network,
      // A fault that has fired its last call leaves `faults`: the log keeps what it did.
      backend: { up: backendUp, faults: backend.sim.faults(), fired: backend.sim.calls().flatMap((c) => (c.fault ? [{ at: c.at, op: c.op, orderNo: c.orderNo, fault: c.fault }] : [])).slice(-FIRED_SHOWN) },
      ledger: { entries: backend.sim.ledger(LEDGER_SHOWN), audit: backend.sim.audit(), alarms: lastAlarms },
    };
  };
  const after = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } finally {
      changed();
    }
  };

  return {
    pay: (amount) => after(client.create({ id: `SIM-${Date.now().toString(36)}`, amount, lane: LANE, description: 'desktop simulator' })),
    cancel: (id) => after(client.cancel(id)),
    refund: (id) => after(client.refund(id, { refundId: `${id}-Rall` })),
    async issueCode(wallet, behaviour) {
      const code = backend.sim.issueCode(wallet, behaviour);
      return { code, png: await renderCodePng(code) };
    },
    async presentImage(image, name) {
      const text = camera.read(image, name);
      return { text, ...(await after(client.request<{ result: string }>('POST', `/v1/lanes/${LANE}/scan`, { text }))) };
    },
    scanText: (text) => after(client.request<{ result: string }>('POST', `/v1/lanes/${LANE}/scan`, { text })),
    async setNetwork(n) {
      network = { ...network, ...n };
      await proxy.set({ down: network.down, ...(network.delayMs ? { delayMs: network.delayMs } : {}) });
      changed();
    },
    addFault(f) {
      const id = backend.sim.addFault(f);
      changed();
      return id;
    },
    clearFaults() {
      backend.sim.clearFaults();
      changed();
    },
    async setBackend(up) {
      await (up ? backend.restart() : backend.stop());
      backendUp = up;
      changed();
    },
    async restartAgent() {
      agentUp = false;
      offEvents();
      changed();
      await agent.stop();
      await launch(apiPort);
    },
    async setProtocol(next) {
      if (!SIMULATED_PROTOCOLS.includes(next)) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `protocol: one of ${SIMULATED_PROTOCOLS.join(', ')}` });
      if (switching) throw new ScanpayError('SIM_CONTROL_INVALID', { message: 'a protocol switch is already under way' });
      if (next === protocol) return;
      const open = [...payments.values()].find((p) => p.result === null);
      const queued = agentUp ? agent.inspect.journal.outbox('pending').length : 0;
      if (open || queued) {
        throw new ScanpayError('SIM_CONTROL_INVALID', { message: `finish first: ${open ? `payment ${open.id} is still open` : `${queued} queued call(s) not yet delivered`}; only the ${protocol} acquirer can settle it` });
      }
      switching = true;
      agentUp = false;
      offEvents();
      changed();
      try {
        await agent.stop();
        await proxy.close();
        await backend.close();
        rmSync(home, { recursive: true, force: true });
        payments.clear();
        scanners.clear();
        protocol = next;
        await startAcquirer();
        await launch(apiPort);
      } finally {
        switching = false;
        changed();
      }
    },
    snapshot,
    onChange: (listener) => changes.on('change', listener),
    async close() {
      clearInterval(poll);
      offEvents();
      if (agentUp) await agent.stop();
      await proxy.close();
      await backend.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
