/**
 * `scanpay pay AMOUNT`: the cashier's payment. Asks the running agent for a payment, shows
 * what is happening on one line (with the time left), prints the result, and exits with a
 * status the till can branch on (EXIT: 0 paid, 2 declined, 3 not charged, 4 agent
 * unreachable, 1 anything else). Ctrl-C cancels the payment through the agent, which
 * reverses it if it may have charged, and waits for the final state, saying what it waits
 * for and how long that may take; a second Ctrl-C leaves once the agent has taken the
 * cancel, with the same status 3: a cancelled payment ends not charged whatever happens.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { formatAmount, parseAmount } from '../amount.ts';
import { loadConfig } from '../config.ts';
import { ScanpayError, isScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';
import type { PosPayment } from '../pos-payment.ts';
import { DEFAULT_TIMEOUTS } from '../backend/http-acquirer.ts';
import { jsonUsageErrors, reportFailure } from './cli-output.ts';
import { EXIT, PosClient } from './pos-client.ts';
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
  /** How long a cancel can take while the backend answers: a pay in flight to its timeout, then one reverse call. */
  cancelWithinS?: number | undefined;
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

/** The simulator's limit for a customer's password time (simulator/backend/wallet-model.ts). */
export const DEMO_PASSWORD_MAX_S = 3600;

export function parseDemoCustomer(text: string): DemoBehaviour {
  const m = /^(instant|insufficient|expired|invalid|walkaway|password(?::(\d+))?)$/.exec(text);
  if (!m) throw new ScanpayError('API_BAD_REQUEST', { message: `--demo-customer "${text}": use instant, password:SECONDS (0 to ${DEMO_PASSWORD_MAX_S}), insufficient, expired, invalid or walkaway` });
  if (m[1]!.startsWith('password')) {
    const seconds = Number(m[2] ?? 5);
    if (seconds > DEMO_PASSWORD_MAX_S) throw new ScanpayError('API_BAD_REQUEST', { message: `--demo-customer "${text}": SECONDS must be from 0 to ${DEMO_PASSWORD_MAX_S} (a customer typing a password for at most an hour), e.g. password:8` });
    return { kind: 'password', seconds };
  }
  return { kind: m[1] as Exclude<DemoBehaviour['kind'], 'password'> };
}

function exitFor(p: PosPayment): number {
  return p.result === 'paid' ? EXIT.ok : p.result === 'declined' ? EXIT.declined : EXIT.notCharged;
}

function line(p: PosPayment, now: number, cancel?: { since: number; withinS: number }): string {
  if (cancel && p.result === null) {
    const waited = Math.floor((now - cancel.since) / 1000);
    return `${formatAmount(p.amount, p.currency)} · cancelling: ${p.status} · ${waited} s (the backend has up to ${cancel.withinS} s to answer; not charged either way)`;
  }
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
  /** Set at the first Ctrl-C; `accepted` once the agent has taken the cancel. */
  let cancel: { since: number; withinS: number; accepted: boolean } | undefined;
  const show = () => {
    if (!current || o.json) return;
    const text = line(current, io.now(), cancel);
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
    // A queued reversal is delivered by the agent however long the backend stays away.
    else if (cancel && p.state === 'reversal_queued') resolveFinal({ ...p, result: 'not_charged' });
  };
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  // Held by this stream: if this process dies before the code is scanned, the agent ends the payment and frees the lane.
  const events = client.events((e) => (e.event === 'hello' ? resolveReady() : e.event === 'payment' && update(e.data as PosPayment)), stream.signal, { hold: o.id });
  // An ended stream before the final state means the agent went away.
  const lost = events.then(() => new Promise<never>(() => {}));

  const sendCancel = () =>
    client.cancel(o.id).then(
      (p) => {
        cancel!.accepted = true;
        update(p);
      },
      (e: unknown) => !isScanpayError(e, 'PAY_ALREADY_FINAL') && io.err(`cancel failed: ${String((e as Error).message)}`),
    );
  let created = false;
  const offInterrupt = io.onInterrupt(() => {
    if (!cancel) {
      cancel = { since: io.now(), withinS: o.cancelWithinS ?? 25, accepted: false };
      io.err(
        `cancelling payment ${o.id}: the agent reverses it in case the customer was charged. Usually a few seconds; up to ${cancel.withinS} s while the backend answers, ` +
          'after that the reversal waits in the queue and the customer is not charged either way. Ctrl-C again to leave it to the agent.',
      );
      if (created) void sendCancel();
      return show();
    }
    if (cancel.accepted) return stream.abort();
    io.err('still waiting for the agent to take the cancel…');
  });
  const ticker = io.status ? setInterval(show, 1000) : undefined;
  try {
    await Promise.race([ready, lost]);
    update(await client.create({ id: o.id, amount: o.amount, lane: o.lane, paymentCode: o.code, description: o.description }));
    created = true;
    // Ctrl-C before the agent knew the payment: cancel it now that it exists.
    if (cancel) await sendCancel();
    else if (o.demoCustomer && current?.state === 'waiting_scan') {
      const code = await demoCode(client, o.demoCustomer);
      await client.request('POST', `/v1/lanes/${encodeURIComponent(current.lane ?? '1')}/scan`, { text: code });
    }
    const interrupted = new Promise<'left'>((r) => stream.signal.addEventListener('abort', () => r('left')));
    const done = await Promise.race([final, lost, interrupted]);
    if (done === 'left') {
      if (o.json) io.out(JSON.stringify({ ...current, result: 'not_charged', left: true }, null, 2));
      io.err(`left payment ${o.id} to the agent, which is reversing it: the customer is not charged (\`scanpay show ${o.id}\` tells when it is done)`);
      return EXIT.notCharged;
    }
    if (io.status) io.status('');
    if (o.json) io.out(JSON.stringify(done, null, 2));
    else io.out(`${done.result === 'paid' ? 'PAID' : done.result === 'declined' ? 'DECLINED' : 'NOT CHARGED'} ${line(done, io.now())} · id ${done.id}${done.orderNo ? ` · order ${done.orderNo}` : ''}`);
    return exitFor(done);
  } catch (e) {
    if (isScanpayError(e, 'API_AGENT_UNREACHABLE') && current) io.err(`the agent went away during payment ${o.id}; it resumes the payment when it restarts: \`scanpay show ${o.id}\``);
    return reportFailure(e, { json: o.json, out: io.out, err: io.err });
  } finally {
    clearInterval(ticker);
    offInterrupt();
    stream.abort();
  }
}

