#!/usr/bin/env node
// `npm run build`: the agent as JavaScript in dist/, bundled by esbuild from agent/cli/main.ts:
// our code and the pure-JS dependencies, minified, split so each command's dynamic import is
// a chunk of its own (`pay` never loads Fastify's); the native modules stay in node_modules.
// Source maps (with the sources) sit beside each file. Then `scanpay run` once more as one
// CommonJS script with V8's code cache for it (dist/run.cjs, run.cjs.cache: below), which the
// bin loads for `run`. Plain JS: it must run before anything is compiled. `npm install` runs
// it (prepare), and so does `npm pack`.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');

/** Loaded from node_modules at run time: native bindings found by path from their own package. */
const NATIVE = ['better-sqlite3', 'node-hid', '@serialport/bindings-cpp'];

/**
 * Files the code reads by `new URL(…, import.meta.url)`. Every chunk sits in dist/, so a
 * file read as `./X` lands in dist/X; `../X` (from agent/: docs/openapi.json, package.json)
 * is the package's own file, shipped as it is.
 */
const ASSETS = {
  'simulator/web/index.html': 'index.html',
  'simulator/web/style.css': 'style.css',
  'simulator/web/app.js': 'app.js',
  'simulator/scenarios/library': 'library',
  'simulator/backend/wechat/demo-keys': 'demo-keys',
};

/**
 * axios touches Node's lazy web globals when it loads: its fetch adapter is built at module
 * level (`getFetch()` reads Request and Response) and its utils read FormData. The first
 * touch makes Node load its bundled undici: about 10 MB of resident memory and 50-100 ms of
 * start-up, for an adapter the agent never uses (every client is created with
 * `adapter: 'http'`, agent/backend/protocol-http.ts) and bodies that are never FormData. In
 * the bundle the fetch adapter is "not supported" (as where fetch does not exist), and
 * `isFormData` keeps its own fallback (`[object FormData]`, which Node's FormData reports).
 * An exact text replacement: the build fails if a new axios no longer has the text.
 */
const AXIOS_FORMDATA = "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;";
const axiosWithoutWebGlobals = {
  name: 'axios-without-web-globals',
  setup(b) {
    b.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]adapters[\\/]fetch\.js$/ }, () => ({ contents: 'export const getFetch = () => false;\nexport default false;\n', loader: 'js' }));
    b.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]utils\.js$/ }, ({ path }) => {
      const text = readFileSync(path, 'utf8');
      if (!text.includes(AXIOS_FORMDATA)) throw new Error(`${path}: no longer has \`${AXIOS_FORMDATA}\`: check what this axios touches at load (scripts/build.mjs)`);
      return { contents: text.replace(AXIOS_FORMDATA, 'const FormDataCtor = undefined;'), loader: 'js' };
    });
  },
};

/**
 * prom-client's index requires its Pushgateway client, which requires node:https (with TLS)
 * and node:zlib when it loads: ~25 ms of `scanpay run`'s start to ready in a CPU profile
 * (the agent's own gateway clients load https at their first call). The agent never pushes
 * (Prometheus scrapes GET /metrics): in the bundle the class says so if anyone constructs it.
 */
const promClientWithoutPushgateway = {
  name: 'prom-client-without-pushgateway',
  setup(b) {
    b.onLoad({ filter: /[\\/]prom-client[\\/]lib[\\/]pushgateway\.js$/ }, () => ({
      contents: "module.exports = class Pushgateway { constructor() { throw new Error('prom-client Pushgateway is left out of the scanpay build (scripts/build.mjs)'); } };\n",
      loader: 'js',
    }));
  },
};

/**
 * A dependency's JSON (mime-db's 186 KB table, which axios loads through form-data) becomes
 * an ES module with one export per key under esbuild's json loader, and `require()` then
 * copies those ~2,500 exports onto a new object, one getter each: 60-280 ms of start-up
 * measured in a CPU profile. As CommonJS that parses one string, `require()` returns the
 * same plain object. Every such file is required from CommonJS (dist/meta.json lists them).
 */
