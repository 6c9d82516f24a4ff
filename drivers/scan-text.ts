/**
 * Scanned bytes to text. Bytes that are not valid UTF-8 (line noise, a scanner set to a
 * legacy code page, a wrong baud rate) are refused rather than turned into U+FFFD: a code
 * with a replaced character is a different code, and must not reach the payment engine.
 */
import { ScanpayError } from '../agent/errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function scanText(raw: Buffer): string | ScanpayError {
  try {
    return utf8.decode(raw);
  } catch (e) {
    return new ScanpayError('SCAN_FRAME_INVALID', {
      message: `scan of ${raw.length} bytes is not valid UTF-8 text: skipped (check the scanner's baud rate and character set)`,
      cause: e,
      detail: { bytes: raw.length },
    });
  }
}
