/** The built-in scenarios: one or more per row of the fault table in docs/payment-flow.md. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LIBRARY_DIR = fileURLToPath(new URL('./library/', import.meta.url));

/** WeChat's own rules (no tombstone, 15 s, recall, client certificate) have their own scenarios. */
export const WECHAT_LIBRARY_DIR = `${LIBRARY_DIR}wechat/`;

/** The library for `protocol`: the protocol v1 scenarios, or WeChat's. */
export function libraryFiles(protocol: string = 'scanpay-v1'): string[] {
  const dir = protocol.startsWith('wechat') ? WECHAT_LIBRARY_DIR : LIBRARY_DIR;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `${dir}${f}`);
}
