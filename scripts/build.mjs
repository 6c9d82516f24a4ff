#!/usr/bin/env node
// `npm run build`: the agent as JavaScript in dist/ (tsconfig.build.json), plus the files
// the code reads beside itself at run time (the simulator's page and scenario library, the
// POS API's OpenAPI document), so dist/ runs with node alone. Plain JS: it must run before
// anything is compiled. `npm install` runs it (prepare), and so does `npm pack`.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const SOURCE_DIRS = ['agent', 'drivers', 'simulator'];
/** Read at run time by path, outside the source folders: agent/daemon.ts serves it. */
const EXTRA_ASSETS = ['docs/openapi.json'];

rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

/** Every file beside the sources that is neither code nor prose: the code reads it by path. */
function assets(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return assets(path);
    return /\.(ts|md)$/.test(e.name) || path.startsWith(join(root, 'agent', 'bin')) ? [] : [relative(root, path)];
  });
}
const copied = [...SOURCE_DIRS.flatMap((d) => assets(join(root, d))), ...EXTRA_ASSETS];
for (const file of copied) cpSync(join(root, file), join(dist, file));
process.stdout.write(`built dist/ (${copied.length} assets copied)\n`);
