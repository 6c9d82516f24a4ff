/**
 * Many terminals against one simulated acquirer, for load and chaos: each terminal has its
 * own journal file and engine and pays in a closed loop (next payment as soon as the last
 * one ended) with a seeded mix of customers, while the backend injects faults at random.
 * At the end the faults stop, every payment is given time to end and every queued
 * reversal to be delivered, and the ledger is checked against what each terminal said.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../agent/clock.ts';
import { isScanpayError } from '../agent/errors.ts';
import type { ProfileOverrides } from '../agent/payment/profiles.ts';
import type { Wallet } from '../agent/payment-code.ts';
import type { Behaviour, FaultSpec } from './backend/build-backend.ts';
import { describeIssues, faultSpecSchema } from './backend/faults.ts';
import { startBackend } from './backend/start-backend.ts';
import { findViolations, type Violation } from './invariants.ts';
import { prng } from './prng.ts';
import { SimTerminal } from './sim-terminal.ts';

export interface FleetOptions {
  terminals: number;
  durationMs: number;
  faults?: FaultSpec[];
  seed?: number;
  /** The customer behind each payment, from a seeded draw in [0, 1) (default: a realistic mix). */
  customer?: (r: number) => Behaviour;
  /** Called about once a second while payments run, and once at the end. */
  onProgress?: (p: FleetProgress) => void;
}

export interface FleetProgress {
  elapsedMs: number;
  phase: 'paying' | 'draining';
  finished: number;
  inProgress: number;
  perSecond: number;
  p95Ms: number;
  violations: number;
}

export interface FleetReport {
  terminals: number;
  durationMs: number;
  payments: { started: number; paid: number; declined: number; reversed: number; rejected: number; unfinished: number };
  /** Payments that ended, per second of the paying phase. */
  throughputPerSec: number;
  /** From pay to the final state. */
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  backendCalls: number;
  /** Calls that a fault other than added latency struck. */
  faultHits: number;
  violations: Violation[];
}

/**
 * Short timings so that a fault resolves in seconds, not the wallets' 45–60 s: the fleet
 * measures the agent and the protocol, not the customers' patience.
 */
const FLEET_PROFILE = { firstQueryDelayMs: 300, queryScheduleMs: [500], queryWaitMs: 2_000, queryDeadlineMs: 6_000, reverseRetryBaseMs: 200, reverseRetryMaxMs: 2_000, networkRetryMs: 300 };
const FLEET_PROFILES: ProfileOverrides = { wechat: FLEET_PROFILE, alipay: FLEET_PROFILE, unionpay: FLEET_PROFILE, ecny: FLEET_PROFILE };
const WALLET_MIX: Wallet[] = ['wechat', 'alipay', 'unionpay', 'ecny'];
/** How long payments and queued reversals get to end once the paying phase is over. */
const DRAIN_MS = 45_000;

