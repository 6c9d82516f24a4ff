/**
 * Figure 2, time to result when the customer must enter a password: from the customer
 * confirming to the POS seeing "paid", and queries sent per payment, for scanpay's
 * schedule (WeChat's timings plus the query long-poll) beside WeChat Pay's guidance
 * (query every 10 s) and Alipay's demo (every 5 s). Simulated time: the real engine, the
 * real HTTP simulator and one ManualClock, the same customers for all three schedules.
 * Network time is not simulated: a held query's answer costs one real round trip more
 * (figure 1 measures it).
 */
import { ManualClock } from '../agent/clock.ts';
import type { WalletProfile } from '../agent/payment/profiles.ts';
import { startBackend } from '../simulator/backend/start-backend.ts';
import { settleCalls } from '../simulator/scenarios/clock-driver.ts';
import { TrackedAcquirer } from '../simulator/tracked-acquirer.ts';
import { httpAcquirer, openAgent } from './agent-under-test.ts';
import { median, percentile, row, type Figure } from './stats.ts';

/** The three schedules, as overrides of the WeChat profile; all keep its 45 s deadline. */
export const SCHEDULES: Record<string, Partial<WalletProfile>> = {
  scanpay: {},
  'WeChat guidance (every 10 s)': { firstQueryDelayMs: 5_000, queryScheduleMs: [10_000], queryWaitMs: 0 },
  'Alipay demo (every 5 s)': { firstQueryDelayMs: 5_000, queryScheduleMs: [5_000], queryWaitMs: 0 },
};

/** Customers confirm uniformly between 3 and 40 s after the pay (whole seconds: the simulator's unit). */
function customers(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, () => 3 + Math.floor(rand() * 38));
}

interface ScheduleResult {
  latenciesMs: number[];
  queries: number[];
  paid: number;
}

export async function timeToResult(o: { customers: number; seed?: number }): Promise<Figure> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const backend = await startBackend({ clock });
  const acquirer = new TrackedAcquirer(httpAcquirer(backend.url, clock));
  const confirmSeconds = customers(o.customers, o.seed ?? 42);
  const names = Object.keys(SCHEDULES);
  const agents = names.map((n) => openAgent({ acquirer, clock, profiles: { wechat: SCHEDULES[n]! } }));
  const results = new Map<string, ScheduleResult>();
  try {
    // Every schedule serves the same customers at the same simulated instants.
    const started = names.map((_, a) =>
      confirmSeconds.map((seconds) => {
        const code = backend.sim.issueCode('wechat', { kind: 'password', seconds });
        const p = agents[a]!.engine.pay({ amount: 100, paymentCode: code });
        return { orderNo: p.orderNo, confirmAt: p.createdAt + seconds * 1000 };
      }),
    );
    const open = () => agents.some((a) => a.journal.unfinished().length > 0);
    for (let steps = 0; open(); steps++) {
      await settleCalls(() => acquirer.inFlight, () => backend.sim.parkedCalls());
      if (!open()) break;
      if (!clock.advanceToNext() || steps > 100_000) throw new Error('time to result: the payments did not finish');
    }
    const queriesBy = new Map<string, number>();
    for (const c of backend.sim.calls()) if (c.op === 'query' && c.orderNo) queriesBy.set(c.orderNo, (queriesBy.get(c.orderNo) ?? 0) + 1);
    names.forEach((name, a) => {
      const r: ScheduleResult = { latenciesMs: [], queries: [], paid: 0 };
      for (const s of started[a]!) {
        const v = agents[a]!.engine.get(s.orderNo);
        if (v.outcome === 'paid') r.paid++;
        r.latenciesMs.push(v.finalAt! - s.confirmAt);
        r.queries.push(queriesBy.get(s.orderNo) ?? 0);
      }
      results.set(name, r);
    });
  } finally {
    for (const a of agents) await a.close();
    await backend.close();
  }
  return report(results, o.customers);
}

function report(results: Map<string, ScheduleResult>, n: number): Figure {
  const fig = 'time to result (password)';
  const ours = results.get('scanpay')!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sec = (ms: number) => ms / 1000;
  const rows = [...results].filter(([name]) => name !== 'scanpay').flatMap(([name, ref]) => [
    row({ figure: fig, measure: 'confirm to paid, median', value: sec(median(ours.latenciesMs)), reference: name, refValue: sec(median(ref.latenciesMs)), unit: 's', better: 'lower' }),
    row({ figure: fig, measure: 'confirm to paid, p95', value: sec(percentile(ours.latenciesMs, 95)), reference: name, refValue: sec(percentile(ref.latenciesMs, 95)), unit: 's', better: 'lower' }),
    row({
      figure: fig,
      measure: 'queries per payment, mean',
      value: mean(ours.queries),
      reference: name,
      refValue: mean(ref.queries),
      unit: 'queries',
      better: 'lower',
      ...(name.startsWith('WeChat') ? { target: '<= 1', met: Math.max(...ours.queries) <= Math.max(...ref.queries) && mean(ours.queries) <= mean(ref.queries) } : {}),
    }),
  ]);
  const summary = Object.fromEntries(
    [...results].map(([name, r]) => [
      name,
      { medianS: sec(median(r.latenciesMs)), p95S: sec(percentile(r.latenciesMs, 95)), maxS: sec(Math.max(...r.latenciesMs)), queriesMean: mean(r.queries), queriesMax: Math.max(...r.queries), paid: r.paid },
    ]),
  );
  return {
    name: 'time-to-result',
    rows,
    checks: {
      'every customer paid under every schedule': [...results.values()].every((r) => r.paid === n),
      'scanpay never sends more queries than WeChat guidance allows': Math.max(...ours.queries) <= Math.max(...results.get('WeChat guidance (every 10 s)')!.queries),
    },
    details: { customers: n, confirmSeconds: '3..40 uniform, whole seconds', schedules: summary },
  };
}
