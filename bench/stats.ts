/**
 * What every benchmark shares: percentiles, the result row (a figure beside its reference,
 * measured in the same run), the printed table and the JSON written to bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = new URL('./results/', import.meta.url).pathname;

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: readonly number[]) => percentile(xs, 50);

/** One figure beside its reference. `ratio` is value / reference; `better` says which way is good. */
export interface Row {
  figure: string;
  measure: string;
  value: number;
  reference: string;
  refValue: number;
  unit: string;
  ratio: number;
  better: 'lower' | 'higher';
  /** The aim for the ratio, when the issue sets one, e.g. "<= 1". */
  target?: string;
  /** Whether the target is met; undefined when there is none. */
  met?: boolean;
  /** What stands between the figure and its target, printed when the target is missed. */
  whyMissed?: string;
}

export function row(r: Omit<Row, 'ratio'>): Row {
  return { ...r, ratio: r.refValue === 0 ? Number.NaN : r.value / r.refValue };
}

/** Each benchmark's report: its rows plus whatever details it wants kept (small). */
export interface Figure {
  name: string;
  rows: Row[];
  /** Invariants checked during the run (e.g. no double charge); the bench fails if any is false. */
  checks: Record<string, boolean>;
  details?: Record<string, unknown>;
}

const fmt = (n: number) => (Number.isNaN(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

export function formatRatio(r: Row): string {
  return Number.isNaN(r.ratio) ? '-' : `${fmt(r.ratio)}x`;
}

/** The table as markdown: printed to the terminal and pasted into docs/performance.md. */
export function table(rows: readonly Row[]): string {
  const head = '| figure | measure | scanpay | reference | ratio | target |\n|---|---|---|---|---|---|\n';
  return (
    head +
    rows
      .map((r) => {
        const target = r.target ? `${r.target} ${r.met ? 'met' : '**missed**'}` : '';
        return `| ${r.figure} | ${r.measure} | ${fmt(r.value)} ${r.unit} | ${r.reference}: ${fmt(r.refValue)} ${r.unit} | ${formatRatio(r)} | ${target} |`;
      })
      .join('\n') +
    '\n' +
    rows
      .filter((r) => r.target && !r.met)
      .map((r) => `- missed: ${r.measure}: ${formatRatio(r)} against ${r.target}x${r.whyMissed ? `: ${r.whyMissed}` : ''}\n`)
      .join('')
  );
}

export function writeJson(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Milliseconds since an arbitrary origin, sub-millisecond. */
export const now = () => performance.now();
