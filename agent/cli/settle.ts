/**
 * `scanpay settle`: end of day by hand (agent/settlement.ts). Closes the batch, settles it
 * with the backend, prints the per-wallet totals and MATCHED or each discrepancy, and where
 * the reconciliation report was saved. Exit status 0 matched, 2 mismatch (report saved),
 * 1 when the batch could not be settled (nothing lost: run it again).
 * Safe beside a running agent: the journal serialises the two, and the key is read from
 * terminal.json at start, as a rotation leaves it.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatAmount } from '../amount.ts';
import { DeviceClient } from '../backend/device-client.ts';
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';
import { Journal } from '../journal/journal.ts';
import type { Discrepancy, Totals, WalletTotals } from '../protocol/device-messages.ts';
import { settle, type SettlementResult } from '../settlement.ts';
import { readTerminalRecord } from '../terminal-store.ts';

export const SETTLE_EXIT = { matched: 0, mismatch: 2 } as const;

function totalsLines(t: Totals, currency: string): string[] {
  const wallets = Object.entries(t).filter((e): e is [string, WalletTotals] => e[1] !== undefined);
  if (wallets.length === 0) return ['  (no payments or refunds in this batch)'];
  return wallets.map(
    ([w, v]) =>
      `  ${w.padEnd(9)} payments ${v.payments.count} = ${formatAmount(v.payments.amount, currency)}   reversals ${v.reversals.count} = ${formatAmount(v.reversals.amount, currency)}   refunds ${v.refunds.count} = ${formatAmount(v.refunds.amount, currency)}`,
  );
}

const side = (s: Discrepancy['terminal']) => (s ? `${s.outcome} ${s.amount}${s.refunded ? ` (refunded ${s.refunded})` : ''}` : 'none');

export function formatSettlement(r: SettlementResult, currency: string): string[] {
  return [
    `batch ${r.batchNo} closed ${new Date(r.closedAt).toISOString()}`,
    'terminal totals:',
    ...totalsLines(r.totals, currency),
    ...(r.result === 'matched'
      ? ['MATCHED: the backend agrees']
      : [
          `MISMATCH: ${r.discrepancies.length} order(s) differ`,
          'backend totals:',
          ...totalsLines(r.backendTotals, currency),
          ...r.discrepancies.map((d) => `  ${d.orderNo}  ${d.wallet}  ${d.kind}  terminal: ${side(d.terminal)}  backend: ${side(d.backend)}`),
        ]),
    `report: ${r.report.json}`,
    `        ${r.report.csv}`,
  ];
}

export function registerSettle(program: Command): void {
  program
    .command('settle')
    .description('end of day: close the batch, settle per-wallet totals with the backend, print MATCHED or the discrepancies; exit 2 on a mismatch')
    .option('--json', 'print the result as JSON')
    .action(async (o: { json?: boolean }) => {
      const home = ensureHome();
      const config = loadConfig(home);
      const record = readTerminalRecord(home);
      if (!record) throw new ScanpayError('CONFIG_TERMINAL_MISSING', { message: 'this device is not provisioned: scanpay provision --backend URL --activation-code CODE' });
      const client = new DeviceClient({
        baseUrl: config.backend.url ?? record.backendUrl,
        clock: systemClock,
        credentials: () => ({ terminalId: record.terminalId, key: Buffer.from(record.key, 'base64') }),
      });
      const journal = Journal.open(join(home, 'journal.db'));
      try {
        const r = await settle({ journal, client, clock: systemClock, home });
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatSettlement(r, config.currency).map((l) => `${l}\n`).join(''));
        process.exitCode = SETTLE_EXIT[r.result];
      } finally {
        journal.close();
      }
    });
}
