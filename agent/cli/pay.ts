/**
 * `scanpay pay AMOUNT`: the cashier's payment. Asks the running agent for a payment, shows
 * what is happening on one line (with the time left), prints the result, and exits with a
 * status the till can branch on (EXIT: 0 paid, 2 declined, 3 not charged, 4 agent
 * unreachable, 1 anything else). Ctrl-C cancels the payment through the agent, which
 * reverses it if it may have charged, and waits for the final state; a second Ctrl-C
 * leaves, with the agent still finishing the payment.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { formatAmount, parseAmount } from '../amount.ts';
import { loadConfig } from '../config.ts';
import { ScanpayError, isScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';
import type { PosPayment } from '../pos-payment.ts';
import { EXIT, PosClient, failure } from './pos-client.ts';
import { controlRequest } from '../../simulator/backend/wechat/control-client.ts';

export interface PayOptions {
  amount: number;
  currency: string;
  id: string;
  lane?: string | undefined;
  code?: string | undefined;
  description?: string | undefined;
  /** Demo: ask the embedded simulator for a code with this behaviour and scan it on the lane's virtual scanner. */
  demoCustomer?: DemoBehaviour | undefined;
  json: boolean;
}

export type DemoBehaviour = { kind: 'instant' | 'insufficient' | 'expired' | 'invalid' | 'walkaway' } | { kind: 'password'; seconds: number };

export interface PayIo {
  out(line: string): void;
  err(line: string): void;
  /** Rewrites the live status line; undefined when stdout is not a terminal (each new status then gets its own line). */
  status?: ((line: string) => void) | undefined;
  /** Subscribes to Ctrl-C; returns the unsubscribe. */
  onInterrupt(handler: () => void): () => void;
  now(): number;
}

export function parseDemoCustomer(text: string): DemoBehaviour {
  const m = /^(instant|insufficient|expired|invalid|walkaway|password(?::(\d{1,4}))?)$/.exec(text);
  if (!m) throw new ScanpayError('API_BAD_REQUEST', { message: `--demo-customer "${text}": use instant, password:SECONDS, insufficient, expired, invalid or walkaway` });
  if (m[1]!.startsWith('password')) return { kind: 'password', seconds: Number(m[2] ?? 5) };
  return { kind: m[1] as Exclude<DemoBehaviour['kind'], 'password'> };
}

function exitFor(p: PosPayment): number {
  return p.result === 'paid' ? EXIT.ok : p.result === 'declined' ? EXIT.declined : EXIT.notCharged;
}

function line(p: PosPayment, now: number): string {
  const left = p.deadlineAt !== null && p.result === null ? ` · ${Math.max(0, Math.ceil((p.deadlineAt - now) / 1000))} s left` : '';
  return `${formatAmount(p.amount, p.currency)} · ${p.status}${left}`;
}

/** A fresh code from the demo agent's embedded simulator (its control API: simulator/README.md). */
async function demoCode(client: PosClient, behaviour: DemoBehaviour): Promise<string> {
  const info = await client.request<{ simulatorUrl: string | null }>('GET', '/v1/agent');
  if (!info.simulatorUrl) throw new ScanpayError('API_NO_VIRTUAL_SCANNER', { message: '--demo-customer needs the agent in demo mode with its embedded simulator (scanpay run --demo)' });
  const res = await controlRequest<{ code: string }>(`${info.simulatorUrl}/control/codes`, 'POST', { wallet: 'wechat', behaviour });
  if (res.status !== 200) throw new ScanpayError('API_INTERNAL', { message: `the simulator refused a code: HTTP ${res.status}` });
  return res.data.code;
}

