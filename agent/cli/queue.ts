/**
 * `scanpay queue [list]`, `queue retry ID`, `queue retry --all`: the offline queue as the
 * journal holds it: what waits, since when, how often it was tried, and why it failed.
 * Works straight on the journal whether or not the agent runs: a retry makes the item due
 * now and signals a running agent (QUEUE_KICK_SIGNAL) to send it at once, then reports
 * how the attempt went; a stopped agent sends it at its next start.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAgentFile } from '../agent-file.ts';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { systemClock, type Clock } from '../clock.ts';
import { ScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';
import { Journal, type OutboxRow } from '../journal/journal.ts';

type Out = (line: string) => void;

/** The journal of this home, or undefined before the agent first ran (then nothing is queued). */
function openJournal(home: string): Journal | undefined {
  const path = join(home, 'journal.db');
  return existsSync(path) ? Journal.open(path) : undefined;
}

/** Waiting and dead items: done ones are history, not work. */
export function queueRows(journal: Journal): OutboxRow[] {
  return [...journal.outbox('pending'), ...journal.outbox('dead')].sort((a, b) => a.id - b.id);
}

export function formatRow(r: OutboxRow): string {
  const since = new Date(r.created_at).toISOString().replace('T', ' ').slice(0, 19);
  return [`#${r.id}`, r.kind, r.order_no ?? '-', r.status === 'pending' ? 'waiting' : 'dead', since, `${r.attempts} attempt(s)`, r.last_error ?? ''].join('  ').trimEnd();
}

export function listQueue(journal: Journal | undefined, out: Out, json: boolean): void {
  const rows = journal ? queueRows(journal) : [];
  if (json) return out(JSON.stringify({ items: rows.map(({ payload: _payload, ...r }) => r) }, null, 2));
  if (rows.length === 0) return out('queue empty: nothing waiting, no dead letters');
  out('id  kind  order  status  since (UTC)  attempts  last error');
  for (const r of rows) out(formatRow(r));
}

/** Makes the items due now; returns the ids revived. */
export function retryQueue(journal: Journal | undefined, ids: number[] | 'all', clock: Clock): number[] {
  const targets = ids === 'all' ? (journal ? queueRows(journal).map((r) => r.id) : []) : ids;
  for (const id of targets) {
    if (!journal?.outboxRetryNow(id, clock.now())) throw new ScanpayError('JOURNAL_QUEUE_ITEM_NOT_FOUND', { message: `no waiting or dead item #${id}: \`scanpay queue\` lists them`, detail: { id } });
  }
  return targets;
}

function itemId(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('ID is the number `scanpay queue` shows, e.g. 12');
  return Number(value);
}

/** The signal `scanpay run` takes as "send the queue now" (SIGUSR1 belongs to Node's inspector). */
export const QUEUE_KICK_SIGNAL = 'SIGUSR2';

/** Signals the agent running on this home, if one is; returns its pid. */
export function kickRunningAgent(home: string, signal: (pid: number, sig: NodeJS.Signals) => void = process.kill): number | undefined {
  const pid = readAgentFile(home)?.pid;
  if (!pid) return undefined;
  try {
    signal(pid, QUEUE_KICK_SIGNAL);
    return pid;
  } catch {
    // A stale agent.json after a power cut: nobody to tell, the next start sends it.
    return undefined;
  }
}

/** How long `queue retry` waits to report the attempt it asked for; the agent's call timeouts are longer, so it may still be under way. */
const REPORT_WITHIN_MS = 12_000;

/** Waits for one attempt at each item and says how it went. */
async function reportAttempts(journal: Journal, before: Map<number, number>, out: Out): Promise<void> {
  const deadline = Date.now() + REPORT_WITHIN_MS;
  const pending = new Set(before.keys());
  while (pending.size && Date.now() < deadline) {
    for (const id of pending) {
      const r = journal.getOutboxItem(id);
      if (!r || (r.status === 'pending' && r.attempts === before.get(id))) continue;
      pending.delete(id);
      if (r.status === 'done') out(`#${id} ${r.kind}: delivered`);
      else if (r.status === 'dead') out(`#${id} ${r.kind}: dead letter: ${r.last_error ?? ''}`);
      else out(`#${id} ${r.kind}: tried now, failed again: ${r.last_error ?? ''}; next try at ${new Date(r.next_attempt_at).toISOString().slice(11, 19)} UTC`);
    }
    if (pending.size) await sleep(200);
  }
  for (const id of pending) out(`#${id}: sent to the agent, no answer yet (the backend has up to its timeout); \`scanpay queue\` shows the outcome`);
}

function withJournal<T>(fn: (journal: Journal | undefined, home: string) => T): T {
  const home = ensureHome();
  const journal = openJournal(home);
  const close = () => journal?.close();
  try {
    const r = fn(journal, home);
    if (r instanceof Promise) return r.finally(close) as T;
    close();
    return r;
  } catch (e) {
    close();
    throw e;
  }
}

export function registerQueue(program: Command): void {
  const out: Out = (line) => void process.stdout.write(`${line}\n`);
  const list = (o: { json?: boolean }) => withJournal((j) => listQueue(j, out, o.json ?? false));
  const queue = program.command('queue').description('the offline queue (reversals, refunds, uploads): what waits, since when, how often tried, why').option('--json', 'print as JSON').action(list);
  queue.command('list').description('list waiting and dead items (the default)').option('--json', 'print as JSON').action(list);
  queue
    .command('retry')
    .argument('[ID]', 'the item number `scanpay queue` shows', itemId)
    .description('try an item again now (a dead one too); --all for every waiting and dead item')
    .option('--all', 'every waiting and dead item')
    .action((id: number | undefined, o: { all?: boolean }, cmd: Command) => {
      if ((id === undefined) === !o.all) cmd.error('scanpay queue retry: give one ID or --all');
      return withJournal(async (j, home) => {
        const attempts = new Map((o.all ? (j ? queueRows(j) : []) : id === undefined ? [] : [j?.getOutboxItem(id)]).flatMap((r) => (r ? [[r.id, r.attempts] as const] : [])));
        const revived = retryQueue(j, o.all ? 'all' : [id!], systemClock);
        if (revived.length === 0) return out('nothing to retry');
        const list = revived.map((i) => `#${i}`).join(', ');
        const pid = kickRunningAgent(home);
        if (!pid) return out(`due now: ${list}; no agent runs on ${home}: it sends them as soon as it starts (scanpay run, or systemctl start scanpay)`);
        out(`sending now: ${list} (agent pid ${pid})`);
        await reportAttempts(j!, attempts, out);
      });
    });
}
