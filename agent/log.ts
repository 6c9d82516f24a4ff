/**
 * Structured JSON logs (pino). Anything that may carry a payment code or a secret is
 * redacted by path here, and callers mask codes with `maskCode` before logging them.
 * `code` is not redacted: it is the error code of a log line (a payment code is logged as
 * `codeMasked`). Errors lose the raw bytes and requests some libraries attach to them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = [
  'paymentCode',
  '*.paymentCode',
  'authCode',
  '*.authCode',
  'auth_code',
  '*.auth_code',
  'code_plain',
  '*.code_plain',
  'key',
  '*.key',
  'terminalKey',
  '*.terminalKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.SCANPAY_LOG_LEVEL ?? 'info';
  const destination = options.destination ?? pino.destination(2);
  const tap = logTap();
  if (!tap) return pino(loggerOptions(level, options.name), destination);
  // Tapped: every line at every level goes to the tap too, as redacted as it is anywhere.
  const streams = [{ level: 'trace' as const, stream: tap }, ...(level === 'silent' ? [] : [{ level: level as pino.Level, stream: destination }])];
  return pino(loggerOptions('trace', options.name), pino.multistream(streams));
}

function loggerOptions(level: string, name = 'scanpay'): pino.LoggerOptions {
  return {
    level,
    name,
    redact: { paths: REDACT, censor: '[masked]' },
    serializers: { err: serializeError },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

let tapStream: DestinationStream | undefined;

/**
 * SCANPAY_LOG_TAP names a directory: every logger of this process, the silent one too,
 * also writes every line to `<dir>/<pid>.ndjson`, synchronously (a SIGKILL loses nothing).
 * The test suite sets it and scans the lines for payment codes and secrets
 * (test/support/log-tap.ts); children inherit it.
 */
function logTap(): DestinationStream | undefined {
  const dir = process.env.SCANPAY_LOG_TAP;
  if (!dir) return undefined;
  tapStream ??= pino.destination({ dest: `${dir}/${process.pid}.ndjson`, sync: true, append: true, mkdir: true });
  return tapStream;
}

/**
 * Node's HTTP parser puts the whole bad request on its error as `rawPacket` (bytes, so the
 * bearer token and any payment code in it escape redaction by path), and axios puts the
 * request with its body and headers on `config`/`request`/`response`: none of it is logged.
 */
const UNLOGGED = new Set(['rawPacket', 'config', 'request', 'response']);

function serializeError(e: unknown): unknown {
  const strip = (o: unknown, depth: number): unknown => {
    if (!o || typeof o !== 'object' || depth > 4) return o;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!UNLOGGED.has(k)) out[k] = k === 'cause' ? strip(v, depth + 1) : v;
    return out;
  };
  return strip(e instanceof Error ? pino.stdSerializers.err(e) : e, 0);
}

/** A logger that drops everything: for tests and library callers that pass none (the log tap still sees its lines). */
export const silentLogger: Logger = logTap() ? createLogger({ level: 'silent', name: 'silent' }) : pino({ level: 'silent' });
