/**
 * The chaos run: the real agent daemon as a child process, a TCP fault proxy between it
 * and the simulated acquirer, acquirer faults from the control API, customers of every
 * behaviour, POS cancels, and SIGKILLs at random moments and at crash points. Afterwards
 * the agent settles and every order is checked (simulator/chaos/invariants.ts).
 * Seeded: the same seed makes the same choices (process timing still varies).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { PosClient } from '../../agent/cli/pos-client.ts';
import { CRASH_POINTS } from '../../agent/crash-points.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { WALLETS } from '../../agent/payment-code.ts';
import type { PosPayment } from '../../agent/pos-payment.ts';
import type { Behaviour } from '../backend/build-backend.ts';
import { FAULT_KINDS, type FaultSpec } from '../backend/faults.ts';
import { startBackend } from '../backend/start-backend.ts';
import { RULE_PROFILES, walletRulesFor, type RuleProfileName } from '../backend/rule-profiles.ts';
import type { WalletRules } from '../backend/wallet-model.ts';
import { withRules, type AcquirerRules, type ProtocolName } from '../../agent/backend/acquirer-profile.ts';
import { simulatedWire } from '../backend/protocol-wires.ts';
import { prng } from '../prng.ts';
import { startFaultProxy, type ProxyFaults } from '../proxy/fault-proxy.ts';
import { AgentDiedDuringStart, AgentProcess } from './agent-process.ts';
import { checkInvariants, checkStories, type Told, type ToldRefund } from './invariants.ts';
import { cashierTimes, type Distribution, type Timed } from './timing.ts';

export interface ChaosOptions {
  payments: number;
  seed: number;
  /** Payments in flight at once, one per lane. */
  lanes?: number;
  /** Wait between random kills, ms (min, max). */
  killEveryMs?: [number, number];
  /** The acquirer's rules, on both sides (simulator/backend/rule-profiles.ts); default: those of the protocol. */
  profile?: RuleProfileName;
  progress?: (line: string) => void;
  /** The acquirer's wire format between the agent and the simulator (default scanpay-v1). */
  protocol?: ProtocolName;
  /** Faults of the device itself (issue 12); none unless asked. */
  deviceFaults?: DeviceFaults;
}

export interface DeviceFaults {
  /** The agent's clock this far from the acquirer's for the whole run (SCANPAY_FAKE_CLOCK_OFFSET_MS). */
  clockOffsetMs?: number;
  /**
   * Journal losses: after a kill, journal.db deleted or emptied and its -wal deleted. The
   * agent must refuse to start; the runner then runs `scanpay recover`, as a technician would.
   */
  journalLosses?: number;
  /** Chance per fault round that the acquirer restarts (it keeps its memory in a SQLite file). */
  backendRestartRate?: number;
}

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

export interface ChaosReport {
  seed: number;
  profile: RuleProfileName;
  payments: number;
  told: Record<'paid' | 'declined' | 'not_charged' | 'unknown', number>;
  kills: number;
  starts: number;
  faults: Record<string, number>;
  violations: string[];
  /** From the POS's request to the final answer it saw, by result; and from a cancel to its final answer. */
  cashierTimes: Record<string, Distribution | undefined>;
  /** Payments the agent refused when the POS asked (nothing sent): listed, not violations. */
  refusals: string[];
  /** Refunds the POS asked for, by the answer it saw last (refunded, failed, or the refusal's code). */
  refunds: Record<string, number>;
  durationMs: number;
}

/** Short timings so that each payment settles in a second or two of real time. */
const FAST_PROFILE = { firstQueryDelayMs: 150, queryScheduleMs: [250], queryDeadlineMs: 2_000, reverseRetryBaseMs: 100, reverseRetryMaxMs: 400, networkRetryMs: 150 };
/** Each wire format's simulator enforces the rules of the acquirer it imitates, unless a run names others. */
const RULES_OF_PROTOCOL: Record<ProtocolName, RuleProfileName> = {
  'scanpay-v1': 'v1',
  'wechat-v2': 'wechat-like',
  'wechat-v3': 'wechat-like',
  alipay: 'alipay-like',
  upay: 'upay-like',
};

/**
 * How long a customer's code lives at chaos speed: "not found" must wait for a code to
 * expire, and the agent is sometimes kept off longer than that (a 60 s code would dominate
 * the run).
 */
const CODE_TTL_MS = 8_000;

