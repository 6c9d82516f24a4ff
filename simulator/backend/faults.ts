/**
 * Injected faults: which protocol call gets which failure. A fault applies to the next N
 * matching calls (`count`), to a seeded random share of them (`rate`), or, with neither,
 * to every matching call until cleared. Latency faults add up and combine with one other
 * fault; of the others, the first one added that matches wins the call.
 */
import * as z from 'zod';
import { ScanpayError } from '../../agent/errors.ts';
import { prng } from '../prng.ts';

export const FAULT_KINDS = [
  'latency',
  'http5xx',
  'malformed',
  'unsigned',
  'bad-signature',
  'reset',
  'lost-response',
  'hang',
  'system-error',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FAULT_OPS = ['pay', 'query', 'reverse', 'refund', 'any'] as const;
export type FaultOp = (typeof FAULT_OPS)[number];

export const faultSpecSchema = z
  .strictObject({
    op: z.enum(FAULT_OPS).default('any'),
    kind: z.enum(FAULT_KINDS),
    count: z.number().int().positive().optional(),
    rate: z.number().min(0).max(1).optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    status: z.number().int().min(400).max(599).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.kind === 'latency' && f.latencyMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['latencyMs'], message: 'a latency fault needs latencyMs (milliseconds)' });
    }
  });
export type FaultSpec = z.input<typeof faultSpecSchema>;

export interface FaultState extends z.output<typeof faultSpecSchema> {
  id: string;
  /** Calls this fault has hit so far. */
  hits: number;
  /** Calls left for a `count` fault. */
  remaining?: number;
}

export interface FaultPick {
  /** Total injected delay, ms. */
  latencyMs: number;
  /** The fault that decides the call's fate, if any besides latency. */
  fault?: FaultState;
  /** What hit the call, for calls(): kinds joined by `+`. */
  label?: string;
}

/** Names the first invalid field, e.g. `rate: Too big: expected number to be <=1`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
}

export class FaultTable {
  readonly #seed: number;
  #random: () => number;
  #faults: FaultState[] = [];
  #nextId = 1;

  constructor(seed: number) {
    this.#seed = seed;
    this.#random = prng(seed);
  }

  add(spec: FaultSpec): FaultState {
    const parsed = faultSpecSchema.safeParse(spec);
    if (!parsed.success) throw new ScanpayError('SIM_CONTROL_INVALID', { message: `fault: ${describeIssues(parsed.error)}` });
    const f: FaultState = { id: `F${this.#nextId++}`, ...parsed.data, hits: 0 };
    if (f.count !== undefined) f.remaining = f.count;
    this.#faults.push(f);
    return { ...f };
  }

  list(): FaultState[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.#faults = [];
  }

  /** Clears the faults and restarts the random sequence, so a run can be replayed. */
  reset(): void {
    this.clear();
    this.#random = prng(this.#seed);
  }

  /** Decides, once per call, which faults hit a call of `op`; consumes their counts. */
  pick(op: Exclude<FaultOp, 'any'>): FaultPick {
    let latencyMs = 0;
    let fault: FaultState | undefined;
    const kinds: string[] = [];
    for (const f of this.#faults) {
      if (f.op !== 'any' && f.op !== op) continue;
      if (f.kind !== 'latency' && fault) continue;
      if (f.rate !== undefined && this.#random() >= f.rate) continue;
      f.hits += 1;
      if (f.remaining !== undefined) f.remaining -= 1;
      kinds.push(f.kind);
      if (f.kind === 'latency') latencyMs += f.latencyMs ?? 0;
      else fault = f;
    }
    this.#faults = this.#faults.filter((f) => f.remaining === undefined || f.remaining > 0);
    return { latencyMs, ...(fault ? { fault: { ...fault } } : {}), ...(kinds.length ? { label: kinds.join('+') } : {}) };
  }
}
