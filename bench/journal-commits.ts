/**
 * `npx tsx bench/journal-commits.ts [payments] [rounds] [OTHER/agent/journal/journal.ts]`: the
 * journal's own CPU per instant payment, the writes alone (no engine, no HTTP), on a real
 * file: this tree's two commits (the new payment with its first pay's write; the answer with
 * "paid") against the four an earlier engine made (create, before the pay, the answer,
 * "paid"), each on this tree's schema, and on another tree's journal (its schema) when given.
 * Alternating rounds; the grouped syncs run as the agent runs them (thread pool, awaited).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../agent/journal/journal.ts';

type JournalLike = Pick<Journal, 'atomically' | 'createPayment' | 'beforePayAttempt' | 'afterPayAttempt' | 'acknowledge' | 'finish' | 'synced' | 'close'>;
type Open = (path: string) => JournalLike;

const n = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const other = process.argv[4];
const openOther: Open | undefined = other ? ((await import(other)) as { Journal: { open: Open } }).Journal.open : undefined;

async function run(open: Open, commits: 2 | 4): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-commits-'));
  const j = open(join(dir, 'journal.db'));
  try {
    let cpu = 0;
    for (let i = 0; i < n + 100; i++) {
      const at = 1_700_000_000_000 + i;
      const orderNo = `T1${at}${i.toString(16).padStart(8, '0')}`;
      const p = { orderNo, posOrderId: `pos-${i}`, amount: 100, currency: 'CNY', description: '', wallet: 'wechat' as const, code: `13456789${String(i).padStart(10, '0')}`, codeMasked: '13************6789', traceId: `t${i}`, createdAt: at, codeExpiresAt: at + 60_000, queryDeadlineAt: at + 45_000, lane: 'L1' };
      const answer = () => {
        j.afterPayAttempt(orderNo, at + 1, true, 'pay SUCCESS');
        j.acknowledge(orderNo, at + 1, 'submitting');
      };
      const paid = () => j.finish(orderNo, 'paid', at + 1, 'paid', { reason_code: null, reason_message: null, acquirer_trade_no: 'TN' }, undefined, 'grouped');
      const t0 = process.cpuUsage();
      if (commits === 2) {
        j.atomically(() => (j.createPayment(p), j.beforePayAttempt(orderNo, at)), 'lazy');
      } else {
        j.createPayment(p);
        j.beforePayAttempt(orderNo, at);
      }
      const sent = j.synced();
      const t1 = process.cpuUsage(t0);
      await sent;
      const t2 = process.cpuUsage();
      if (commits === 2) {
        j.atomically(() => (answer(), paid()), 'grouped');
      } else {
        j.atomically(answer, 'lazy');
        paid();
      }
      const shown = j.synced();
      const t3 = process.cpuUsage(t2);
      await shown;
      if (i >= 100) cpu += t1.user + t1.system + t3.user + t3.system;
    }
    return cpu / n / 1000;
  } finally {
    j.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mine: Open = (path) => Journal.open(path);
for (let r = 0; r < rounds; r++) {
  const line = [`4 commits ${(await run(mine, 4)).toFixed(3)} ms`, `2 commits ${(await run(mine, 2)).toFixed(3)} ms`];
  if (openOther) line.unshift(`other tree, 4 commits ${(await run(openOther, 4)).toFixed(3)} ms`);
  process.stdout.write(`journal CPU per payment: ${line.join('; ')}\n`);
}
