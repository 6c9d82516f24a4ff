/**
 * `scanpay logs --export FILE`: writes the support bundle (agent/support-bundle.ts) as
 * gzipped JSON (`zcat FILE | less` reads it). The agent logs to stderr, which systemd
 * keeps in journald, so recent logs come from `journalctl -u scanpay` where there is one;
 * the journal's own recent payment events are in the bundle either way.
 */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ScanpayError } from '../errors.ts';
import { runDoctor } from '../doctor.ts';
import { ensureHome } from '../home.ts';
import { exportBundle } from '../support-bundle.ts';
import { realDoctorDeps } from './doctor.ts';

const LOG_LINES = 500;

const WHY: Record<string, string> = {
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'this user may not write there',
  EPERM: 'this user may not write there',
  EROFS: 'the filesystem is read-only',
  ENOSPC: 'the disk is full',
  EISDIR: 'it is a folder: name a file in it, e.g. scanpay-support.json.gz',
};

/** A failed write said by the path the technician gave, not by the temporary file beside it. */
function unwritable(file: string, e: unknown): ScanpayError {
  const code = (e as NodeJS.ErrnoException).code!;
  const target = resolve(file);
  const why = WHY[code] ?? (e as Error).message.replace(/ '[^']*\.tmp[^']*'/, '');
  return new ScanpayError('JOURNAL_EXPORT_UNWRITABLE', {
    message: `cannot write ${target}: ${why} (${code}); choose a writable path, e.g. --export /tmp/scanpay-support.json.gz`,
    cause: e,
    detail: { path: target, errno: code, folder: dirname(target) },
  });
}

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
      const bytes = await exportBundle(o.export, { home, now: Date.now(), doctor: () => runDoctor(realDoctorDeps(home)), recentLogs: journaldLogs }).catch((e: unknown) => {
        // Only the file system's refusals are about the path; anything else is itself.
        throw typeof (e as NodeJS.ErrnoException).code === 'string' && !(e instanceof ScanpayError) ? unwritable(o.export, e) : e;
      });
      process.stdout.write(`support bundle written to ${o.export} (${bytes} bytes, gzipped JSON; payment codes and keys masked)\n`);
    });
}
