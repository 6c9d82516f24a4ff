#!/usr/bin/env node
// `node packaging/runtime-modules.mjs DEST`: copies what dist/ still loads from node_modules
// (the native modules esbuild leaves out, and what they require) from this checkout's
// node_modules, built for this machine, into DEST; without their sources and build leftovers.
// Offline by design: the .deb is built from what `npm ci` already compiled or unpacked.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dest = process.argv[2];
if (!dest) throw new Error('usage: node packaging/runtime-modules.mjs DEST_NODE_MODULES');
/** The externals of scripts/build.mjs. */
const NATIVE = ['better-sqlite3', 'node-hid', '@serialport/bindings-cpp'];
/** Never needed at run time in a native package: its C sources, compiler output, other platforms' binaries. */
const arch = { x64: 'x64', arm64: 'arm64', arm: 'arm' }[process.arch];
function wantedInNative(rel) {
  if (/^(deps|src|test|docs?|\.github)(\/|$)/.test(rel)) return false;
  if (/^build\/Release\/(obj(\.target)?|\.deps)(\/|$)/.test(rel) || rel === 'build/Release/test_extension.node' || /^build\/Release\/[^/]*\.a$/.test(rel) || /^build\/(Makefile|config\.gypi|[^/]*\.mk)$/.test(rel)) return false;
  const prebuild = /^prebuilds\/([^/]+)/.exec(rel);
  return !prebuild || new RegExp(`linux-(${arch}|x64\\+arm64)(-|$)`).test(prebuild[1]);
}

/** The folder of `name` as Node would find it from `fromDir`. */
function locate(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) throw new Error(`${name} (needed from ${relative(root, fromDir)}) is not installed: run npm ci first`);
  }
}

const seen = new Set();
function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit(locate(dep, dir));
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
    try {
      visit(locate(dep, dir));
    } catch {
      // Optional: absent on this platform.
    }
  }
}
const natives = new Set(NATIVE.map((name) => locate(name, root)));
for (const dir of natives) visit(dir);
for (const dir of seen) {
  cpSync(dir, join(dest, relative(join(root, 'node_modules'), dir)), {
    recursive: true,
    filter: (src) => {
      const rel = relative(dir, src);
      // Nested node_modules are packages of their own, copied when visited.
      return !rel.split('/').includes('node_modules') && (!natives.has(dir) || wantedInNative(rel));
    },
  });
}
process.stdout.write(`${seen.size} packages copied into ${dest}\n`);
