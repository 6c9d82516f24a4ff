/**
 * The benchmark's quick mode for the cheap figures: checks the shape of the results and
 * the invariants they carry, never a timing (the machine is shared and noisy).
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../../bench/run.ts';

describe('npm run bench -- --quick', () => {
  it('reports each figure beside its reference, with its invariants holding', async () => {
    const figures = await runBench({ quick: true, write: false, only: ['overhead', 'time-to-result', 'throughput', 'fleet'] });
    expect(figures.map((f) => f.name)).toEqual(['overhead', 'time-to-result', 'throughput', 'fleet']);
    for (const f of figures) {
      expect(Object.values(f.checks).every(Boolean), JSON.stringify(f.checks)).toBe(true);
      for (const r of f.rows) {
        expect(Number.isFinite(r.value) && Number.isFinite(r.refValue), `${r.measure}`).toBe(true);
        expect(r.reference.length).toBeGreaterThan(0);
      }
    }
    const ttr = figures[1]!;
    // Behaviour, not speed: the long-poll never sends more queries than WeChat's schedule.
    const q = ttr.rows.find((r) => r.measure.startsWith('queries') && r.reference.startsWith('WeChat'))!;
    expect(q.met).toBe(true);
  }, 240_000);
});
