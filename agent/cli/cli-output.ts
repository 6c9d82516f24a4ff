/**
 * How the cashier's commands end: a failure as one plain line on stderr, or with `--json`
 * as one JSON object on stdout (a till parsing stdout must never meet plain text), and a
 * reader that closes the pipe early (`scanpay list | head -2`) ends the command quietly.
 */
import { ScanpayError } from '../errors.ts';
import { failure } from './pos-client.ts';

/** Prints the failure (plain or JSON) and returns the command's exit status. */
export function reportFailure(e: unknown, o: { json: boolean; out: (line: string) => void; err: (line: string) => void }): number {
  const error = e instanceof ScanpayError ? e : new ScanpayError('API_INTERNAL', { message: e instanceof Error ? e.message : String(e), cause: e });
  if (!o.json) return failure(error, o.err);
  o.out(JSON.stringify({ error: error.toJSON() }, null, 2));
  return failure(error, () => {});
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