/** Mostly instant customers, some typing a password (a few past the deadline), some declined. */
export function mixedCustomers(r: number): Behaviour {
  if (r < 0.8) return { kind: 'instant' };
  if (r < 0.9) return { kind: 'password', seconds: 1 + Math.floor((r - 0.8) * 40) };
  if (r < 0.95) return { kind: 'insufficient' };
  return { kind: 'walkaway' };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runFleet(o: FleetOptions): Promise<FleetReport> {
  const seed = o.seed ?? 1;
  const customer = o.customer ?? mixedCustomers;
  const random = prng(seed);
  const identities = Array.from({ length: o.terminals }, (_, i) => ({ terminalId: `F${String(i + 1).padStart(7, '0')}`, key: randomBytes(32) }));
  // A walk-away gives up soon after the fleet's 6 s deadline, so its reversal goes through.
  const backend = await startBackend({ port: 0, seed, terminals: identities, passwordAbandonMs: 8_000 });
  for (const f of o.faults ?? []) backend.sim.addFault(f);
  const root = mkdtempSync(join(tmpdir(), 'scanpay-fleet-'));
  const terminals = identities.map((id, i) => {
    const dir = join(root, String(i));
    mkdirSync(dir);
    return new SimTerminal({ dir, backendUrl: backend.url, ...id, clock: systemClock, profiles: FLEET_PROFILES, outbox: { retryBaseMs: 200, retryMaxMs: 2_000 } });
  });
  const owner = new Map<string, SimTerminal>();
  const latencies: number[] = [];
  const counts = { started: 0, paid: 0, declined: 0, reversed: 0, rejected: 0, unfinished: 0 };
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let inProgress = 0;
  let paying = true;

  const violations = () =>
    findViolations(backend.sim, (orderNo) => {
      const t = owner.get(orderNo);
      return t ? t.engine.get(orderNo) : undefined;
    });
  const progress = (): FleetProgress => {
    const sorted = [...latencies].sort((a, b) => a - b);
    const finished = latencies.length + counts.rejected;
    return { elapsedMs: elapsed(), phase: paying ? 'paying' : 'draining', finished, inProgress, perSecond: finished / (Math.min(elapsed(), o.durationMs) / 1000), p95Ms: percentile(sorted, 95), violations: violations().length };
  };
  const ticker = setInterval(() => o.onProgress?.(progress()), 1_000);

  const loop = async (t: SimTerminal): Promise<void> => {
    while (paying) {
      const code = backend.sim.issueCode(WALLET_MIX[Math.floor(random() * WALLET_MIX.length)]!, customer(random()));
      const t0 = performance.now();
      counts.started++;
      let orderNo: string;
      try {
        orderNo = t.engine.pay({ amount: 100 + Math.floor(random() * 20_000), paymentCode: code }).orderNo;
      } catch (e) {
        if (!isScanpayError(e)) throw e;
        counts.rejected++;
        continue;
      }
      owner.set(orderNo, t);
      inProgress++;
      const end = await t.engine.waitFinal(orderNo);
      inProgress--;
      latencies.push(performance.now() - t0);
      counts[end.outcome!]++;
    }
  };

  try {
    const loops = terminals.map((t) => loop(t));
    await new Promise((r) => setTimeout(r, o.durationMs));
    paying = false;
    const payingMs = elapsed();
    const endedWhilePaying = latencies.length;
    // Faults off: what is still under way ends, and queued reversals get delivered.
    backend.sim.clearFaults();
    const drained = Promise.all(loops).then(async () => {
      while (terminals.some((t) => t.journal.outbox('pending').length > 0)) await new Promise((r) => setTimeout(r, 100));
    });
    await Promise.race([drained, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
    clearInterval(ticker);
    o.onProgress?.(progress());
    const sorted = [...latencies].sort((a, b) => a - b);
    counts.unfinished = terminals.reduce((n, t) => n + t.journal.unfinished().length, 0);
    return {
      terminals: o.terminals,
      durationMs: Math.round(payingMs),
      payments: counts,
      throughputPerSec: Math.round((endedWhilePaying / (payingMs / 1000)) * 10) / 10,
      latencyMs: { p50: Math.round(percentile(sorted, 50)), p95: Math.round(percentile(sorted, 95)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1) ?? 0) },
      backendCalls: backend.sim.calls().length,
      faultHits: backend.sim.calls().filter((c) => c.fault && c.fault !== 'latency').length,
      violations: violations(),
    };
  } finally {
    clearInterval(ticker);
    paying = false;
    await Promise.all(terminals.map((t) => t.close()));
    await backend.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * `kind[@op][:N]` items, comma-separated: N is the rate (0–1), or for `latency` the delay
 * in milliseconds (every call). E.g. `lost-response:0.02,http5xx@pay:0.05,latency:50`.
 */
export function parseFleetFaults(text: string): FaultSpec[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^([a-z0-9-]+)(?:@([a-z]+))?(?::(\d+(?:\.\d+)?))?$/.exec(item);
      if (!m) throw new Error(`--faults: "${item}" is not kind[@op][:N]`);
      const [, kind, op, n] = m;
      const spec = kind === 'latency' ? { kind, latencyMs: Number(n ?? 100) } : { kind, ...(n !== undefined ? { rate: Number(n) } : {}) };
      const r = faultSpecSchema.safeParse({ ...spec, ...(op ? { op } : {}) });
      if (!r.success) throw new Error(`--faults: "${item}": ${describeIssues(r.error)}`);
      return r.data;
    });
}
