/**
 * Which journal writes are synced before they return (docs/performance.md, "what each
 * journal write needs"): the write before a pay request and a paid outcome are; the new
 * payment, the answer and the other outcomes are not (a later durable write syncs them).
 * A kill cannot tell the two apart (the page cache survives it), so this test counts the
 * fsync calls each write makes, with strace, around the real journal on a real file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const JOURNAL = fileURLToPath(new URL('../../agent/journal/journal.ts', import.meta.url));
/** Starts node with tsx under strace: on a loaded shared machine, tens of seconds. */
const PROCESS_TEST_MS = 120_000;

/** Each step writes a mark to stderr, so the trace shows which syncs belong to which write. */
const SCRIPT = `
import { writeSync } from 'node:fs';
import { Journal } from ${JSON.stringify(JOURNAL)};
const j = Journal.open(process.argv[2]);
const mark = (step) => writeSync(2, 'MARK ' + step + '\\n');
const pay = (orderNo, code) => ({ orderNo, amount: 100, currency: 'CNY', description: '', wallet: 'wechat', code, codeMasked: 'x', traceId: 't', createdAt: 1, codeExpiresAt: 60_001, queryDeadlineAt: 45_001 });
mark('create'); j.createPayment(pay('A', '134567890123456789'));
mark('before-pay'); j.beforePayAttempt('A', 2);
mark('after-pay'); j.afterPayAttempt('A', 3, true, 'pay SUCCESS');
mark('finish-paid'); j.finish('A', 'paid', 4, 'paid');
mark('create-2'); j.createPayment(pay('B', '134567890123456790'));
mark('before-pay-2'); j.beforePayAttempt('B', 5);
mark('after-pay-2'); j.afterPayAttempt('B', 6, true, 'pay PAYERROR');
mark('finish-declined'); j.finish('B', 'declined', 7, 'declined');
mark('transition'); j.transition('A', 'paid', 8, 'cancel requested', { cancel_requested: 1 });
mark('end');
j.close();
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-durability-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** fsync/fdatasync calls between each mark and the next, from `strace -f` of the script. */
async function syncsPerStep(): Promise<Record<string, number>> {
  const script = join(dir, 'steps.mts');
  const trace = join(dir, 'strace.txt');
  writeFileSync(script, SCRIPT);
  await new Promise<void>((resolve, reject) =>
    execFile('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=fsync,fdatasync,write', process.execPath, '--import', 'tsx', script, join(dir, 'journal.db')], { timeout: PROCESS_TEST_MS - 10_000 }, (e, _out, stderr) =>
      e ? reject(new Error(`strace (apt-get install strace) or the script failed: ${e.message}\n${stderr}`)) : resolve(),
    ),
  );
  const counts: Record<string, number> = {};
  let step: string | undefined;
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const m = /write\(2, "MARK ([a-z-0-9]+)\\n"/.exec(line);
    if (m) counts[(step = m[1]!)] = 0;
    else if (step && /\b(fsync|fdatasync)\(/.test(line)) counts[step]! += 1;
  }
  return counts;
}

describe('journal durability', () => {
  it('syncs the write before a pay and a paid outcome; leaves the new payment, the answer and the other outcomes to the next sync', async () => {
    const n = await syncsPerStep();
    expect(Object.keys(n)).toEqual(['create', 'before-pay', 'after-pay', 'finish-paid', 'create-2', 'before-pay-2', 'after-pay-2', 'finish-declined', 'transition', 'end']);
    // Money-safety rule 1: on disk before the request leaves.
    expect(n['before-pay']).toBeGreaterThanOrEqual(1);
    expect(n['before-pay-2']).toBeGreaterThanOrEqual(1);
    // On disk before the cashier is told "paid".
    expect(n['finish-paid']).toBeGreaterThanOrEqual(1);
    // Every other write not named in docs/performance.md's list stays durable.
    expect(n.transition).toBeGreaterThanOrEqual(1);
    expect({ create: n.create, 'after-pay': n['after-pay'], 'create-2': n['create-2'], 'after-pay-2': n['after-pay-2'], 'finish-declined': n['finish-declined'] }).toEqual({
      create: 0,
      'after-pay': 0,
      'create-2': 0,
      'after-pay-2': 0,
      'finish-declined': 0,
    });
  }, PROCESS_TEST_MS);
});
