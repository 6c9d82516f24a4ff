/**
 * The scenario file format (JSON): steps that drive one terminal against the simulated
 * acquirer, and the outcomes expected at the end. Validated once when loaded; an error
 * names the file and the field. simulator/README.md documents it with an example.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
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

const step = z.union([
  z.strictObject({ pay: payStep }),
  z.strictObject({ fault: faultSpecSchema }),
  z.strictObject({ clearFaults: z.literal(true) }),
  z.strictObject({ network: z.enum(['down', 'up']) }),
  z.strictObject({ backend: z.enum(['down', 'up']) }),
  /** Lets this much time pass on the scenario's clock. */
  z.strictObject({ wait: z.strictObject({ ms }) }),
  /** Lets time pass until the payment is in this state (fails after `withinMs`). */
  z.strictObject({ waitFor: z.strictObject({ id, state: z.string().min(1), withinMs: ms.default(5 * 60_000) }) }),
  z.strictObject({ cancel: id }),
  z.strictObject({ refund: z.strictObject({ id, amount: z.number().int().positive().optional() }) }),
  z.strictObject({ restartAgent: z.literal(true) }),
  /** Lets time pass until every payment has ended and the outbox is empty (or `maxMs` passed). */
  z.strictObject({ settle: z.literal(true) }),
  /** The payment's pay request, delayed in the network, reaches the acquirer now (same order, code and amount). */
  z.strictObject({ latePay: id }),
  /** The merchant's client certificate file (WeChat v2 /secapi/) now holds an expired or a renewed certificate. */
  z.strictObject({ clientCert: z.enum(['expired', 'renewed']) }),
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
  steps: z.array(step).min(1),
  expect: z.strictObject({
    payments: z.record(id, paymentExpectation).default({}),
    ledger: z.record(id, ledgerExpectation).default({}),
  }),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type Step = z.output<typeof step>;
export type PayStep = z.output<typeof payStep>;

export function parseScenario(json: unknown, file: string): Scenario {
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
