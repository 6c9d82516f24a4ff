#!/usr/bin/env node
// The `scanpay` command. It runs the compiled agent in dist/ (`npm run build`; `npm install`
// and `npm pack` build it). SCANPAY_SOURCE=1 runs the TypeScript sources through tsx instead
// (a development dependency): the tests and the chaos runner set it, so they test the code
// beside them, never a stale build.
import { createRequire } from 'node:module';

// node:fs and node:vm through require, not `import`: an ES module's import of a built-in
// makes Node build its ES facade, which reads every export, and node:fs's lazy ones
// (`promises`, `ReadStream`) then load fs/promises, readline and fs streams: ~35 ms of
// `scanpay run`'s start to ready in a CPU profile, for modules `run` does not use by then.
const require = createRequire(import.meta.url);
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');

const built = new URL('../../dist/main.js', import.meta.url);
/** `scanpay run`'s own build (scripts/build.mjs). */
const runBundle = new URL('../../dist/run.cjs', import.meta.url);
const args = process.argv.slice(2);
/** The top-level program has no options but help and version, so the command is the first word (agent/cli/main.ts). */
const command = args.find((a) => !a.startsWith('-'));
/**
 * `run --demo` without `--backend` (npm start) embeds the simulator, which the chunks share
 * code with; dist/run.cjs would load it from them beside its own copy of that code (3 MB more
 * resident). Its start-up has no target: it runs from the chunks.
 */
const embedsSimulator = args.includes('--demo') && !args.some((a) => a === '--backend' || a.startsWith('--backend='));

/**
 * `scanpay run` from dist/run.cjs, one CommonJS script compiled with the V8 code cache that
 * `npm run build` wrote beside it (run.cjs.cache, scripts/build.mjs): Node 20 caches no
 * ES module's compilation, and compiling the start path's JavaScript was most of `run`'s
 * start-up. V8 checks the cache against its own version, flags and the source; when it
 * rejects it (another node, a changed file) it compiles the source as without one.
 */
function loadRunBundle() {
  const file = runBundle.pathname;
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // No cache (a build that could not make one): V8 compiles the source.
  }
  // ASCII (the build checks): read as latin1, which copies where utf8 would decode.
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  const module = { exports: {} };
  // The file is one function expression over CommonJS's module arguments and a function that
  // imports a chunk beside it (the embedded simulator, scripts/build.mjs).
  const importChunk = (name) => import(new URL(name, runBundle).href);
  script.runInThisContext()(module.exports, createRequire(file), module, file, new URL('.', runBundle).pathname, importChunk);
  // `npm run build` makes the cache by one warm start (scripts/build.mjs): written at exit, it
  // holds every function compiled by then.
  const cacheOut = process.env.SCANPAY_WRITE_CODE_CACHE;
  if (cacheOut) process.once('exit', () => writeFileSync(cacheOut, script.createCachedData()));
  return module.exports;
}

let main;
if (process.env.SCANPAY_SOURCE === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
} else if (command === 'run' && !embedsSimulator && !process.sourceMapsEnabled && existsSync(runBundle)) {
  // Node 20 maps no stack trace of a vm.Script through its source map: with
  // --enable-source-maps `run` loads the chunks below, whose traces name the TypeScript lines.
  ({ main } = loadRunBundle());
} else if (existsSync(built)) {
  // Source maps ship beside dist/ but stay off: parsing them costs ~27 MB of resident memory.
  // NODE_OPTIONS=--enable-source-maps makes stack traces name the TypeScript lines.
  ({ main } = await import(built.href));
} else {
  process.stderr.write('scanpay: not built: run `npm run build` in the scanpay folder (or set SCANPAY_SOURCE=1 to run the sources with tsx)\n');
  process.exit(1);
}
process.exitCode = await main(process.argv);
