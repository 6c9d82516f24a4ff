/**
 * Cashier-visible time in a chaos run: how long after the POS asked it saw the final
 * answer, by result, and how long a cashier's cancel waited for its final answer.
 */
export interface Timed {
  result: string | null;
  askedAt: number;
  answeredAt?: number;
  cancelledAt?: number;
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

function dist(xs: number[]): Distribution | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.at(-1)! };
}

export function cashierTimes(told: Timed[]): Record<string, Distribution | undefined> {
  const answered = told.filter((t) => t.answeredAt !== undefined);
  const by = (r: string) => dist(answered.filter((t) => t.result === r).map((t) => t.answeredAt! - t.askedAt));
  return {
    paid: by('paid'),
    declined: by('declined'),
    not_charged: by('not_charged'),
    cancel_to_answer: dist(answered.filter((t) => t.cancelledAt !== undefined && t.answeredAt! >= t.cancelledAt).map((t) => t.answeredAt! - t.cancelledAt!)),
  };
}

export function formatTimes(times: Record<string, Distribution | undefined>): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return Object.entries(times).map(([k, d]) => `    ${k}: ${d ? `n ${d.n}, p50 ${s(d.p50)}, p95 ${s(d.p95)}, max ${s(d.max)}` : 'none'}`);
}
