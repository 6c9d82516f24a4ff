/**
 * Runs one scenario headless: a simulated acquirer and one terminal (real journal file,
 * real engine, real HTTP through the fault proxy) on one ManualClock, the steps in order,
 * then the expectations and the invariants (no double charge, no one-sided entry).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../agent/clock.ts';
import type { Acquirer } from '../../agent/backend/acquirer.ts';
import { SCANPAY_V1_PROFILE, type AcquirerProfile, type ProtocolName } from '../../agent/backend/acquirer-profile.ts';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from '../../agent/backend/wechat/profile.ts';
import { AlipayAcquirer } from '../../agent/backend/alipay/alipay-acquirer.ts';
import { ALIPAY_PROFILE } from '../../agent/backend/alipay/alipay-profile.ts';
import { demoAlipayCredentials } from '../../agent/backend/alipay/demo-alipay.ts';
import { UpayAcquirer } from '../../agent/backend/upay/upay-acquirer.ts';
import { UPAY_PROFILE } from '../../agent/backend/upay/upay-profile.ts';
import type { Operation } from '../../agent/protocol/messages.ts';
import { simulatedWire } from '../backend/protocol-wires.ts';
import { DEMO_UPAY_TERMINAL } from '../backend/upay/demo-upay.ts';
import { isScanpayError } from '../../agent/errors.ts';
import type { PaymentView } from '../../agent/payment/engine.ts';
import type { SimBackend } from '../backend/build-backend.ts';
import { DEMO_TERMINAL } from '../backend/demo-terminal.ts';
import { startBackend, type RunningBackend } from '../backend/start-backend.ts';
import { findViolations } from '../invariants.ts';
import { startFaultProxy, type FaultProxy } from '../proxy/fault-proxy.ts';
import { SimTerminal } from '../sim-terminal.ts';
import { ClockDriver } from './clock-driver.ts';
import { loadWechatCredentials } from '../../agent/backend/wechat/credentials.ts';
import { WechatV2Acquirer } from '../../agent/backend/wechat/wechat-v2-acquirer.ts';
import { WechatV3Acquirer } from '../../agent/backend/wechat/wechat-v3-acquirer.ts';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { DEMO_FILES, demoWechatConfig, issueDemoClientCert } from '../backend/wechat/demo-merchant.ts';
import type { PayStep, Scenario, Step } from './schema.ts';

export interface ScenarioResult {
  name: string;
  file: string;
  ok: boolean;
  failures: string[];
  /** Time the scenario covered on its own clock. */
  simulatedMs: number;
  durationMs: number;
}

/** How long `settle` (and the final settling) lets time run at most. */
const SETTLE_MAX_MS = 15 * 60_000;
/** Real-time request timeouts: no scenario waits on a real socket for long. */
const TIMEOUT_MS = 2_000;

interface Tracked {
  code: string;
  amount: number;
  orderNo?: string;
  rejected?: string;
}


class ScenarioRun {
  readonly failures: string[] = [];
  readonly #payments = new Map<string, Tracked>();
  readonly #pending: Array<Promise<unknown>> = [];
  readonly #clock: ManualClock;
  readonly #backend: RunningBackend;
  readonly #proxy: FaultProxy;
  readonly #terminal: SimTerminal;
  readonly #drive: ClockDriver;
  readonly #name: string;

  readonly #direct: (url: string) => Acquirer;
  readonly #certFile: string;
  readonly #validCertFile: string;

  constructor(o: { name: string; clock: ManualClock; backend: RunningBackend; proxy: FaultProxy; terminal: SimTerminal; direct: (url: string) => Acquirer; certFile: string; validCertFile: string }) {
    this.#name = o.name;
    this.#direct = o.direct;
    this.#certFile = o.certFile;
    this.#validCertFile = o.validCertFile;
    this.#clock = o.clock;
    this.#backend = o.backend;
    this.#proxy = o.proxy;
    this.#terminal = o.terminal;
    this.#drive = new ClockDriver({ clock: o.clock, inFlight: () => o.terminal.inFlight, parkedCalls: () => o.backend.sim.parkedCalls() });
  }