export async function runPay(o: PayOptions, client: PosClient, io: PayIo): Promise<number> {
  const stream = new AbortController();
  let current: PosPayment | undefined;
  let shown = '';
  const show = () => {
    if (!current || o.json) return;
    const text = line(current, io.now());
    if (io.status) io.status(text);
    else if (current.status !== shown) io.out(text);
    shown = current.status;
  };
  let resolveFinal!: (p: PosPayment) => void;
  const final = new Promise<PosPayment>((r) => (resolveFinal = r));
  const update = (p: PosPayment) => {
    if (p.id !== o.id) return;
    current = p;
    show();
    if (p.result !== null) resolveFinal(p);
  };
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const events = client.events((e) => (e.event === 'hello' ? resolveReady() : e.event === 'payment' && update(e.data as PosPayment)), stream.signal);
  // An ended stream before the final state means the agent went away.
  const lost = events.then(() => new Promise<never>(() => {}));

  let interrupts = 0;
  const offInterrupt = io.onInterrupt(() => {
    interrupts++;
    if (interrupts > 1) return stream.abort();
    io.err(`cancelling payment ${o.id} (Ctrl-C again to leave it to the agent)…`);
    client.cancel(o.id).then(update, (e: unknown) => !isScanpayError(e, 'PAY_ALREADY_FINAL') && io.err(`cancel failed: ${String((e as Error).message)}`));
  });
  const ticker = io.status ? setInterval(show, 1000) : undefined;
  try {
    await Promise.race([ready, lost]);
    update(await client.create({ id: o.id, amount: o.amount, lane: o.lane, paymentCode: o.code, description: o.description }));
    if (o.demoCustomer && current?.state === 'waiting_scan') {
      const code = await demoCode(client, o.demoCustomer);
      await client.request('POST', `/v1/lanes/${encodeURIComponent(current.lane ?? '1')}/scan`, { text: code });
    }
    const interrupted = new Promise<'left'>((r) => stream.signal.addEventListener('abort', () => r('left')));
    const done = await Promise.race([final, lost, interrupted]);
    if (done === 'left') {
      io.err(`left payment ${o.id} to the agent: \`scanpay show ${o.id}\` tells how it ended`);
      return EXIT.other;
    }
    if (io.status) io.status('');
    if (o.json) io.out(JSON.stringify(done, null, 2));
    else io.out(`${done.result === 'paid' ? 'PAID' : done.result === 'declined' ? 'DECLINED' : 'NOT CHARGED'} ${line(done, io.now())} · id ${done.id}${done.orderNo ? ` · order ${done.orderNo}` : ''}`);
    return exitFor(done);
  } catch (e) {
    if (isScanpayError(e, 'API_AGENT_UNREACHABLE') && current) io.err(`the agent went away during payment ${o.id}; it resumes the payment when it restarts: \`scanpay show ${o.id}\``);
    return failure(e, io.err);
  } finally {
    clearInterval(ticker);
    offInterrupt();
    stream.abort();
  }
}

export function registerPay(program: Command): void {
  program
    .command('pay')
    .description('take a payment through the running agent; exit 0 paid, 2 declined, 3 not charged, 4 agent unreachable, 1 other')
    .argument('<amount>', 'amount in major units, e.g. 12.34')
    .option('--order <id>', 'the POS order id (idempotent: the same id never charges twice); generated when absent')
    .option('--code <code>', 'the payment code, when the POS scanned it itself')
    .option('--lane <id>', 'the lane (default: the first configured)')
    .option('--description <text>', 'what the customer sees on the wallet receipt')
    .option('--demo-customer <behaviour>', 'demo mode: a simulated customer shows a code that is scanned for you: instant, password:SECONDS, insufficient, expired, invalid, walkaway')
    .option('--json', 'print the final payment as JSON')
    .action(async (amountText: string, opts: { order?: string; code?: string; lane?: string; description?: string; demoCustomer?: string; json?: boolean }) => {
      const err = (l: string): void => void process.stderr.write(`${l}\n`);
      let status: number;
      try {
        const home = ensureHome();
        const config = loadConfig(home);
        const payOptions: PayOptions = {
          amount: parseAmount(amountText, { currency: config.currency, maxAmount: config.maxAmount }),
          currency: config.currency,
          id: opts.order ?? `P${Date.now().toString(36)}${randomBytes(3).toString('hex')}`,
          lane: opts.lane,
          code: opts.code,
          description: opts.description,
          demoCustomer: opts.demoCustomer === undefined ? undefined : parseDemoCustomer(opts.demoCustomer),
          json: opts.json ?? false,
        };
        const tty = process.stdout.isTTY;
        status = await runPay(payOptions, PosClient.forHome(home), {
          out: (l) => process.stdout.write(`${l}\n`),
          err,
          status: tty && !opts.json ? (l) => process.stdout.write(`\r\x1b[2K${l}`) : undefined,
          onInterrupt: (handler) => {
            process.on('SIGINT', handler);
            return () => process.off('SIGINT', handler);
          },
          now: () => Date.now(),
        });
      } catch (e) {
        status = failure(e, err);
      }
      process.exitCode = status;
    });
}
