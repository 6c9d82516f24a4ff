/**
 * `scanpay logs --export FILE`: writes the support bundle (agent/support-bundle.ts) as
 * gzipped JSON (`zcat FILE | less` reads it). The agent logs to stderr, which systemd
 * keeps in journald, so recent logs come from `journalctl -u scanpay` where there is one;
 * the journal's own recent payment events are in the bundle either way.
 */
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { runDoctor } from '../doctor.ts';
import { ensureHome } from '../home.ts';
import { exportBundle } from '../support-bundle.ts';
import { realDoctorDeps } from './doctor.ts';

const LOG_LINES = 500;

function journaldLogs(): { source: string; lines: string[] } {
  const source = `journalctl --unit scanpay --lines ${LOG_LINES}`;
  try {
    const text = execFileSync('journalctl', ['--unit', 'scanpay', '--lines', String(LOG_LINES), '--output', 'cat', '--no-pager', '--quiet'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const lines = text.split('\n').filter(Boolean);
    return { source: lines.length ? source : `${source}: no entries (is the agent run by systemd as scanpay.service?)`, lines };
  } catch (e) {
    return { source: `${source} failed (${(e as Error).message.split('\n')[0]}): the agent logs to stderr; collect it where it runs`, lines: [] };
  }
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('export a support bundle: recent logs, doctor output, configuration without secrets, journal summary; codes and keys masked')
    .requiredOption('--export <file>', 'where to write the bundle (gzipped JSON, e.g. scanpay-support.json.gz)')
    .action(async (o: { export: string }) => {
      const home = ensureHome();
      const bytes = await exportBundle(o.export, { home, now: Date.now(), doctor: () => runDoctor(realDoctorDeps(home)), recentLogs: journaldLogs });
      process.stdout.write(`support bundle written to ${o.export} (${bytes} bytes, gzipped JSON; payment codes and keys masked)\n`);
    });
}
