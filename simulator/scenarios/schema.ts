/**
 * The scenario file format (JSON): steps that drive one terminal against the simulated
 * acquirer, and the outcomes expected at the end. Validated once when loaded; an error
 * names the file and the field. simulator/README.md documents it with an example.
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { ScanpayError } from '../../agent/errors.ts';
import { WALLETS, type Wallet } from '../../agent/payment-code.ts';
import { describeIssues, faultSpecSchema } from '../backend/faults.ts';
import { behaviourSchema } from '../backend/wallet-model.ts';
import { PROTOCOLS } from '../../agent/backend/acquirer-profile.ts';

const id = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a payment id is 1–32 letters, digits, _ or -');
const ms = z.number().int().min(0).max(7 * 24 * 60 * 60_000);

const payStep = z.strictObject({
  id,
  amount: z.number().int().positive().default(1234),
  wallet: z.enum(WALLETS as [Wallet, ...Wallet[]]).default('wechat'),
  /** How the customer behaves; a code with this behaviour is issued by the simulator. */
  behaviour: behaviourSchema.default({ kind: 'instant' }),
  /** Scan this text instead (a product barcode, a card number, garbage). */
  code: z.string().min(1).max(256).optional(),
  /** Scan the code another payment of this scenario used. */
  sameCodeAs: id.optional(),
});

/** What each kind of step takes: a step is an object with exactly one of these keys. */
const STEP_BODIES = {
  pay: payStep,
  fault: faultSpecSchema,
  clearFaults: z.literal(true),
  network: z.enum(['down', 'up']),
  backend: z.enum(['down', 'up']),
  /** Lets this much time pass on the scenario's clock. */
  wait: z.strictObject({ ms }),
  /** Lets time pass until the payment is in this state (fails after `withinMs`). */
  waitFor: z.strictObject({ id, state: z.string().min(1), withinMs: ms.default(5 * 60_000) }),
  cancel: id,
  refund: z.strictObject({ id, amount: z.number().int().positive().optional() }),
  restartAgent: z.literal(true),
  /** Lets time pass until every payment has ended and the outbox is empty (or `maxMs` passed). */
  settle: z.literal(true),
  /** The payment's pay request, delayed in the network, reaches the acquirer now (same order, code and amount). */
  latePay: id,
  /** The merchant's client certificate file (WeChat v2 /secapi/) now holds an expired or a renewed certificate. */
  clientCert: z.enum(['expired', 'renewed']),
};
type StepKind = keyof typeof STEP_BODIES;

const step = z.union([
  z.strictObject({ pay: STEP_BODIES.pay }),
  z.strictObject({ fault: STEP_BODIES.fault }),
  z.strictObject({ clearFaults: STEP_BODIES.clearFaults }),
  z.strictObject({ network: STEP_BODIES.network }),
  z.strictObject({ backend: STEP_BODIES.backend }),
  z.strictObject({ wait: STEP_BODIES.wait }),
  z.strictObject({ waitFor: STEP_BODIES.waitFor }),
  z.strictObject({ cancel: STEP_BODIES.cancel }),
  z.strictObject({ refund: STEP_BODIES.refund }),
  z.strictObject({ restartAgent: STEP_BODIES.restartAgent }),
  z.strictObject({ settle: STEP_BODIES.settle }),
  z.strictObject({ latePay: STEP_BODIES.latePay }),
  z.strictObject({ clientCert: STEP_BODIES.clientCert }),
]);

const paymentExpectation = z.strictObject({
  /** A final state, `reversal_queued`, or `rejected` (refused before any backend call). */
  outcome: z.enum(['paid', 'declined', 'reversed', 'reversal_queued', 'rejected']),
  /** The decline reason, or the error code of a rejection. */
  reasonCode: z.string().optional(),
  /** Backend calls that reached the acquirer for this payment. */
  backendCalls: z.number().int().min(0).optional(),
});

const ledgerExpectation = z.strictObject({
  charges: z.number().int().min(0).optional(),
  refunds: z.number().int().min(0).optional(),
  /** Charged minus reversed and refunded, minor units. */
  net: z.number().int().optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  /** Which row of the fault table (docs/payment-flow.md) this scenario covers. */
  covers: z.string().optional(),
  seed: z.number().int().default(1),
  /** The acquirer APIs this scenario is written for; the first is the default (scanpay-v1 when absent). */
  protocols: z.array(z.enum(PROTOCOLS)).min(1).optional(),
  /** Simulated acquirer settings, e.g. a short reverse window that a scenario can outlast. */
  backendOptions: z.strictObject({ reverseWindowMs: z.number().int().positive().optional() }).optional(),
  steps: z.array(step).min(1, 'at least one step, e.g. [{"pay": {"id": "P1"}}, {"settle": true}]'),
  // Required, so that a scenario without checks is a decision, not an oversight.
  expect: z.strictObject(
    {
      payments: z.record(id, paymentExpectation).default({}),
      ledger: z.record(id, ledgerExpectation).default({}),
    },
    { error: (i) => (i.input === undefined ? EXPECT_REQUIRED : undefined) },
  ),
});

const EXPECT_REQUIRED = 'required: what the run must end with, e.g. {"payments": {"P1": {"outcome": "paid"}}}; {} checks only the money invariants';

export type Scenario = z.output<typeof scenarioSchema>;
export type Step = z.output<typeof step>;
export type PayStep = z.output<typeof payStep>;

const invalid = (file: string, where: string, message: string, detail: Record<string, unknown> = {}) =>
  new ScanpayError('SIM_SCENARIO_INVALID', { message: `${file}: ${where}: ${message}`, detail: { file, ...detail } });

/**
 * A step's problem said by its number (from 1, as a person counts), its kind, the field
 * and what was expected; a union of step shapes alone would only say "Invalid input".
 */
function checkSteps(steps: unknown, file: string): void {
  if (!Array.isArray(steps)) return;
  const kinds = Object.keys(STEP_BODIES) as StepKind[];
  steps.forEach((s, i) => {
    const where = `step ${i + 1} of ${steps.length}`;
    const keys = s !== null && typeof s === 'object' && !Array.isArray(s) ? Object.keys(s) : undefined;
    if (!keys || keys.length !== 1 || !kinds.includes(keys[0] as StepKind)) {
      const got = keys ? (keys.length ? `keys ${keys.map((k) => `"${k}"`).join(', ')}` : 'an empty object') : JSON.stringify(s);
      throw invalid(file, where, `a step is an object with exactly one of the keys ${kinds.join(', ')}; got ${got}`, { step: i + 1 });
    }
    const kind = keys[0] as StepKind;
    const r = STEP_BODIES[kind].safeParse((s as Record<string, unknown>)[kind]);
    if (!r.success) {
      const problems = r.error.issues.map((issue) => `${[kind, ...issue.path].join('.')}: ${issue.message}`).join('; ');
      throw invalid(file, `${where} (${kind})`, problems, { step: i + 1, kind });
    }
  });
}

export function parseScenario(json: unknown, file: string): Scenario {
  checkSteps((json as { steps?: unknown } | null)?.steps, file);
  const r = scenarioSchema.safeParse(json);
  if (!r.success) throw new ScanpayError('SIM_SCENARIO_INVALID', { message: `${file}: ${describeIssues(r.error)}`, detail: { file } });
  return r.data;
}

export async function loadScenario(file: string): Promise<Scenario> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ScanpayError('SIM_SCENARIO_INVALID', { message: `${file}: ${(e as Error).message}`, cause: e, detail: { file } });
  }
  return parseScenario(json, file);
}
