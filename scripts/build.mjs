#!/usr/bin/env node
// `npm run build`: the agent as JavaScript in dist/, bundled by esbuild from agent/cli/main.ts:
// our code and the pure-JS dependencies, minified, split so each command's dynamic import is
// a chunk of its own (`pay` never loads Fastify's); the native modules stay in node_modules.
// Source maps (with the sources) sit beside each file. Plain JS: it must run before anything
// is compiled. `npm install` runs it (prepare), and so does `npm pack`.
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

rmSync(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  // The image decoder's worker thread is an entry of its own: drivers/image/decoder-client.ts
  // starts `./decode-worker.mjs` beside it, which in the sources registers tsx (a development
  // dependency) and in dist/ loads this bundle (written below).
  entryPoints: { main: 'agent/cli/main.ts', 'decode-worker-bundle': 'drivers/image/decode-worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: NATIVE,
  plugins: [axiosWithoutWebGlobals, jsonAsCommonJs],
  // Bundled CommonJS dependencies call require(); in an ES module it must be made.
  banner: { js: 'import { createRequire as __scanpayCreateRequire } from "node:module"; const require = __scanpayCreateRequire(import.meta.url);' },
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
});
// `import { z } from 'zod'` re-exports a namespace esbuild cannot shake: every locale (260 KB)
// lands in the chunk `scanpay run` parses at start. `import * as z from 'zod'` keeps English only.
const locales = Object.values(result.metafile.outputs).flatMap((o) => Object.keys(o.inputs)).filter((i) => /zod\/v4\/locales\/(?!en\.js$)/.test(i));
if (locales.length) throw new Error(`zod's locales are bundled (${locales.length} files, e.g. ${locales[0]}): some module imports \`{ z }\` from 'zod'; write \`import * as z from 'zod'\``);
for (const [from, to] of Object.entries(ASSETS)) cpSync(join(root, from), join(dist, to), { recursive: true });
writeFileSync(join(dist, 'decode-worker.mjs'), "import './decode-worker-bundle.js';\n");
// What went into each file, for anyone asking why a chunk is big (esbuild's analyzer reads it).
writeFileSync(join(dist, 'meta.json'), JSON.stringify(result.metafile));
process.stdout.write(`built dist/ (${Object.keys(result.metafile.outputs).length} files)\n`);