  get #sim(): SimBackend {
    return this.#backend.sim;
  }

  async step(s: Step): Promise<void> {
    const engine = this.#terminal.engine;
    if ('pay' in s) this.#pay(s.pay);
    else if ('fault' in s) this.#sim.addFault(s.fault);
    else if ('clearFaults' in s) this.#sim.clearFaults();
    else if ('network' in s) await this.#proxy.set({ down: s.network === 'down' });
    else if ('backend' in s) await (s.backend === 'down' ? this.#backend.stop() : this.#backend.restart());
    else if ('wait' in s) await this.#drive.until(() => false, this.#clock.now() + s.wait.ms);
    else if ('waitFor' in s) {
      const { id, state, withinMs } = s.waitFor;
      const reached = await this.#drive.until(() => this.#view(id)?.state === state, this.#clock.now() + withinMs);
      if (!reached) throw new Error(`${id} did not reach "${state}" within ${withinMs} ms: it is "${this.#view(id)?.state ?? 'not started'}"`);
    } else if ('cancel' in s) engine.cancel(this.#orderNo(s.cancel));
    else if ('refund' in s) {
      const { id, amount } = s.refund;
      const req = amount === undefined ? { refundId: `${id}-R${this.#pending.length}` } : { refundId: `${id}-R${this.#pending.length}`, amount };
      this.#pending.push(engine.refund(this.#orderNo(id), req).catch((e: unknown) => this.failures.push(`refund of ${id} failed: ${(e as Error).message}`)));
    } else if ('restartAgent' in s) await this.#drive.through(this.#terminal.restart(), this.#clock.now() + SETTLE_MAX_MS);
    else if ('settle' in s) await this.settle();
    else if ('latePay' in s) {
      const t = this.#require(s.latePay);
      await this.#direct(this.#backend.url).pay({ orderNo: this.#orderNo(s.latePay), paymentCode: t.code, amount: t.amount, currency: 'CNY', description: this.#name });
    } else if ('clientCert' in s) copyFileSync(s.clientCert === 'expired' ? DEMO_FILES.clientExpired.cert : this.#validCertFile, this.#certFile);
    await this.#drive.quiesce();
  }

  /** Until every payment has ended, the outbox is empty and refunds have their answer. */
  async settle(): Promise<void> {
    let refundsDone = false;
    void Promise.allSettled(this.#pending).then(() => (refundsDone = true));
    await this.#drive.until(
      () =>
        refundsDone &&
        this.#terminal.journal.outbox('pending').length === 0 &&
        [...this.#payments.keys()].every((id) => {
          const v = this.#view(id);
          return v === undefined || v.outcome !== null;
        }),
      this.#clock.now() + SETTLE_MAX_MS,
    );
  }

  check(expect: Scenario['expect']): void {
    for (const [id, want] of Object.entries(expect.payments)) {
      const t = this.#payments.get(id);
      if (!t) {
        this.failures.push(`${id}: no such payment in the steps`);
        continue;
      }
      const v = this.#view(id);
      const outcome = t.rejected ? 'rejected' : (v?.outcome ?? v?.state);
      const reason = t.rejected ?? v?.reasonCode ?? null;
      if (outcome !== want.outcome) this.failures.push(`${id}: expected ${want.outcome}, got ${outcome}${reason ? ` (${reason})` : ''}`);
      if (want.reasonCode !== undefined && reason !== want.reasonCode) this.failures.push(`${id}: expected reason ${want.reasonCode}, got ${reason}`);
      if (want.backendCalls !== undefined) {
        const calls = t.orderNo ? this.#sim.calls(t.orderNo).length : 0;
        if (calls !== want.backendCalls) this.failures.push(`${id}: expected ${want.backendCalls} backend call(s), got ${calls}`);
      }
    }
    for (const [id, want] of Object.entries(expect.ledger)) {
      const orderNo = this.#payments.get(id)?.orderNo;
      const entries = orderNo ? this.#sim.ledger().filter((e) => e.orderNo === orderNo) : [];
      const got = {
        charges: entries.filter((e) => e.kind === 'charge').length,
        refunds: entries.filter((e) => e.kind === 'refund').length,
        net: entries.reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0),
      };
      for (const k of ['charges', 'refunds', 'net'] as const) {
        if (want[k] !== undefined && want[k] !== got[k]) this.failures.push(`${id}: expected ledger ${k} ${want[k]}, got ${got[k]}`);
      }
    }
    for (const v of findViolations(this.#sim, (orderNo) => this.#safeGet(orderNo))) this.failures.push(`INVARIANT ${v.kind}: ${v.message}`);
  }

  #pay(p: PayStep): void {
    if (this.#payments.has(p.id)) throw new Error(`payment id ${p.id} is used twice in ${this.#name}`);
    const code = p.code ?? (p.sameCodeAs ? this.#require(p.sameCodeAs).code : this.#sim.issueCode(p.wallet, p.behaviour));
    const tracked: Tracked = { code, amount: p.amount };
    this.#payments.set(p.id, tracked);
    try {
      tracked.orderNo = this.#terminal.engine.pay({ amount: p.amount, paymentCode: code, posOrderId: p.id, description: this.#name }).orderNo;
    } catch (e) {
      if (!isScanpayError(e)) throw e;
      tracked.rejected = e.code;
    }
  }

  #require(id: string): Tracked {
    const t = this.#payments.get(id);
    if (!t) throw new Error(`no payment "${id}" before this step`);
    return t;
  }

  #orderNo(id: string): string {
    const n = this.#require(id).orderNo;
    if (!n) throw new Error(`payment "${id}" was rejected: it has no order`);
    return n;
  }

  #view(id: string): PaymentView | undefined {
    const orderNo = this.#payments.get(id)?.orderNo;
    return orderNo ? this.#terminal.engine.get(orderNo) : undefined;
  }

  #safeGet(orderNo: string): PaymentView | undefined {
    try {
      return this.#terminal.engine.get(orderNo);
    } catch (e) {
      if (isScanpayError(e, 'PAY_NOT_FOUND')) return undefined;
      throw e;
    }
  }
}

