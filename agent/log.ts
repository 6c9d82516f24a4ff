/**
 * Structured JSON logs (pino). Anything that may carry a payment code or a secret is
 * redacted by path here, and callers mask codes with `maskCode` before logging them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = [
  'paymentCode',
  '*.paymentCode',
  'code',
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
  return pino(
    {
      level: options.level ?? process.env.SCANPAY_LOG_LEVEL ?? 'info',
      name: options.name ?? 'scanpay',
      redact: { paths: REDACT, censor: '[masked]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination(2),
  );
}

/** A logger that drops everything: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
