/**
 * `scanpay queue [list]`, `queue retry ID`, `queue retry --all`: the offline queue as the
 * journal holds it: what waits, since when, how often it was tried, and why it failed.
 * Works straight on the journal whether or not the agent runs: a retry only makes the item
 * due now, and a running agent's outbox worker takes due items at its next heartbeat
 * (DeviceSync kicks it), a stopped one at its next start.
 */
import { existsSync } from 'node:fs';
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

function withJournal(fn: (journal: Journal | undefined) => void): void {
  const journal = openJournal(ensureHome());
  try {
    fn(journal);
  } finally {
    journal?.close();
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
      withJournal((j) => {
        const revived = retryQueue(j, o.all ? 'all' : [id!], systemClock);
        out(revived.length ? `due now: ${revived.map((i) => `#${i}`).join(', ')}; a running agent sends them at its next heartbeat, a stopped one when it starts` : 'nothing to retry');
      });
    });
}
