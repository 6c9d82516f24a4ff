/**
 * What must never be in a log line (money-safety rule 5), found whatever the key it was
 * logged under: a wallet's payment code (an alphanumeric token that the agent's own
 * classifier takes for one, as text or as the byte values of a Buffer), a bearer token, a
 * `token` or `key` field that is not masked, or the demo terminal's key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyCode, maskCode } from '../../agent/payment-code.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';

export interface Leak {
  file: string;
  line: number;
  what: string;
}

const KEY_FORMS = [DEMO_TERMINAL.key.toString('utf8'), DEMO_TERMINAL.key.toString('hex'), DEMO_TERMINAL.key.toString('base64').replace(/=+$/, '')];

/** Runs of byte values ("49,51,52,...") as a Buffer serialises them, decoded. */
function decodedByteRuns(line: string): string[] {
  return [...line.matchAll(/\d{1,3}(?:,\d{1,3}){7,}/g)].map((m) => Buffer.from(m[0].split(',').map(Number)).toString('latin1'));
}

export function leaksIn(line: string): string[] {
  const found: string[] = [];
  for (const text of [line, ...decodedByteRuns(line)]) {
    for (const [token] of text.matchAll(/[A-Za-z0-9]{16,}/g)) {
      if (classifyCode(token).kind === 'payment') found.push(`payment code ${maskCode(token)}`);
    }
    if (/Bearer\s+(?!\[masked\])[A-Za-z0-9._~+/-]{8,}/.test(text)) found.push('bearer token');
    for (const m of text.matchAll(/"(token|key|terminalKey|authorization)":\s*"(?!\[masked\])([^"]{8,})"/gi)) found.push(`unmasked "${m[1]}"`);
    for (const k of KEY_FORMS) if (text.includes(k)) found.push('the demo terminal key');
  }
  return [...new Set(found)];
}

/** Every leak in the log files of a tap directory (one file per process). */
export function scanTapDir(dir: string): { lines: number; leaks: Leak[] } {
  let lines = 0;
  const leaks: Leak[] = [];
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return { lines, leaks };
  }
  for (const file of files) {
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (!text) return;
        lines++;
        for (const what of leaksIn(text)) leaks.push({ file, line: i + 1, what });
      });
  }
  return { lines, leaks };
}
