/**
 * Figure 1, agent overhead: from the scan (engine.pay, the moment a code is accepted) to
 * the pay request arriving at the gateway, and from the gateway's answer to the POS event
 * (the engine's paid notification), beside the floor of one durable write plus one
 * loopback round trip, sampled alternately in the same run so both see the same noise.
 */
import { rmSync } from 'node:fs';
import { openAgent, httpAcquirer, tempDir, wechatCode } from './agent-under-test.ts';
import { openFloor, startStampGateway } from './loopback.ts';
import { now, percentile, row, type Figure } from './stats.ts';

export async function overhead(o: { payments: number }): Promise<Figure> {
  const gateway = await startStampGateway();
  const dir = tempDir();
  const floor = openFloor(dir, gateway.url);
  const agent = openAgent({ acquirer: httpAcquirer(gateway.url) });
  const out: number[] = [];
  const back: number[] = [];
  const total: number[] = [];
  const floors: number[] = [];
  let allPaid = true;
  try {
    const warmup = 50;
    for (let i = 0; i < o.payments + warmup; i++) {
      const f = await floor.sample();
      const t0 = now();
      const p = agent.engine.pay({ amount: 100, paymentCode: wechatCode(i) });
      const done = await agent.finished(p.orderNo);
      const t3 = now();
      allPaid &&= done.outcome === 'paid';
      if (i < warmup) continue;
      const s = gateway.stamps.get(p.orderNo)!;
      floors.push(f);
      out.push(s.arrived - t0);
      back.push(t3 - s.answered);
      total.push(s.arrived - t0 + (t3 - s.answered));
    }
  } finally {
    await agent.close();
    floor.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const fig = 'agent overhead';
  const ref = 'floor (1 durable write + 1 loopback RTT)';
  const rows = [50, 99].flatMap((p) => [
    row({ figure: fig, measure: `scan to request on the wire, p${p}`, value: percentile(out, p), reference: ref, refValue: percentile(floors, p), unit: 'ms', better: 'lower' }),
    row({ figure: fig, measure: `answer to POS event, p${p}`, value: percentile(back, p), reference: ref, refValue: percentile(floors, p), unit: 'ms', better: 'lower' }),
    row({ figure: fig, measure: `both together, p${p}`, value: percentile(total, p), reference: ref, refValue: percentile(floors, p), unit: 'ms', better: 'lower' }),
  ]);
  return { name: 'overhead', rows, checks: { 'every payment paid': allPaid }, details: { payments: o.payments } };
}
