/**
 * Which journal writes are on disk before what follows them (docs/performance.md, "what
 * each journal write needs"): the write before a pay request once `synced()` resolved (a
 * grouped write: its fsync of the WAL runs in the thread pool), and a paid outcome when it
 * returns; the new payment, the answer and the other outcomes are not (a later sync covers
 * them). A kill cannot tell these apart (the page cache survives it), so this test counts,
 * with strace, the fsync calls of the WAL file that returned within each step, around the
 * real journal on a real file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const JOURNAL = fileURLToPath(new URL('../../agent/journal/journal.ts', import.meta.url));
const SCRUB = fileURLToPath(new URL('../../agent/wal-scrub.ts', import.meta.url));
/** Starts node with tsx under strace: on a loaded shared machine, tens of seconds. */
const PROCESS_TEST_MS = 120_000;

/** Each step writes a mark to stderr, so the trace shows which syncs belong to which write. */
const SCRIPT = `
import { writeSync } from 'node:fs';
import { Journal } from ${JSON.stringify(JOURNAL)};
import { scrubWal } from ${JSON.stringify(SCRUB)};
const j = Journal.open(process.argv[2]);
const mark = (step) => writeSync(2, 'MARK ' + step + '\\n');
const pay = (orderNo, code) => ({ orderNo, amount: 100, currency: 'CNY', description: '', wallet: 'wechat', code, codeMasked: 'x', traceId: 't', createdAt: 1, codeExpiresAt: 60_001, queryDeadlineAt: 45_001 });
mark('create'); j.createPayment(pay('A', '134567890123456789'));
mark('before-pay'); j.beforePayAttempt('A', 2); await j.synced();
mark('after-pay'); j.afterPayAttempt('A', 3, true, 'pay SUCCESS');
mark('acknowledge'); j.acknowledge('A', 3, 'submitting');
mark('finish-paid'); j.finish('A', 'paid', 4, 'paid');
mark('create-2'); j.createPayment(pay('B', '134567890123456790'));
mark('before-pay-2'); j.beforePayAttempt('B', 5); await j.synced();
mark('after-pay-2'); j.afterPayAttempt('B', 6, true, 'pay PAYERROR');
mark('finish-declined'); j.finish('B', 'declined', 7, 'declined');
mark('transition'); j.transition('A', 'paid', 8, 'cancel requested', { cancel_requested: 1 });
mark('scrub'); scrubWal(process.argv[2]);
mark('create-3'); j.createPayment(pay('C', '134567890123456791'));
mark('before-pay-3'); j.beforePayAttempt('C', 9); await j.synced();
mark('unsynced'); j.beforePayAttempt('C', 10);
mark('finish-paid-grouped'); j.finish('C', 'paid', 11, 'paid', {}, undefined, 'grouped'); await j.synced();
mark('end');
j.close();
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-durability-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * fsync/fdatasync calls of the WAL file that returned 0 between each mark and the next,
 * from `strace -f -y` of the script (a call in another thread may be printed in two halves,
 * "<unfinished ...>" and "<... fsync resumed>": it counts where it returned).
 */
async function syncsPerStep(): Promise<Record<string, number>> {
  const script = join(dir, 'steps.mts');
  const trace = join(dir, 'strace.txt');
  writeFileSync(script, SCRIPT);
  await new Promise<void>((resolve, reject) =>
    execFile('strace', ['-f', '-qq', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,write', process.execPath, '--import', 'tsx', script, join(dir, 'journal.db')], { timeout: PROCESS_TEST_MS - 10_000 }, (e, _out, stderr) =>
      e ? reject(new Error(`strace (apt-get install strace) or the script failed: ${e.message}\n${stderr}`)) : resolve(),
    ),
  );
  const counts: Record<string, number> = {};
  const started = new Map<string, string>(); // thread id -> the file its unfinished sync is of
  let step: string | undefined;
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const [, tid = '', call = ''] = /^(\d+)\s+(.*)$/.exec(line) ?? [];
    const m = /write\(2(<[^>]*>)?, "MARK ([a-z-0-9]+)\\n"/.exec(call);
    if (m) counts[(step = m[2]!)] = 0;
    const begun = /^(fsync|fdatasync)\(\d+<([^>]*)>/.exec(call);
    if (begun && call.includes('<unfinished ...>')) started.set(tid, begun[2]!);
    const file = begun && !call.includes('<unfinished ...>') ? begun[2] : /^<\.\.\. (fsync|fdatasync) resumed>/.test(call) ? started.get(tid) : undefined;
    if (step && file?.endsWith('.db-wal') && /= 0$/.test(call)) counts[step]! += 1;
  }
  return counts;
}

describe('journal durability', () => {
  it('syncs the write before a pay and a paid outcome; leaves the new payment, the answer and the other outcomes to the next sync', async () => {
    const n = await syncsPerStep();
    expect(Object.keys(n)).toEqual(['create', 'before-pay', 'after-pay', 'acknowledge', 'finish-paid', 'create-2', 'before-pay-2', 'after-pay-2', 'finish-declined', 'transition', 'scrub', 'create-3', 'before-pay-3', 'unsynced', 'finish-paid-grouped', 'end']);
    // Money-safety rule 1: on disk before the request leaves, i.e. once synced() resolved;
    // also after a checkpoint emptied the WAL and SQLite started it again from its header.
    expect(n['before-pay']).toBeGreaterThanOrEqual(1);
    expect(n['before-pay-2']).toBeGreaterThanOrEqual(1);
    expect(n['before-pay-3']).toBeGreaterThanOrEqual(1);
    // The grouped write alone does not sync: the sync is the caller's await (payment-actors.ts).
    expect(n.unsynced).toBe(0);
    // On disk before the cashier is told "paid": when it returns, or (the engine's) once synced() resolved.
    expect(n['finish-paid']).toBeGreaterThanOrEqual(1);
    expect(n['finish-paid-grouped']).toBeGreaterThanOrEqual(1);
    // Every other write not named in docs/performance.md's list stays durable.
    expect(n.transition).toBeGreaterThanOrEqual(1);
    expect({ create: n.create, 'after-pay': n['after-pay'], acknowledge: n.acknowledge, 'create-2': n['create-2'], 'after-pay-2': n['after-pay-2'], 'finish-declined': n['finish-declined'] }).toEqual({
      create: 0,
      'after-pay': 0,
      acknowledge: 0,
      'create-2': 0,
      'after-pay-2': 0,
      'finish-declined': 0,
    });
  }, PROCESS_TEST_MS);
});
