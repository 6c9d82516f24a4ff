/**
 * The composition root of `scanpay run`: the one place where real implementations are
 * bound. Journal, acquirer (with metrics), payment engine (crash recovery and the outbox
 * worker), lanes, scanners, the POS API; and the order in which they stop so that nothing
 * in flight is lost: no new requests, waiting payments end (nothing was sent for them),
 * the engine finishes its in-flight calls and records their answers, the journal closes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceClient } from './backend/device-client.ts';
import { withRules } from './backend/acquirer-profile.ts';
import { createAcquirer, loadAcquirerTerminal } from './backend/create-acquirer.ts';
import { DeviceSync, UPLOAD_KIND } from './device-sync.ts';
import { loadParams } from './params.ts';
import { scheduleSettlement, settle } from './settlement.ts';
import { readTerminalRecord } from './terminal-store.ts';
import { AGENT_VERSION } from './version.ts';
import { systemClock, type Clock } from './clock.ts';
import { loadConfig, type AgentConfig, checkBackendTransport } from './config.ts';
import { ScanpayError } from './errors.ts';
import { Journal } from './journal/journal.ts';
import { journalFaultsFromEnv } from './journal-faults.ts';
import type { Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import type { ProfileOverrides } from './payment/profiles.ts';
import type { ProtocolName } from './backend/acquirer-profile.ts';
import { PaymentEngine } from './payment/engine.ts';
import { buildPosApi } from './pos-api/build-pos-api.ts';
import { listenPosApi } from './pos-api/listen.ts';
import { PosService } from './pos-service.ts';
import { ScannerManager } from './scanner-manager.ts';
import { ensureToken } from './token.ts';
import { removeAgentFile, writeAgentFile } from './agent-file.ts';
import { walScrubber } from './wal-scrub.ts';
import { acquireInstanceLock } from './instance-lock.ts';
import { createSource } from '../drivers/create-source.ts';
import type { ScannerSource } from '../drivers/source.ts';
import { VirtualSource } from '../drivers/virtual.ts';
import type { RunningBackend } from '../simulator/backend/start-backend.ts';
import { confirmWithBackend, guardJournal } from './journal-guard.ts';
import { cashierSkewNotice, ClockOffset } from './clock-offset.ts';
import { alarmCounts, deviceAlarmWords } from './payment/payment-alarms.ts';

export interface AgentOptions {
  home: string;
  logger: Logger;
  /** Demo mode: the public demo terminal when none is provisioned, a virtual scanner per lane, and an embedded simulated backend unless `backendUrl` is given. */
  demo?: boolean;
  backendUrl?: string | undefined;
  /** Overrides backend.protocol in config.json. */
  protocol?: ProtocolName | undefined;
  port?: number | undefined;
  host?: string | undefined;
  clock?: Clock;
}

export interface RunningAgent {
  apiUrl: string;
  token: string;
  terminalId: string;
  backendUrl: string;
  /** The embedded simulated backend's URL (demo mode without --backend). */
  simulatorUrl: string | null;
  lanes: string[];
  /** Read-only views for the desktop simulator (simulator/sim-session.ts): what the journal holds, and the POS event stream. */
  inspect: { journal: Pick<Journal, 'outbox' | 'events' | 'getPayment'>; onEvent: PosService['onEvent'] };
  /** Lanes with no scanner at all: only a POS that sends the code (`pay --code`) can take payments there. */
  lanesWithoutScanner: string[];
  /** Sends the outbox's due items now (a technician's `scanpay queue retry`). */
  kickOutbox(): void;
  stop(): Promise<void>;
}

const OPENAPI_PATH = new URL('../docs/openapi.json', import.meta.url);

/** Demo mode gives each lane a virtual scanner, so `POST /v1/lanes/:lane/scan` can stand in for a customer's phone. */
function laneScanners(config: AgentConfig, demo: boolean): Array<{ lane: string; specs: string[] }> {
  return config.lanes.map((l) => ({
    lane: l.id,
    specs: demo && !l.scanners.some((s) => s.startsWith('virtual:')) ? [...l.scanners, `virtual:lane-${l.id}`] : l.scanners,
  }));
}