/** The scenario's terminal speaks this acquirer's wire (default: the first the scenario names, else protocol v1). */
export interface ScenarioOptions {
  protocol?: ProtocolName | undefined;
}

/** The acquirer of `protocol` for a scenario's terminal, with its rules; WeChat v2 reads its client certificate from `certFile`. */
function acquirerFor(protocol: ProtocolName, clock: ManualClock, certFile: string, timeoutMs: Record<Operation, number>): { make: (url: string) => Acquirer; profile: AcquirerProfile } {
  switch (protocol) {
    case 'wechat-v2':
    case 'wechat-v3': {
      // The key of the expired demo certificate, so that a scenario can swap that certificate in.
      const config = protocol === 'wechat-v2' ? { ...demoWechatConfig(protocol), clientCertFile: certFile, clientKeyFile: DEMO_FILES.clientExpired.key } : demoWechatConfig(protocol);
      const make = (url: string) => {
        const o = { baseUrl: url, credentials: loadWechatCredentials(protocol, config, false), clock, terminalId: DEMO_TERMINAL.terminalId, timeoutMs };
        return protocol === 'wechat-v2' ? new WechatV2Acquirer(o) : new WechatV3Acquirer(o);
      };
      return { make, profile: protocol === 'wechat-v2' ? WECHAT_V2_PROFILE : WECHAT_V3_PROFILE };
    }
    case 'alipay':
      return { make: (url) => new AlipayAcquirer({ ...demoAlipayCredentials(), gatewayUrl: url, clock, timeoutMs }), profile: ALIPAY_PROFILE };
    case 'upay':
      return { make: (url) => new UpayAcquirer({ baseUrl: url, clock, timeoutMs, credentials: () => DEMO_UPAY_TERMINAL }), profile: UPAY_PROFILE };
    case 'scanpay-v1':
      return { make: (url) => new HttpAcquirer({ baseUrl: url, terminalId: DEMO_TERMINAL.terminalId, key: DEMO_TERMINAL.key, clock, timeoutMs }), profile: SCANPAY_V1_PROFILE };
  }
}

