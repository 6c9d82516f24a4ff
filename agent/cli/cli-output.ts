/**
 * How the cashier's commands end: a failure as one plain line on stderr, or with `--json`
 * as one JSON object on stdout (a till parsing stdout must never meet plain text), and a
 * reader that closes the pipe early (`scanpay list | head -2`) ends the command quietly.
 */
import type { Command } from 'commander';
import { ScanpayError } from '../errors.ts';
import { failure } from './pos-client.ts';

/** Prints the failure (plain or JSON) and returns the command's exit status. */
export function reportFailure(e: unknown, o: { json: boolean; out: (line: string) => void; err: (line: string) => void }): number {
  const error = e instanceof ScanpayError ? e : new ScanpayError('API_INTERNAL', { message: e instanceof Error ? e.message : String(e), cause: e });
  if (!o.json) return failure(error, o.err);
  o.out(JSON.stringify({ error: error.toJSON() }, null, 2));
  return failure(error, () => {});
}

/**
 * With `--json` on the command line, a usage error (a missing argument, an unknown option)
 * is JSON on stdout too, code API_BAD_REQUEST; commander's exit status (1) is kept.
 */
export function jsonUsageErrors(command: Command, argv: string[] = process.argv): Command {
  if (!argv.includes('--json')) return command;
  return command.showHelpAfterError(false).configureOutput({
    outputError: (text) => {
      const message = text.replace(/^error: /, '').trim();
      process.stdout.write(`${JSON.stringify({ error: new ScanpayError('API_BAD_REQUEST', { message }).toJSON() }, null, 2)}\n`);
    },
  });
}

let guarded = false;

/**
 * A closed stdout (the reader of a pipe has gone) is the reader saying "enough", not an
 * error: stop at once with status 0 instead of an EPIPE stack trace.
 */
export function exitQuietlyOnClosedPipe(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