function startOfToday(clock: Clock): number {
  const d = new Date(clock.now());
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const clock = o.clock ?? systemClock;
  const log = o.logger;
  const demo = o.demo ?? false;
  const config = loadConfig(o.home, { backendUrl: o.backendUrl, port: o.port, host: o.host, protocol: o.protocol });
  const terminal = await loadAcquirerTerminal(o.home, config, demo);
  const token = ensureToken(o.home);
  const cleanup: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step();
  };

  try {
    let simulator: RunningBackend | undefined;
    let backendUrl = config.backend.url;
    if (!backendUrl) {
      if (!demo) throw new ScanpayError('CONFIG_INVALID', { message: 'backend.url: no acquirer configured: set it in config.json, pass --backend URL, or run with --demo' });
      // Loaded only here (the embedded backend keeps its orders across restarts, as a real one does): an agent with a real acquirer never loads the simulator.
      const { startSimulatedBackend } = await import('../simulator/backend/protocol-wires.ts');
      const started = await startSimulatedBackend(config.backend.protocol, { port: 0, logger: log.child({ component: 'simulated-backend' }), storePath: join(o.home, 'sim-backend.db') });
      simulator = started.backend;
      cleanup.push(() => simulator!.close());
      backendUrl = started.agentUrl;
    }
    const transport = checkBackendTransport(backendUrl, { demo, allowInsecureHttp: config.backend.allowInsecureHttp });
    if (transport.warning) log.warn(transport.warning);

    const lock = acquireInstanceLock(o.home);
    cleanup.push(() => lock.release());
    const journal = Journal.open(join(o.home, 'journal.db'), { maxSizeBytes: config.journalMaxBytes });
    cleanup.push(() => journal.close());

    const scanners: Array<{ lane: string; source: ScannerSource }> = laneScanners(config, demo).flatMap(({ lane, specs }) => specs.map((spec) => ({ lane, source: createSource(spec, { clock }) })));
    const laneOfSource = new Map(scanners.map((s) => [s.source.id, s.lane]));
    const manager = new ScannerManager({ sources: scanners.map((s) => s.source), clock, logger: log.child({ component: 'scanners' }) });

    const clockOffset = new ClockOffset(clock); // device-faults hook (issue 12)
    const metrics = createMetrics({
      outbox: () => ({ pending: journal.outbox('pending').length, dead: journal.outbox('dead').length }),
      scanners: () => manager.statuses(),
      clockSkewMs: () => clockOffset.skewMs(), // device-faults hook (issue 12)
      alarms: () => ({ ...alarmCounts(journal) }), // issue 12
      now: () => clock.now(),
    });
    const { acquirer, profile, setKey, background } = await createAcquirer({ config, home: o.home, backendUrl, terminal, clock, onCall: metrics.backendCall, demo, clockOffset, logger: log.child({ component: 'acquirer' }) });
    const engine = new PaymentEngine({
      journal,
      acquirer,
      clock,
      terminalId: terminal.terminalId,
      logger: log.child({ component: 'engine' }),
      profiles: config.profiles as ProfileOverrides,
      acquirerProfile: withRules(profile, config.acquirerRules),
      maxAmount: config.maxAmount,
      // Bound below once the device sync exists, before the outbox can start.
      outboxHandlers: { [UPLOAD_KIND]: (item) => sync!.deliverUpload(item) },
      outbox: config.outbox,
    });
    // device-faults hook (issue 12): refuse a journal that disagrees with its mark, before anything resumes.
    const journalGuard = guardJournal({ home: o.home, journal, clock, logger: log.child({ component: 'journal-guard' }) }, engine);
    cleanup.push(() => journalGuard.stop());
    const service = new PosService({
      engine,
      laneIds: config.lanes.map((l) => l.id),
      orderNoOf: (id) => journal.getByPosOrderId(id)?.order_no,
      currency: config.currency,
      scanTimeoutMs: config.scanTimeoutMs,
      hasScanner: (lane) => scanners.some((s) => s.lane === lane),
      clock,
      logger: log.child({ component: 'lane' }),
    });
    service.onEvent((e) => {
      metrics.observe(e);
      // One line per state change, with the trace id the backend also logs: the engine's own
      // lines are debug, so a payment paid at once costs two lines (accepted with its masked code, then paid).
      if (e.type === 'payment') {
        const p = e.payment;
        const accepted = p.state === 'submitting' && p.result === null ? { wallet: p.wallet, amount: p.amount, codeMasked: p.code } : {};
        log.info({ posOrderId: p.id, orderNo: p.orderNo, traceId: p.traceId, lane: p.lane, state: p.state, result: p.result, reasonCode: p.reasonCode, ...accepted }, `payment ${p.id}: ${p.status}`);
      }
    });

    manager.on('scan', (e) => {
      const result = service.lane(laneOfSource.get(e.source)!)!.scan(e.text, e.source);
      void manager.feedback(e.source, result === 'accepted' ? 'good' : 'bad');
    });
    manager.on('rejected', (e) => {
      service.lane(laneOfSource.get(e.source)!)!.scanRejected(e.error, e.source);
      void manager.feedback(e.source, 'bad');
    });
    manager.on('status', (e) =>
      service.reportScanner({ type: 'scanner', lane: laneOfSource.get(e.source)!, source: e.source, status: e.status, at: e.at, ...(e.error ? { errorCode: e.error.code, message: e.error.message } : {}) }),
    );

    // Crash recovery and the outbox worker start here, before any new payment can arrive.
    // A provisioned terminal (not the demo one) reports in, takes parameters and keys, and settles.
    // Device operations are protocol v1's; other acquirers have their own (agent/backend/upay).
    const record = terminal.demo || !setKey ? undefined : readTerminalRecord(o.home);
    let sync: DeviceSync | undefined;
    if (record) {
      const client = new DeviceClient({ baseUrl: backendUrl, clock: clockOffset.asClock(), credentials: () => sync!.credentials() }); // issue 12: signs with the corrected time
      sync = new DeviceSync({
        home: o.home, terminal: record, client, clock, logger: log.child({ component: 'device-sync' }), journal, engine,
        onKey: (key) => setKey?.(key), scanners: () => manager.statuses(), agentVersion: AGENT_VERSION, params: loadParams(o.home),
        journalMark: journalGuard, // device-faults hook (issue 12)
      });
      // Before the engine starts: the stored parameters apply to the first payment too.
      sync.start();
      await confirmWithBackend(journalGuard, () => sync!.heartbeat(), clock, log); // device-faults hook (issue 12)
      cleanup.push(() => sync!.stop());
      const autoAt = config.settlement.autoAt;
      if (autoAt) cleanup.push(scheduleSettlement({ clock, at: autoAt, logger: log.child({ component: 'settlement' }), run: () => settle({ journal, client, clock, home: o.home }) }));
    }
    // Erased payment codes leave journal.db-wal shortly after their payments end.
    const scrubber = walScrubber({ path: join(o.home, 'journal.db'), clock, logger: log });
    engine.onChange((p) => p.outcome && scrubber.poke());
    cleanup.push(() => scrubber.stop());
    if (background) {
      background.start();
      cleanup.push(() => background.stop());
    }
    engine.start();
    cleanup.push(() => engine.stop());
    await manager.start();
    cleanup.push(() => manager.stop());
    cleanup.push(() => service.stop());

    const app = buildPosApi({
      service,
      token,
      logger: log,
      metrics,
      openapi: JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')),
      startOfToday: () => startOfToday(clock),
      info: () => ({
        version: AGENT_VERSION,
        demo,
        terminalId: terminal.terminalId,
        demoTerminal: terminal.demo,
        backendUrl,
        simulatorUrl: simulator?.url ?? null,
        currency: config.currency,
        maxAmount: engine.maxAmount,
        scanTimeoutMs: config.scanTimeoutMs,
        // device-faults hook (issue 12): the device's own faults, in words for the cashier.
        deviceAlarms: [cashierSkewNotice(clockOffset.skewMs()), journalGuard.conflict?.message, ...deviceAlarmWords(journal)].filter((x) => x !== undefined),
        lanes: config.lanes.map((l) => ({
          id: l.id,
          activeId: service.lane(l.id)!.activeId() ?? null,
          scanners: manager.statuses().filter((s) => laneOfSource.get(s.source) === l.id),
        })),
      }),
      scan: (laneId, text) => {
        const lane = service.lane(laneId);
        if (!lane) throw new ScanpayError('API_LANE_UNKNOWN', { message: `no lane "${laneId}"`, detail: { lane: laneId } });
        const virtual = scanners.find((s) => s.lane === laneId && s.source instanceof VirtualSource)?.source as VirtualSource | undefined;
        if (!virtual) throw new ScanpayError('API_NO_VIRTUAL_SCANNER', { detail: { lane: laneId } });
        // Straight to the lane, as the manager would pass a clean scan: the caller wants the answer.
        return lane.scan(text, virtual.id);
      },
    });
    const apiUrl = await listenPosApi(app, config.api);
    // Stopped first: no new request can start a payment while the rest shuts down.
    cleanup.push(() => app.close());
    writeAgentFile(o.home, { apiUrl, pid: process.pid, demo, simulatorUrl: simulator?.url ?? null });
    // Chaos hook (issue 13): journal writes that fail from here on, when SCANPAY_JOURNAL_FAULTS asks.
    journalFaultsFromEnv(journal);
    cleanup.push(() => removeAgentFile(o.home));
    log.info({ apiUrl, backendUrl, terminalId: terminal.terminalId, demo, lanes: config.lanes.map((l) => l.id), unfinished: journal.unfinished().length }, 'agent started');

    let stopping: Promise<void> | undefined;
    return {
      apiUrl,
      token,
      terminalId: terminal.terminalId,
      backendUrl,
      simulatorUrl: simulator?.url ?? null,
      lanes: config.lanes.map((l) => l.id),
      inspect: { journal, onEvent: (listener) => service.onEvent(listener) },
      lanesWithoutScanner: laneScanners(config, demo).filter((l) => l.specs.length === 0).map((l) => l.lane),
      kickOutbox: () => engine.kickOutbox(),
      stop: () => (stopping ??= stopAll().then(() => log.info('agent stopped'))),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
