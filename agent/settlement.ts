/**
 * End of day (payment-rules.md, "Terminal-side conventions"): close the batch, send the
 * per-wallet totals; when the backend's differ, upload the batch's detail, get the
 * discrepancies back, and save a reconciliation report naming each order that differs
 * (`$SCANPAY_HOME/reports/settlement-<batch>.csv|json`). Safe to run again: a batch whose
 * settle call was cut off is settled again under the same number.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceClient } from './backend/device-client.ts';
import type { Clock } from './clock.ts';
import { isScanpayError, ScanpayError } from './errors.ts';
import type { Journal } from './journal/journal.ts';
import type { Logger } from './log.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { totalsOf, type Discrepancy, type Totals } from './protocol/device-messages.ts';
import { txRecordOf } from './tx-records.ts';

export interface SettlementResult {
  batchNo: string;
  closedAt: number;
  result: 'matched' | 'mismatch';
  totals: Totals;
  backendTotals: Totals;
  discrepancies: Discrepancy[];
  report: { json: string; csv: string };
}

const UPLOAD_CHUNK = 200;

/** Time-stamped for people, with a random tail so two batches in one second stay apart. */
export function newBatchNo(now: number): string {
  return `B${new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`;
}

export async function settle(o: { journal: Journal; client: DeviceClient; clock: Clock; home: string }): Promise<SettlementResult> {
  const batch = o.journal.closeBatch(newBatchNo(o.clock.now()), o.clock.now());
  const records = o.journal.batchPayments(batch.batch_no).map((row) => txRecordOf(o.journal, row, batch.batch_no));
  const totals = totalsOf(records);
  const request = { batchNo: batch.batch_no, closedAt: batch.closed_at, totals };
  let answer = (await o.client.call('settle', request)).body;
  if (answer.result === 'DETAIL_REQUIRED') {
    for (let i = 0; i < records.length; i += UPLOAD_CHUNK) await o.client.call('upload', { records: records.slice(i, i + UPLOAD_CHUNK) });
    answer = (await o.client.call('settle', { ...request, detailUploaded: true })).body;
  }
  if (answer.result === 'DETAIL_REQUIRED') throw new ScanpayError('BACKEND_MALFORMED', { message: `the backend asked again for the detail of batch ${batch.batch_no}` });
  const result: Omit<SettlementResult, 'report'> = {
    batchNo: batch.batch_no,
    closedAt: batch.closed_at,
    result: answer.result === 'MATCHED' ? 'matched' : 'mismatch',
    totals,
    backendTotals: answer.result === 'MATCHED' ? totals : answer.backendTotals,
    discrepancies: answer.result === 'MISMATCH' ? answer.discrepancies : [],
  };
  const report = writeReport(o.home, result);
  o.journal.finishSettlement(batch.batch_no, result.result, o.clock.now(), { ...result, report });
  return { ...result, report };
}

const CSV_COLUMNS = ['orderNo', 'wallet', 'kind', 'terminalOutcome', 'terminalAmount', 'terminalRefunded', 'backendOutcome', 'backendAmount', 'backendRefunded'];

function csvRow(d: Discrepancy): string {
  const t = d.terminal;
  const b = d.backend;
  return [d.orderNo, d.wallet, d.kind, t?.outcome ?? '', t?.amount ?? '', t?.refunded ?? '', b?.outcome ?? '', b?.amount ?? '', b?.refunded ?? ''].join(',');
}

function writeReport(home: string, r: Omit<SettlementResult, 'report'>): { json: string; csv: string } {
  const dir = join(home, 'reports');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const json = join(dir, `settlement-${r.batchNo}.json`);
  const csv = join(dir, `settlement-${r.batchNo}.csv`);
  writeFileAtomic(json, `${JSON.stringify(r, null, 2)}\n`, 0o600);
  writeFileAtomic(csv, [CSV_COLUMNS.join(','), ...r.discrepancies.map(csvRow)].join('\n') + '\n', 0o600);
  return { json, csv };
}

/** Milliseconds from `now` to the next local `HH:MM`. */
export function msUntil(hhmm: string, now: number): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const next = new Date(now);
  next.setHours(h, m, 0, 0);
  if (next.getTime() <= now) next.setDate(next.getDate() + 1);
  return next.getTime() - now;
}

const BLOCKED_RETRY_MS = 5 * 60_000;

/**
 * Settles every day at `at` (local time). A batch blocked by payments under way, or a
 * backend out of reach, is tried again five minutes later. Returns a stop function.
 */
export function scheduleSettlement(o: { clock: Clock; at: string; logger: Logger; run: () => Promise<SettlementResult> }): () => void {
  let timer: unknown;
  let stopped = false;
  const arm = (ms: number) => {
    if (!stopped) timer = o.clock.setTimeout(() => void fire(), ms);
  };
  const fire = async () => {
    try {
      const r = await o.run();
      o.logger.info({ batchNo: r.batchNo, result: r.result, discrepancies: r.discrepancies.length, report: r.report.json }, `automatic settlement: ${r.result}`);
      arm(msUntil(o.at, o.clock.now()));
    } catch (e) {
      o.logger.warn({ err: e, code: isScanpayError(e) ? e.code : undefined }, 'automatic settlement did not complete; trying again in 5 minutes');
      arm(BLOCKED_RETRY_MS);
    }
  };
  arm(msUntil(o.at, o.clock.now()));
  return () => {
    stopped = true;
    o.clock.clearTimeout(timer);
  };
}
