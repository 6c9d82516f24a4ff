/**
 * A small fleet: ten terminals with their own journals against one simulated acquirer,
 * instant customers, lost responses injected; every payment ends and the ledger agrees with every terminal.
 * (Real clock, about two seconds: the fleet exists to measure real concurrency.)
 */
import { describe, expect, it } from 'vitest';
import { parseFleetFaults, percentile, runFleet } from '../../simulator/fleet.ts';

describe('fleet', () => {
  it('runs ten terminals with faults and finds no invariant violation', async () => {
    const seen: string[] = [];
    const r = await runFleet({ terminals: 10, durationMs: 1_500, faults: parseFleetFaults('lost-response@pay:0.1'), customer: () => ({ kind: 'instant' }), onProgress: (p) => seen.push(p.phase) });
    expect(r.violations).toEqual([]);
    expect(r.payments.unfinished).toBe(0);
    expect(r.payments.paid).toBeGreaterThan(10);
    expect(r.payments.started).toBe(r.payments.paid + r.payments.declined + r.payments.reversed + r.payments.rejected);
    expect(r.faultHits).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(seen.at(-1)).toBe('draining');
  });

  it('reads --faults', () => {
    expect(parseFleetFaults('lost-response:0.02, http5xx@pay:0.5,latency:30,bad-signature')).toEqual([
      { op: 'any', kind: 'lost-response', rate: 0.02 },
      { op: 'pay', kind: 'http5xx', rate: 0.5 },
      { op: 'any', kind: 'latency', latencyMs: 30 },
      { op: 'any', kind: 'bad-signature' },
    ]);
    expect(() => parseFleetFaults('lost-response:2')).toThrow(/rate/);
    expect(() => parseFleetFaults('teleport')).toThrow(/kind/);
  });

  it('takes percentiles by rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99), percentile([], 50)]).toEqual([50, 95, 99, 0]);
  });
});
