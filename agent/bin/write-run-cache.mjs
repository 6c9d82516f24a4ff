#!/usr/bin/env node
// `node agent/bin/write-run-cache.mjs FILE`: writes V8's code cache for dist/run.cjs to FILE
// with the node that runs it, by one warm start of the built `scanpay run` beside it.
// `npm run build` writes dist/run.cjs.cache with it (scripts/build.mjs), and the .deb's
// postinst with the device's own node (packaging/debian/postinst), whose V8 rejects a cache
// made by another build of node. Exit 0 when FILE was written; otherwise 1 and why on stderr
// (then `run` compiles its script at each start, as without a cache: nothing else changes).
//
// The warm start: `scanpay run` in a temporary home against a backend that is not there,
// until its POS API answers GET /v1/agent (as the start-up bench's probe asks), then SIGTERM
// and its clean stop; agent/bin/scanpay.js writes `script.createCachedData()` when it exits
// (SCANPAY_WRITE_CODE_CACHE), so the cache holds every function compiled from start to ready
// and to a clean stop. No node flags and no NODE_OPTIONS: V8 checks its flags against the
// cache's, and the service starts node without any (docs/deploy/scanpay.service).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node agent/bin/write-run-cache.mjs FILE\n');
  process.exit(2);
}
const bin = fileURLToPath(new URL('./scanpay.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'scanpay-cache-'));
const { NODE_OPTIONS: _ignored, ...env } = process.env;
try {
  rmSync(out, { force: true });
  const child = spawn(process.execPath, [bin, 'run', '--demo', '--backend', 'http://127.0.0.1:9', '--port', '0'], {
    env: { ...env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent', SCANPAY_WRITE_CODE_CACHE: out, SCANPAY_SOURCE: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 60_000;
  let served = false;
  while (!served && child.exitCode === null && Date.now() < deadline) {
    const file = join(home, 'agent.json');
    const url = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).apiUrl : undefined;
    if (url) served = await fetch(`${url}/v1/agent`, { headers: { authorization: `Bearer ${readFileSync(join(home, 'api-token'), 'utf8').trim()}` } }).then((r) => r.ok, () => false);
    if (!served) await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  const code = await exited;
  if (!served) throw new Error('`scanpay run` did not serve GET /v1/agent within 60 s');
  if (code !== 0 || !existsSync(out)) throw new Error(`\`scanpay run\` stopped with ${code} and wrote no cache`);
} catch (err) {
  rmSync(out, { force: true });
  process.stderr.write(`scanpay: no code cache for dist/run.cjs (\`scanpay run\` compiles its script at each start instead): ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(home, { recursive: true, force: true });
}
