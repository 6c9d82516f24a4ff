#!/usr/bin/env node
// `npm run build`: the agent as JavaScript in dist/, bundled by esbuild from agent/cli/main.ts:
// our code and the pure-JS dependencies, minified, split so each command's dynamic import is
// a chunk of its own (`pay` never loads Fastify's); the native modules stay in node_modules.
// Source maps (with the sources) sit beside each file. Plain JS: it must run before anything
// is compiled. `npm install` runs it (prepare), and so does `npm pack`.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
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
};

rmSync(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'agent/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: NATIVE,
  // Bundled CommonJS dependencies call require(); in an ES module it must be made.
  banner: { js: 'import { createRequire as __scanpayCreateRequire } from "node:module"; const require = __scanpayCreateRequire(import.meta.url);' },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
for (const [from, to] of Object.entries(ASSETS)) cpSync(join(root, from), join(dist, to), { recursive: true });
// What went into each file, for anyone asking why a chunk is big (esbuild's analyzer reads it).
writeFileSync(join(dist, 'meta.json'), JSON.stringify(result.metafile));
process.stdout.write(`built dist/ (${Object.keys(result.metafile.outputs).length} files)\n`);