/** The acquirer's rules at chaos speed: its waits shrunk tenfold, codes valid for CODE_TTL_MS. */
function chaosRules(name: RuleProfileName): { agent: AcquirerRules; backend: WalletRules; codeTtlMs: number } {
  const p = RULE_PROFILES[name];
  const scaled = withRules(p, {
    earliestReverseMs: Math.round(p.earliestReverseMs / 10),
    acquirerRevokesUnpaidAfterMs: p.acquirerRevokesUnpaidAfterMs === null ? null : Math.round(p.acquirerRevokesUnpaidAfterMs / 10),
  });
  const { protocol: _protocol, wallets: _wallets, ...agent } = scaled;
  return { agent, backend: walletRulesFor(scaled), codeTtlMs: CODE_TTL_MS };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const random = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const between = (a: number, b: number) => a + Math.floor(random() * (b - a + 1));
  const lanes = o.lanes ?? 4;
  const [killMin, killMax] = o.killEveryMs ?? [800, 2_500];
  const log = o.progress ?? (() => {});

  const df = o.deviceFaults ?? {};
  const protocol = o.protocol ?? 'scanpay-v1';
  const profile = o.profile ?? RULES_OF_PROTOCOL[protocol];
  const rules = chaosRules(profile);
  const wechat = protocol === 'wechat-v2' || protocol === 'wechat-v3';
  const sim = await simulatedWire(protocol);
  const home = mkdtempSync(join(tmpdir(), 'scanpay-chaos-'));
  const storePath = df.backendRestartRate ? join(home, 'acquirer', 'backend.db') : undefined;
  /** The simulated acquirer, restarted on the same port with the same memory file (issue 12). */
  const startAcquirer = (port?: number) =>
    startBackend({
      seed: o.seed,
      passwordAbandonMs: 1_500,
      rules: rules.backend,
      ...(port ? { port } : {}),
      ...(rules.codeTtlMs ? { codeTtlMs: rules.codeTtlMs } : {}),
      ...(sim.wire ? { wire: sim.wire } : {}),
      ...(storePath ? { storePath } : {}),
    });
  let backend = await startAcquirer();
  const proxy = await startFaultProxy({ target: backend.url, seed: o.seed });
  // The proxy relays bytes: TLS to a WeChat simulator passes through it end to end.
  const proxyUrl = sim.agentUrl(sim.wire?.tls ? proxy.url.replace(/^http:/, 'https:') : proxy.url);
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({
      lanes: Array.from({ length: lanes }, (_, i) => ({ id: String(i + 1), scanners: [] })),
      profiles: Object.fromEntries(WALLETS.map((w) => [w, { ...FAST_PROFILE, ...(rules.codeTtlMs ? { codeTtlMs: rules.codeTtlMs } : {}) }])),
      acquirerRules: rules.agent,
      backend: { timeoutMs: { pay: 1_000, query: 600, reverse: 600, refund: 600 }, protocol },
      outbox: { retryBaseMs: 100, retryMaxMs: 800 },
      scanTimeoutMs: 10_000,
    }),
  );
  const agent = new AgentProcess({ home, backendUrl: proxyUrl, protocol, ...(df.clockOffsetMs ? { env: { SCANPAY_FAKE_CLOCK_OFFSET_MS: String(df.clockOffsetMs) } } : {}) });
  const told: Array<Told & Timed> = [];
  const faultCounts: Record<string, number> = {};
  const countFault = (k: string, n = 1) => (faultCounts[k] = (faultCounts[k] ?? 0) + n);
  if (df.clockOffsetMs) countFault(`device:clock ${df.clockOffsetMs > 0 ? '+' : ''}${Math.round(df.clockOffsetMs / 1000)} s`);
  let journalLosses = df.journalLosses ?? 0;
  /** Payments handed out to the lanes so far. */
  let next = 0;
  /** The technician's step after a lost journal: `scanpay recover`, straight to the acquirer. */
  const recover = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'recover', '--demo', '--backend', backend.url, '--json'], {
        // The sources beside the runner, never a stale dist/ (agent-process.ts does the same).
        env: { SCANPAY_SOURCE: '1', ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn', SCANPAY_CRASH_AT: '', ...(df.clockOffsetMs ? { SCANPAY_FAKE_CLOCK_OFFSET_MS: String(df.clockOffsetMs) } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => {
        // 2: a reversal left queued, which the agent finishes once it runs.
        if (code !== 0 && code !== 2) return reject(new Error(`scanpay recover exited ${code}: ${err}`));
        const orders = (JSON.parse(out) as { orders: Array<{ action: string }> }).orders;
        countFault('device:recovered-orders', orders.filter((r) => r.action !== 'known').length);
        resolve();
      });
    });
  let client: PosClient = await agent.start();
  let ready: Promise<PosClient> = Promise.resolve(client);
  let chaos = true;
  let endChaos!: () => void;
  const calm = new Promise<void>((r) => (endChaos = r));
  /** A wait that the end of the chaos cuts short. */
  const pause = (ms: number) => Promise.race([sleep(ms), calm]);

  /** Until when the device stays off after a kill: sometimes longer than a code lives. */
  let offUntil = 0;

  /** Starts the agent, starting it again as often as it dies before it is up; `journalFaults` for its first try. */
  async function bringUp(crashAt: string | undefined, journalFaults?: string): Promise<PosClient> {
    for (let armed = crashAt, faults = journalFaults; ; armed = undefined, faults = undefined) {
      await sleep(between(20, 200));
      while (chaos && Date.now() < offUntil) await pause(offUntil - Date.now());
      try {
        const c = await agent.start(armed, faults);
        log(`agent up (start ${agent.starts}${armed ? `, crash point ${armed}` : ''}${faults ? `, journal faults ${faults}` : ''})`);
        return c;
      } catch (e) {
        if (/JOURNAL_IDENTITY_MISMATCH|JOURNAL_ROLLED_BACK/.test(String(e))) {
          log('agent refused its lost journal: scanpay recover');
          // The acquirer may be restarting or out of reach: the technician tries again.
          for (let attempt = 1; ; attempt++) {
            try {
              await recover();
              break;
            } catch (err) {
              if (attempt >= 20) throw err;
              log(`scanpay recover failed, again: ${String(err).slice(0, 120)}`);
              await sleep(500);
            }
          }
          continue;
        }
        // A journal write the disk refused can end the agent (its exit, not a kill): started again, as a service manager would.
        if (faults && /the agent exited during start/.test(String(e))) {
          countFault('device:agent-exits-on-journal-fault');
          log('agent exited on a failing journal while starting');
          continue;
        }
        if (!(e instanceof AgentDiedDuringStart)) throw e;
        log('agent died while starting');
      }
    }
  }

  /** Exits nobody caused (no kill, no injected fault): violations. */
  const unexpectedExits: string[] = [];
  // Restart the agent whenever it dies while the run goes on, sometimes armed with a crash point.
  const supervisor = (async () => {
    while (chaos) {
      const exit = await Promise.race([agent.exited(), calm]);
      if (!chaos) break;
      if (exit && exit.signal !== 'SIGKILL') {
        if (agent.armed) countFault('device:agent-exits-on-journal-fault');
        else unexpectedExits.push(`the agent exited by itself (code ${exit.code}): ${agent.stderrTail.slice(-300)}`);
      }
      const crashAt = random() < 0.35 ? `${pick(CRASH_POINTS)}@${between(1, 3)}` : undefined;
      // Some runs of the agent meet a failing disk: SQLITE_IOERR or SQLITE_FULL on a share of its journal writes.
      const journalFaults = random() < 0.35 ? `0.1@${between(1, 2 ** 31)}` : undefined;
      if (journalFaults) countFault('device:journal-write-fault-runs');
      ready = bringUp(crashAt, journalFaults);
      client = await ready;
    }
  })();

  const killer = (async () => {
    while (chaos) {
      // Counted from the moment the agent is up: on a loaded machine a start can outlast the
      // whole interval, and an agent killed before it is ever ready makes no progress at all.
      await Promise.race([ready.catch(() => undefined), calm]);
      await pause(between(killMin, killMax));
      if (chaos && agent.running) {
        // Sometimes the device stays off until its customers' codes have expired.
        if (random() < 0.15) {
          offUntil = Date.now() + CODE_TTL_MS + between(500, 2_000);
          countFault('device:off-past-code-expiry');
        }
        await agent.kill();
        log('agent killed');
        // Synchronously after the death, before the supervisor's restart: the journal is lost.
        if (journalLosses > 0 && next > o.payments / 3 && random() < 0.5) {
          journalLosses--;
          const emptied = random() < 0.5;
          for (const f of ['journal.db-wal', 'journal.db-shm']) rmSync(join(home, f), { force: true });
          if (emptied) writeFileSync(join(home, 'journal.db'), '');
          else rmSync(join(home, 'journal.db'), { force: true });
          countFault(`device:journal-${emptied ? 'emptied' : 'deleted'}`);
          log(`journal ${emptied ? 'emptied' : 'deleted'}`);
        }
      }
    }
  })();

  const faulter = (async () => {
    while (chaos) {
      const proxyFaults: ProxyFaults = pick<ProxyFaults>([
        {},
        {},
        { delayMs: between(10, 300) },
        { resetRate: 0.2 },
        { cutRate: 0.2 },
        { blackholeRate: 0.1 },
        { down: true },
      ]);
      await proxy.set(proxyFaults);
      if (df.backendRestartRate && random() < df.backendRestartRate) {
        const port = backend.port;
        await backend.close();
        backend = await startAcquirer(port);
        countFault('device:backend-restart');
        log('acquirer restarted');
      }
      backend.sim.clearFaults();
      if (random() < 0.6) {
        const kind = pick(FAULT_KINDS.filter((k) => k !== 'hang'));
        const spec: FaultSpec = { op: pick(['pay', 'query', 'reverse', 'refund', 'any'] as const), kind, rate: 0.3, ...(kind === 'latency' ? { latencyMs: between(50, 400) } : {}) };
        backend.sim.addFault(spec);
      }
      await pause(between(300, 1_500));
    }
  })();

  /** Calls the agent, waiting out its deaths: the POS keeps asking until it gets an answer. */
  async function ask<T>(call: (c: PosClient) => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await call(await ready);
      } catch (e) {
        if (!isScanpayError(e) || !['API_AGENT_UNREACHABLE', 'API_SHUTTING_DOWN', 'API_PAYMENT_ACTIVE'].includes(e.code)) throw e;
        await sleep(50);
      }
    }
  }

  const behaviours: Behaviour[] = [
    { kind: 'instant' },
    { kind: 'instant' },
    { kind: 'password', seconds: 1 },
    { kind: 'password', seconds: 3 },
    { kind: 'walkaway' },
    { kind: 'insufficient' },
    { kind: 'expired' },
    { kind: 'invalid' },
  ];
  const refusals: string[] = [];
  const toldRefunds: ToldRefund[] = [];
  /** The POS refunds a paid payment, all of it or in one or two parts, and watches each refund until it ends. */
  async function refund(t: Told): Promise<void> {
    const part = () => between(1, Math.max(1, t.amount - 1));
    const plan = pick<Array<number | undefined>>([[undefined], [part()], [part(), undefined]]);
    for (const [k, amount] of plan.entries()) {
      const r: ToldRefund = { id: t.id, refundId: `${t.id}-R${k + 1}`, ...(amount !== undefined ? { amount } : {}), seen: 'asked' };
      toldRefunds.push(r);
      for (let attempt = 1; ; attempt++) {
        try {
          const view = await ask((c) => c.request<{ state: string }>('POST', `/v1/payments/${t.id}/refunds`, { refundId: r.refundId, ...(amount !== undefined ? { amount } : {}) }));
          r.seen = view.state;
          break;
        } catch (e) {
          const code = isScanpayError(e) ? e.code : String(e);
          // A failing disk refuses the refund before anything is sent: the POS asks again, same refund id.
          if (code === 'JOURNAL_WRITE_FAILED' && attempt < 20) {
            countFault('device:journal-refusals-retried');
            await sleep(100);
            continue;
          }
          r.seen = code;
          break;
        }
      }
      for (let i = 0; i < 1_200 && r.seen === 'pending'; i++) {
        await sleep(50);
        const { refunds } = await ask((c) => c.request<{ refunds: Array<{ refundId: string; state: string }> }>('GET', `/v1/payments/${t.id}/refunds`));
        r.seen = refunds.find((x) => x.refundId === r.refundId)?.state ?? r.seen;
      }
    }
  }
  const lane = async (laneId: string) => {
    while (next < o.payments) {
      const seq = next++;
      const id = `CH${o.seed}-${seq}`;
      const amount = between(1, 50_000);
      const code = backend.sim.issueCode(wechat ? 'wechat' : pick(WALLETS), pick(behaviours));
      const entry: Told & Timed = { id, amount, result: null, askedAt: Date.now() };
      told.push(entry);
      try {
        // A failing disk refuses the payment before anything is sent: the POS asks again, same id.
        for (let attempt = 1; ; attempt++) {
          try {
            await ask((c) => c.request('POST', '/v1/payments', { id, lane: laneId, amount, paymentCode: code }));
            break;
          } catch (e) {
            if (!isScanpayError(e, 'JOURNAL_WRITE_FAILED') || attempt >= 20) throw e;
            countFault('device:journal-refusals-retried');
            await sleep(100);
          }
        }
      } catch (e) {
        // A refusal the POS sees at once (e.g. a code the agent will not submit): nothing was sent.
        refusals.push(`${id}: ${isScanpayError(e) ? e.code : String(e)}`);
        continue;
      }
      if (random() < 0.12) {
        const after = between(0, 1_500);
        void sleep(after).then(() => {
          if (entry.result === null) entry.cancelledAt = Date.now();
          return ask((c) => c.request('POST', `/v1/payments/${id}/cancel`)).catch(() => undefined);
        });
      }
      for (let i = 0; i < 1_200 && entry.result === null; i++) {
        let p: PosPayment;
        try {
          p = await ask((c) => c.request<PosPayment>('GET', `/v1/payments/${id}`));
        } catch (e) {
          // Its journal row went with a lost journal: `scanpay recover` settled the order; the POS never heard.
          if (!isScanpayError(e, 'PAY_NOT_FOUND') || df.journalLosses === undefined) throw e;
          countFault('device:payments-lost-to-pos');
          break;
        }
        if (p.orderNo) entry.orderNo = p.orderNo;
        if (p.result) {
          entry.result = p.result;
          entry.answeredAt = Date.now();
        }
        else await sleep(50);
      }
      if (entry.result === 'paid' && random() < 0.5) await refund(entry);
      if ((seq + 1) % 50 === 0) log(`${seq + 1}/${o.payments} payments, ${agent.kills} kills`);
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, (_, i) => lane(String(i + 1))));
  } finally {
    chaos = false;
    endChaos();
  }

  // Calm: no more faults or kills; let the agent finish everything it still owes.
  await Promise.all([killer, faulter]);
  await proxy.set({});
  backend.sim.clearFaults();
  await supervisor;
  // An agent still armed with a crash point would die in the calm: replace it.
  if (agent.running && agent.armed) await agent.kill();
  if (!agent.running) client = await bringUp(undefined);
  const db = join(home, 'journal.db');
  for (let i = 0; i < 600; i++) {
    const ro = new Database(db, { readonly: true });
    const open = (ro.prepare('SELECT COUNT(*) AS n FROM payments WHERE outcome IS NULL').get() as { n: number }).n;
    const queued = (ro.prepare("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'").get() as { n: number }).n;
    ro.close();
    if (open === 0 && queued === 0) break;
    await sleep(100);
  }
  await agent.stop();

  const journal = Journal.open(db);
  const payments = journal.listPayments({ limit: 1_000_000 });
  const violations = [
    ...checkInvariants({
      payments,
      outbox: journal.outbox(),
      told,
      acquirer: backend.sim,
      refunded: (orderNo) => journal.refundsOf(orderNo).reduce((n, r) => n + (r.state === 'refunded' ? r.amount : 0), 0),
    }),
    ...checkStories(
      payments.map((p) => ({ payment: p, events: journal.events(p.order_no), refunds: journal.refundsOf(p.order_no) })),
      backend.sim,
      toldRefunds,
      told,
    ),
    ...unexpectedExits,
  ];
  journal.close();
  if (agent.journalFaults) countFault('device:journal-writes-failed', agent.journalFaults);

  for (const [kind, n] of Object.entries(proxy.stats())) if (n) faultCounts[`network:${kind}`] = n;
  for (const c of backend.sim.calls()) if (c.fault) for (const f of c.fault.split('+')) faultCounts[`backend:${f}`] = (faultCounts[`backend:${f}`] ?? 0) + 1;
  const count = (r: Told['result']) => told.filter((t) => t.result === r).length;
  const report: ChaosReport = {
    seed: o.seed,
    profile,
    payments: told.length,
    told: { paid: count('paid'), declined: count('declined'), not_charged: count('not_charged'), unknown: count(null) },
    kills: agent.kills,
    starts: agent.starts,
    faults: faultCounts,
    violations,
    refusals,
    refunds: toldRefunds.reduce<Record<string, number>>((n, r) => ((n[r.seen] = (n[r.seen] ?? 0) + 1), n), {}),
    cashierTimes: cashierTimes(told),
    durationMs: Date.now() - started,
  };
  await proxy.close();
  await backend.close();
  if (violations.length === 0) rmSync(home, { recursive: true, force: true });
  else report.violations.push(`evidence kept in ${home}`);
  return report;
}
