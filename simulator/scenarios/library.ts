/** The built-in scenarios: one or more per row of the fault table in docs/payment-flow.md. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LIBRARY_DIR = fileURLToPath(new URL('./library/', import.meta.url));

export function libraryFiles(): string[] {
  return readdirSync(LIBRARY_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `${LIBRARY_DIR}${f}`);
}