const jsonAsCommonJs = {
  name: 'json-as-commonjs',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.json$/ }, ({ path }) => ({
      contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(readFileSync(path, 'utf8'))))});`,
      loader: 'js',
    }));
  },
};

/** What both outputs share: one bundle of our code and the pure-JS dependencies, minified, with source maps. */
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: NATIVE,
  plugins: [axiosWithoutWebGlobals, jsonAsCommonJs, promClientWithoutPushgateway],
  minifyWhitespace: true,
  minifySyntax: true,
  // Short local names: 26% less JavaScript for V8 to parse when `run` starts (2.04 -> 1.52 MB);
  // stack traces were unreadable one-line chunks already (source maps read them back), and
  // keepNames leaves every function's and class's `.name` as written (error types in logs).
  minifyIdentifiers: true,
  keepNames: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
};

/** The embedded simulator (`run --demo` without a backend), dist/sim-backend.js in the chunked build. */
const SIM_BACKEND = 'simulator/backend/protocol-wires.ts';
/**
 * dist/run.cjs takes the embedded simulator from the chunked build (dist/sim-backend.js)
 * rather than holding it: with Fastify and ajv it was 0.7 of its 1.75 MB, a string V8 keeps
 * in memory for as long as `run` runs, and an agent with a real acquirer never loads it.
 * The module daemon.ts imports becomes a stand-in whose function imports the chunk when
 * called, through `__scanpayImport` (agent/bin/scanpay.js passes it: an `import()` inside a
 * script compiled from V8's code cache finds no loader on Node 20). The simulator then has
 * its own copy of the agent modules it shares (errors, protocol): it talks to the agent over
 * HTTP only, and only in demo mode; agent/bin/scanpay.js runs `run --demo` without `--backend`
 * (npm start) from the chunks, so this path is left to an empty `--backend ''`. A new export
 * daemon.ts uses fails the build here.
 */
const simulatorFromChunks = {
  name: 'simulator-from-chunks',
  setup(b) {
    b.onResolve({ filter: /[\\/]simulator[\\/]backend[\\/]protocol-wires\.ts$/ }, () => ({ path: 'sim-backend', namespace: 'scanpay-chunk' }));
    b.onLoad({ filter: /.*/, namespace: 'scanpay-chunk' }, () => ({
      contents: "export async function startSimulatedBackend(...args) { return (await __scanpayImport('./sim-backend.js')).startSimulatedBackend(...args); }\n",
      loader: 'js',
    }));
  },
};

/**
 * axios (with form-data and mime-db's table: 0.3 MB) is used only by the WeChat, Alipay and
 * Upay adapters (protocol v1 is on node:http), from their first call on, never before ready:
 * dist/run.cjs requires it from dist/axios.cjs (built below) when
 * agent/backend/axios-http.ts first imports it, so its source is not a string `run` holds
 * from the start, and a v1 device never loads it.
 */
const axiosFromItsOwnFile = {
  name: 'axios-from-its-own-file',
  setup(b) {
    b.onResolve({ filter: /^axios$/ }, () => ({ path: 'axios', namespace: 'scanpay-axios' }));
    b.onLoad({ filter: /.*/, namespace: 'scanpay-axios' }, () => ({ contents: "export default require('./axios.cjs').default;\n", loader: 'js' }));
    b.onResolve({ filter: /^\.\/axios\.cjs$/ }, () => ({ path: './axios.cjs', external: true }));
  },
};

rmSync(dist, { recursive: true, force: true });
const result = await build({
  ...common,
  // The image decoder's worker thread is an entry of its own: drivers/image/decoder-client.ts
  // starts `./decode-worker.mjs` beside it, which in the sources registers tsx (a development
  // dependency) and in dist/ loads this bundle (written below).
  entryPoints: { main: 'agent/cli/main.ts', 'decode-worker-bundle': 'drivers/image/decode-worker.ts', 'sim-backend': SIM_BACKEND },
  outdir: 'dist',
  splitting: true,
  format: 'esm',
  // Bundled CommonJS dependencies call require(); in an ES module it must be made.
  banner: { js: 'import { createRequire as __scanpayCreateRequire } from "node:module"; const require = __scanpayCreateRequire(import.meta.url);' },
});
// `import { z } from 'zod'` re-exports a namespace esbuild cannot shake: every locale (260 KB)
// lands in the chunk `scanpay run` parses at start. `import * as z from 'zod'` keeps English only.
const locales = Object.values(result.metafile.outputs).flatMap((o) => Object.keys(o.inputs)).filter((i) => /zod\/v4\/locales\/(?!en\.js$)/.test(i));
if (locales.length) throw new Error(`zod's locales are bundled (${locales.length} files, e.g. ${locales[0]}): some module imports \`{ z }\` from 'zod'; write \`import * as z from 'zod'\``);
for (const [from, to] of Object.entries(ASSETS)) cpSync(join(root, from), join(dist, to), { recursive: true });
writeFileSync(join(dist, 'decode-worker.mjs'), "import './decode-worker-bundle.js';\n");
// What went into each file, for anyone asking why a chunk is big (esbuild's analyzer reads it).
writeFileSync(join(dist, 'meta.json'), JSON.stringify(result.metafile));

