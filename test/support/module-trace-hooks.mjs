// The loader hook of module-trace.mjs: runs on the loader thread, sees every module load.
import { appendFileSync } from 'node:fs';

export async function load(url, context, next) {
  appendFileSync(process.env.TRACE_OUT, `${url}\n`);
  return next(url, context);
}
