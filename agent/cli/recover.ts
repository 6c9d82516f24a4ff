/**
 * `scanpay recover`: the technician's step after the agent refused to start because its
 * journal was lost (JOURNAL_IDENTITY_MISMATCH, JOURNAL_ROLLED_BACK). Asks the acquirer
 * for the terminal's orders since the last known point (journal-mark.json, or --since),
 * settles each one the journal does not hold (agent/recovery.ts), prints what it did,
 * and adopts the journal it recovered into so the agent starts again.
 * Exit status 0 when every order is settled, 2 when a reversal is left queued (the agent
 * keeps trying once it runs), 1 when the acquirer could not be asked (nothing changed).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatAmount } from '../amount.ts';
import { DeviceClient } from '../backend/device-client.ts';
import { HttpAcquirer } from '../backend/http-acquirer.ts';
import { systemClock } from '../clock.ts';
import { loadConfig, loadTerminal } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';
import { journalIdOf, markOf, readMark, writeMark } from '../journal-guard.ts';
import { Journal } from '../journal/journal.ts';
import { createLogger } from '../log.ts';
import { readAgentFile } from '../agent-file.ts';
import { learnClockOffset, recoverFromAcquirer, type RecoveredOrder } from '../recovery.ts';
import { ClockOffset } from '../clock-offset.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

export const RECOVER_EXIT = { settled: 0, queued: 2 } as const;
const CLOCK_MARGIN_MS = 24 * 3_600_000;

function parseSince(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new ScanpayError('CONFIG_INVALID', { message: `--since: "${v}" is neither ms since the epoch nor a date such as 2026-11-30T08:00:00Z` });
  return n;
}

function running(home: string): boolean {
  const f = readAgentFile(home);
  if (!f) return false;
  try {
    process.kill(f.pid, 0);
    return f.pid !== process.pid;
  } catch {
    return false;
  }
}

export function formatRecovery(rows: RecoveredOrder[], currency: string): string[] {
  if (rows.length === 0) return ['the acquirer lists no orders of this terminal since then'];
  return rows.map((r) => `  ${r.orderNo}  ${r.state.padEnd(10)} ${r.amount === null ? '-' : formatAmount(r.amount, currency)}  ${r.action}${r.outcome ? ` → ${r.outcome}` : ''}`);
}

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description("after a lost journal: ask the acquirer for this terminal's orders since the last known point, reverse what is open, record what is final")
    .option('--since <time>', 'ask from this time (ms since the epoch or an ISO date) instead of the one in journal-mark.json')
    .option('--backend <url>', 'acquirer URL (default: backend.url of config.json)')
    .option('--demo', "the demo terminal and the embedded simulated backend's saved orders (sim-backend.db)")
    .option('--json', 'print the result as JSON')
    .action(async (o: { since?: string; backend?: string; demo?: boolean; json?: boolean }) => {
      const home = ensureHome();
      if (running(home)) throw new ScanpayError('CONFIG_PROVISION_UNSAFE', { message: 'the agent is running on this SCANPAY_HOME: stop it first, then run `scanpay recover`' });
      const config = loadConfig(home, { backendUrl: o.backend });
      const terminal = loadTerminal(home, o.demo ?? false);
      const mark = readMark(home);
      // A day before the mark: the mark is in this device's time, which may have been off.
      const since = o.since !== undefined ? parseSince(o.since) : mark && Math.max(0, mark.recoverSince - CLOCK_MARGIN_MS);
      if (since === undefined) throw new ScanpayError('CONFIG_INVALID', { message: 'no journal-mark.json to say where to start: pass --since TIME (e.g. the day the device last settled)' });
      const logger = createLogger({ name: 'scanpay-recover' });
      const journal = Journal.open(join(home, 'journal.db'));
      let simulator: RunningBackend | undefined;
      try {
        let backendUrl = config.backend.url;
        if (!backendUrl && o.demo) {
          simulator = await startBackend({ port: 0, storePath: join(home, 'sim-backend.db') });
          backendUrl = simulator.url;
        }
        if (!backendUrl) throw new ScanpayError('CONFIG_INVALID', { message: 'backend.url: no acquirer configured: set it in config.json or pass --backend URL' });
        const clock = systemClock;
        // Signed with the backend's time: a device whose journal was lost may have a wrong clock too.
        const offset = new ClockOffset(clock);
        const client = new DeviceClient({ baseUrl: backendUrl, clock: offset.asClock(), credentials: () => ({ terminalId: terminal.terminalId, key: terminal.key }) });
        const acquirer = new HttpAcquirer({ baseUrl: backendUrl, terminalId: terminal.terminalId, key: terminal.key, clock, clockOffset: offset });
        await learnClockOffset(client, offset, clock);
        const rows = await recoverFromAcquirer({ journal, client, acquirer, clock, since, logger });
        const journalId = journalIdOf(journal);
        // The journal the backend (or the mark) still names: the next heartbeat must not take it for a conflict.
        const previous = mark?.conflict?.backendJournalId ?? (mark && mark.journalId !== journalId ? mark.journalId : undefined);
        const replaced = previous ? { journalId: previous, at: clock.now(), orders: rows.length } : mark?.replaced;
        writeMark(home, markOf(journal, { journalId, createdAt: mark?.journalId === journalId ? mark.createdAt : Math.min(since, clock.now()), ...(replaced ? { replaced } : {}) }, clock.now()));
        const queued = rows.filter((r) => r.action === 'queued').length;
        if (o.json) process.stdout.write(`${JSON.stringify({ since, orders: rows })}\n`);
        else {
          process.stdout.write(
            [
              `orders of terminal ${terminal.terminalId} at the acquirer since ${new Date(since).toISOString()}:`,
              ...formatRecovery(rows, config.currency),
              queued
                ? `${queued} reversal(s) could not be confirmed yet: they stay queued and the agent keeps trying once it runs (\`scanpay queue\`)`
                : 'every order is settled',
              'the journal is adopted: `scanpay run` starts again',
              '',
            ].join('\n'),
          );
        }
        process.exitCode = queued ? RECOVER_EXIT.queued : RECOVER_EXIT.settled;
      } finally {
        journal.close();
        await simulator?.close();
        logger.flush();
      }
    });
}
