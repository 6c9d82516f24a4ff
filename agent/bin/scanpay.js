#!/usr/bin/env node
// The `scanpay` command. It runs the compiled agent in dist/ (`npm run build`; `npm install`
// and `npm pack` build it). SCANPAY_SOURCE=1 runs the TypeScript sources through tsx instead
// (a development dependency): the tests and the chaos runner set it, so they test the code
// beside them, never a stale build.
import { existsSync } from 'node:fs';

const built = new URL('../../dist/main.js', import.meta.url);
let main;
if (process.env.SCANPAY_SOURCE === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
} else if (existsSync(built)) {
  // Source maps ship beside dist/ but stay off: parsing them costs ~27 MB of resident memory.
  // NODE_OPTIONS=--enable-source-maps makes stack traces name the TypeScript lines.
  ({ main } = await import(built.href));
} else {
  process.stderr.write('scanpay: not built: run `npm run build` in the scanpay folder (or set SCANPAY_SOURCE=1 to run the sources with tsx)\n');
  process.exit(1);
}
process.exitCode = await main(process.argv);
