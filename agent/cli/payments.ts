/**
 * `scanpay show ID`, `list`, `cancel ID`, `refund ID [AMOUNT]`, `token`: the cashier's and
 * the integrator's other commands over the running agent's POS API.
 */
import type { Command } from 'commander';
import { formatAmount, parseAmount } from '../amount.ts';
import { loadConfig } from '../config.ts';
import { ensureHome } from '../home.ts';
import type { PosPayment } from '../pos-payment.ts';
import { ScanpayError, isScanpayError } from '../errors.ts';
import { ensureToken } from '../token.ts';
import { exitQuietlyOnClosedPipe, jsonUsageErrors, reportFailure } from './cli-output.ts';
import { EXIT, PosClient } from './pos-client.ts';

const out = (l: string): void => void process.stdout.write(`${l}\n`);
const err = (l: string): void => void process.stderr.write(`${l}\n`);

function summary(p: PosPayment): string {
  const when = new Date(p.createdAt).toTimeString().slice(0, 8);
  const refunded = p.refundedAmount > 0 ? ` (refunded ${formatAmount(p.refundedAmount, p.currency)})` : '';
  return `${when}  ${p.id}  ${formatAmount(p.amount, p.currency)}  ${p.status}${refunded}${p.orderNo ? `  order ${p.orderNo}` : ''}`;
}

/** Runs one call against the agent of this SCANPAY_HOME and sets the exit status; with `json`, a failure is JSON on stdout too. */
async function withAgent(json: boolean | undefined, fn: (client: PosClient, home: string) => Promise<void>): Promise<void> {
  exitQuietlyOnClosedPipe();
  try {
    const home = ensureHome();
    await fn(PosClient.forHome(home), home);
    process.exitCode = EXIT.ok;
  } catch (e) {
    process.exitCode = reportFailure(e, { json: json ?? false, out, err });
  }
}

/** Cancelling a paid payment cannot give the money back; a refund does, and the error says so. */
async function cancelOrHint(c: PosClient, id: string): Promise<PosPayment> {
  try {
    return await c.cancel(id);
  } catch (e) {
    if (!isScanpayError(e, 'PAY_ALREADY_FINAL')) throw e;
    const p = await c.get(id).catch(() => undefined);
    if (p?.result !== 'paid') throw e;
    throw new ScanpayError('PAY_ALREADY_FINAL', { message: `payment ${id} is already paid, so it cannot be cancelled: to give the money back, \`scanpay refund ${id}\` (or \`scanpay refund ${id} AMOUNT\` for part of it)`, detail: { id, result: p.result } });
  }
}

/** A command that takes a payment id, makes one call and prints the payment. */
function onePayment(program: Command, name: string, description: string, call: (c: PosClient, id: string) => Promise<PosPayment>): void {
  jsonUsageErrors(program.command(name))
    .description(description)
    .argument('<id>')
    .option('--json', 'print as JSON (an error too)')
    .action((id: string, o: { json?: boolean }) =>
      withAgent(o.json, async (c) => {
        const p = await call(c, id);
        out(o.json ? JSON.stringify(p, null, 2) : summary(p));
      }),
    );
}

export function registerPayments(program: Command): void {
  onePayment(program, 'show', 'show one payment (by POS order id or acquirer order number)', (c, id) => c.get(id));
  jsonUsageErrors(program.command('list'))
    .description("list today's payments, newest first")
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => withAgent(o.json, async (c) => {
      const { payments } = await c.list();
      if (o.json) return out(JSON.stringify(payments, null, 2));
      if (payments.length === 0) out('no payments today');
      for (const p of payments) out(summary(p));
    }));

  onePayment(program, 'cancel', 'cancel a payment: one that may have charged the customer is reversed (a paid one is refunded instead: scanpay refund ID)', cancelOrHint);

  jsonUsageErrors(program.command('refund'))
    .description('refund a paid payment, in full or AMOUNT of it')
    .argument('<id>')
    .argument('[amount]', 'amount in major units, e.g. 5.00 (default: all that is left)')
    .option('--refund-id <id>', 'idempotency key: the same id never refunds twice (default: derived from the payment and amount, so a repeated command is harmless)')
    .option('--json', 'print as JSON')
    .action((id: string, amountText: string | undefined, o: { refundId?: string; json?: boolean }) => withAgent(o.json, async (c, home) => {
      const config = loadConfig(home);
      const amount = amountText === undefined ? undefined : parseAmount(amountText, { currency: config.currency, maxAmount: config.maxAmount });
      const refundId = o.refundId ?? `${id}-R${amount ?? 'all'}`.slice(-64);
      const r = await c.refund(id, amount === undefined ? { refundId } : { refundId, amount });
      out(o.json ? JSON.stringify(r, null, 2) : `refund ${r.refundId}: ${formatAmount(r.amount, config.currency)} ${r.state}${r.reasonCode ? ` (${r.reasonCode})` : ''}`);
    }));

  program
    .command('token')
    .description("print the POS API's bearer token (created on first use)")
    .action(() => out(ensureToken(ensureHome())));
}