/** Runs `scenario` against the simulator of the protocol. */
export async function runScenario(scenario: Scenario, file: string, o: ScenarioOptions = {}): Promise<ScenarioResult> {
  const started = performance.now();
  const protocol = o.protocol ?? scenario.protocols?.[0] ?? 'scanpay-v1';
  const wechat = protocol === 'wechat-v2' || protocol === 'wechat-v3';
  // The demo merchant certificate was issued in November 2026: WeChat scenarios start after it.
  const clock = new ManualClock(wechat ? Date.UTC(2027, 0, 1, 9) : Date.UTC(2026, 0, 1, 9));
  const backendOptions = { port: 0, clock, seed: scenario.seed, ...scenario.backendOptions };
  const sim = await simulatedWire(protocol);
  const backend = await startBackend({ ...backendOptions, ...(sim.wire ? { wire: sim.wire } : {}) });
  const proxy = await startFaultProxy({ target: backend.url, seed: scenario.seed });
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-scenario-'));
  const certFile = join(dir, 'apiclient_cert.pem');
  // A certificate minted for this run (with the expired one's key); the terminal reads its copy at certFile.
  const validCertFile = protocol === 'wechat-v2' ? issueDemoClientCert(join(dir, 'minted'), { keyFile: DEMO_FILES.clientExpired.key }).certFile : '';
  if (validCertFile) copyFileSync(validCertFile, certFile);
  const t = TIMEOUT_MS;
  const timeoutMs = { pay: t, query: t, reverse: t, refund: t };
  const direct = acquirerFor(protocol, clock, certFile, timeoutMs);
  // The fault proxy relays bytes: TLS to a WeChat simulator passes through it end to end.
  const proxyUrl = sim.agentUrl(sim.wire?.tls ? proxy.url.replace(/^http:/, 'https:') : proxy.url);
  const terminal = new SimTerminal({
    dir,
    backendUrl: proxyUrl,
    acquirer: () => direct.make(proxyUrl),
    acquirerProfile: direct.profile,
    terminalId: DEMO_TERMINAL.terminalId,
    key: DEMO_TERMINAL.key,
    clock,
    timeoutMs,
    // No jitter: the same scenario takes the same path every run.
    random: () => 0.5,
  });
  const run = new ScenarioRun({ name: scenario.name, clock, backend, proxy, terminal, direct: direct.make, certFile, validCertFile });
  const t0 = clock.now();
  try {
    for (const [i, s] of scenario.steps.entries()) {
      try {
        await run.step(s);
      } catch (e) {
        run.failures.push(`step ${i + 1} (${Object.keys(s)[0]}): ${(e as Error).message}`);
        break;
      }
    }
    if (run.failures.length === 0) {
      await run.settle();
      run.check(scenario.expect);
    }
  } finally {
    const drive = new ClockDriver({ clock, inFlight: () => terminal.inFlight, parkedCalls: () => backend.sim.parkedCalls() });
    await drive.through(terminal.close(), clock.now() + SETTLE_MAX_MS).catch(() => undefined);
    await proxy.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: scenario.name, file, ok: run.failures.length === 0, failures: run.failures, simulatedMs: clock.now() - t0, durationMs: Math.round(performance.now() - started) };
}