/**
 * `scanpay run` again as one CommonJS script, dist/run.cjs, that agent/bin/scanpay.js
 * compiles with V8's code cache (dist/run.cjs.cache, made below). Node 20 caches no ES
 * module's compilation (module.enableCompileCache is Node 22), and compiling the start
 * path's JavaScript (~0.5 MB) and resolving and linking its 40 chunks was most of what
 * `run` did before it was ready. CommonJS cannot be split, so the script holds every module
 * `run` may import but the simulator and axios (0.78 MB, plugins above); those imported later
 * stay wrapped until first use as in the chunks, and V8 compiles a function only when first
 * called. The file is one function expression over CommonJS's module arguments.
 * `import.meta.url` is the script's own URL: like the chunks it sits in dist/, so the files
 * found beside it are the same.
 */
await build({
  ...common,
  plugins: [...common.plugins, simulatorFromChunks, axiosFromItsOwnFile],
  entryPoints: { run: 'agent/cli/run-entry.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  define: { 'import.meta.url': '__scanpayUrl' },
  banner: { js: '(function (exports, require, module, __filename, __dirname, __scanpayImport) { var __scanpayUrl = require("node:url").pathToFileURL(__filename).href;' },
  footer: { js: '})' },
  // Node 20 maps no vm.Script's stack trace: with --enable-source-maps the bin runs the chunks.
  sourcemap: false,
  metafile: false,
});
// agent/bin/scanpay.js reads it as latin1 (no UTF-8 decoding at each start): esbuild escapes
// every other character (charset: ascii, its default), so this only fails if that changes.
if (/[^\x00-\x7f]/.test(readFileSync(join(dist, 'run.cjs'), 'latin1'))) throw new Error('dist/run.cjs is not ASCII: agent/bin/scanpay.js reads it as latin1');
// axios as dist/run.cjs requires it (axiosFromItsOwnFile), from its ES modules so that the
// plugins above apply (`require('axios')` would find its prebuilt CommonJS file instead).
await build({
  ...common,
  stdin: { contents: "export { default } from 'axios';", resolveDir: root, sourcefile: 'axios-entry.js' },
  outfile: 'dist/axios.cjs',
  format: 'cjs',
  sourcemap: false,
  metafile: false,
});
writeRunCodeCache();
process.stdout.write(`built dist/ (${Object.keys(result.metafile.outputs).length} files and run.cjs)\n`);

/**
 * V8's code cache for dist/run.cjs, by one warm start of the built `scanpay run`
 * (agent/bin/write-run-cache.mjs, which the .deb's postinst runs again with the device's
 * node). Made here because the install directory is read-only (/opt/scanpay); it fits this
 * node only (another one rejects it and `run` compiles as without it). Without a cache `run`
 * still works: the script says so and the build goes on.
 */
function writeRunCodeCache() {
  spawnSync(process.execPath, [join(root, 'agent/bin/write-run-cache.mjs'), join(dist, 'run.cjs.cache')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
}