/**
 * Ctrl-C as the SIGINT it is everywhere, and, in a terminal, as the key it is: the terminal
 * sends SIGINT to every process of its foreground group, and `npx` (in that group too) dies
 * of it with status 130 before this command can report 3. Reading the key in raw mode keeps
 * the signal from being sent, so the status the till sees is ours, through npx as well.
 */
function interruptsOf(stdin: NodeJS.ReadStream): PayIo['onInterrupt'] {
  return (handler) => {
    const onKey = (d: Buffer) => d.includes(0x03) && handler();
    const raw = stdin.isTTY === true;
    process.on('SIGINT', handler);
    if (raw) {
      stdin.setRawMode(true);
      stdin.on('data', onKey).resume();
    }
    return () => {
      process.off('SIGINT', handler);
      if (raw) {
        stdin.off('data', onKey).pause();
        stdin.setRawMode(false);
      }
    };
  };
}

export function registerPay(program: Command): void {
  jsonUsageErrors(program.command('pay'))
    .description('take a payment through the running agent; exit 0 paid, 2 declined, 3 not charged, 4 agent unreachable, 1 other')
    .argument('<amount>', 'amount in major units, e.g. 12.34')
    .option('--order <id>', 'the POS order id (idempotent: the same id never charges twice); generated when absent')
    .option('--code <code>', 'the payment code, when the POS scanned it itself')
    .option('--lane <id>', 'the lane (default: the first configured)')
    .option('--description <text>', 'what the customer sees on the wallet receipt')
    .option('--demo-customer <behaviour>', 'demo mode: a simulated customer shows a code that is scanned for you: instant, password:SECONDS, insufficient, expired, invalid, walkaway')
    .option('--json', 'print the final payment, or the error, as JSON')
    .action(async (amountText: string, opts: { order?: string; code?: string; lane?: string; description?: string; demoCustomer?: string; json?: boolean }) => {
      const err = (l: string): void => void process.stderr.write(`${l}\n`);
      const out = (l: string): void => void process.stdout.write(`${l}\n`);
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
          cancelWithinS: Math.ceil(((config.backend.timeoutMs.pay ?? DEFAULT_TIMEOUTS.pay) + (config.backend.timeoutMs.reverse ?? DEFAULT_TIMEOUTS.reverse)) / 1000),
        };
        const tty = process.stdout.isTTY;
        status = await runPay(payOptions, PosClient.forHome(home), {
          out,
          err,
          status: tty && !opts.json ? (l) => process.stdout.write(`\r\x1b[2K${l}`) : undefined,
          onInterrupt: interruptsOf(process.stdin),
          now: () => Date.now(),
        });
      } catch (e) {
        status = reportFailure(e, { json: opts.json ?? false, out, err });
      }
      process.exitCode = status;
    });
}
