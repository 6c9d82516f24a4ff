/**
 * What `scanpay` loads to run a command (agent/cli/main.ts loads only that command's
 * module), the version it reports, and the published entry's message when dist/ is missing.
 * The commands run as child processes of agent/bin/scanpay.js (sources, SCANPAY_SOURCE=1
 * from vitest.config.ts) with a loader hook that lists every module they load.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAgentFile } from '../../agent/agent-file.ts';
import { tokenPath } from '../../agent/token.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));
const TRACE = fileURLToPath(new URL('../support/module-trace.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** `scanpay run`'s script and V8 code cache in the build (scripts/build.mjs); `npm ci` builds dist/ (prepare). */
const RUN_BUNDLE = join(REPO, 'dist', 'run.cjs');
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Modules no command but `run --demo`, `sim` and `scanners` may load. */
const SIMULATOR = /\/simulator\/backend\/start-backend\.ts$/;
const FASTIFY = /\/node_modules\/fastify\//;
/** The POS API's server (node:http since issue 18): only `run` serves it. */
const POS_API = /\/agent\/pos-api\/build-pos-api\.ts$/;
const DECODER = /\/node_modules\/(@zxing|zxing-wasm)\//;
/** Loaded by `run` only when needed: axios at the first backend call, another protocol's adapter only when configured. */
const FIRST_CALL = /\/node_modules\/axios\//;
const OTHER_PROTOCOLS = /\/agent\/backend\/(wechat\/wechat-v[23]|alipay\/alipay|upay\/upay)-acquirer\.ts$|\/node_modules\/fast-xml-parser\//;
/** Each test starts node with tsx: on a loaded shared machine that alone can take tens of seconds. */
const PROCESS_TEST_MS = 120_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;
/** Starts `scanpay run` with `bin` in `home` (a backend that is not there) and returns GET /v1/agent's answer, then kills it. */
async function agentInfo(bin: string, home: string, o: { env?: NodeJS.ProcessEnv; trace?: string } = {}): Promise<{ version: string; simulatorUrl: string | null }> {
  const child = spawn(process.execPath, [...(o.trace ? ['--import', TRACE] : []), bin, 'run', '--demo', '--backend', 'http://127.0.0.1:9', '--port', '0'], {
    env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent', ...(o.trace ? { TRACE_OUT: o.trace } : {}), ...o.env },
    stdio: 'ignore',
  });
  try {
    let apiUrl: string | undefined;
    while (!(apiUrl = existsSync(home) ? readAgentFile(home)?.apiUrl : undefined)) {
      if (child.exitCode !== null) throw new Error(`scanpay run exited ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const token = readFileSync(tokenPath(home), 'utf8').trim();
    return (await (await fetch(`${apiUrl}/v1/agent`, { headers: { authorization: `Bearer ${token}` } })).json()) as { version: string; simulatorUrl: string | null };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Runs `scanpay ARGS` to its end; returns its output and the modules it loaded. */
function traced(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; modules: string[] }> {
  const trace = join(dir, `trace-${++runs}.txt`);
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TRACE, BIN, ...args], { env: { ...process.env, SCANPAY_HOME: join(dir, 'home'), SCANPAY_LOG_LEVEL: 'silent', TRACE_OUT: trace }, timeout: 110_000 }, (e, stdout, stderr) =>
      resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, modules: existsSync(trace) ? readFileSync(trace, 'utf8').split('\n') : [] }),
    );
  });
}

describe('scanpay start-up', () => {
  it('--version prints package.json version and loads no command', async () => {
    const r = await traced(['--version']);
    expect(r).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
    expect(r.modules.filter((m) => m.includes('/agent/cli/'))).toEqual([expect.stringMatching(/\/agent\/cli\/main\.ts$/), expect.stringMatching(/\/agent\/cli\/program\.ts$/)]);
  }, PROCESS_TEST_MS);

  it('`pay` loads neither the simulator, the POS API server, Fastify nor a decoder', async () => {
    const r = await traced(['pay', '1.00']);
    // No agent runs in this home: the command got as far as looking for it.
    expect(r.status).toBe(4);
    expect(r.modules).toContainEqual(expect.stringMatching(/\/agent\/cli\/pay\.ts$/));
    for (const heavy of [SIMULATOR, POS_API, FASTIFY, DECODER, /\/agent\/daemon\.ts$/]) expect(r.modules.filter((m) => heavy.test(m))).toEqual([]);
  }, PROCESS_TEST_MS);

  it('`doctor` loads neither the simulator, the POS API server nor Fastify', async () => {
    // drivers/create-source.ts still loads every driver, decoder included (issue 16 makes it lazy).
    const r = await traced(['doctor', '--json']);
    expect(r.stdout).toContain('"checks"');
    for (const heavy of [SIMULATOR, POS_API, FASTIFY]) expect(r.modules.filter((m) => heavy.test(m))).toEqual([]);
  }, PROCESS_TEST_MS);

  it('help still lists every command', async () => {
    const r = await traced(['--help']);
    for (const c of ['sim', 'scanners', 'run', 'pay', 'show', 'list', 'cancel', 'refund', 'token', 'provision', 'doctor', 'queue', 'logs', 'settle']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  }, PROCESS_TEST_MS);

  it('`run` with a real acquirer and no image source is ready without the simulator, Fastify, a decoder, axios or another protocol\'s adapter, and GET /v1/agent reports the version', async () => {
    const trace = join(dir, 'trace-run.txt');
    expect(await agentInfo(BIN, join(dir, 'run-home'), { trace })).toMatchObject({ version: VERSION, simulatorUrl: null });
    const modules = readFileSync(trace, 'utf8').split('\n');
    expect(modules).toContainEqual(expect.stringMatching(/\/agent\/daemon\.ts$/));
    expect(modules).toContainEqual(expect.stringMatching(POS_API));
    for (const heavy of [SIMULATOR, FASTIFY, DECODER, FIRST_CALL, OTHER_PROTOCOLS]) expect(modules.filter((m) => heavy.test(m))).toEqual([]);
  }, PROCESS_TEST_MS);

  describe.skipIf(!existsSync(RUN_BUNDLE))('the built `run` (dist/run.cjs, needs `npm run build`)', () => {
    it("V8 accepts the build's code cache for its script on this node", () => {
      const script = new Script(readFileSync(RUN_BUNDLE, 'utf8'), { filename: RUN_BUNDLE, cachedData: readFileSync(`${RUN_BUNDLE}.cache`) });
      expect(script.cachedDataRejected).toBe(false);
    });

    it("is ready without node:https, TLS, zlib or better-sqlite3's `bindings` search (prom-client's Pushgateway left out, the https pool made at first use)", async () => {
      // Node's own list of the built-ins it loaded, read the moment the agent says it is ready (agent.json).
      const preload = join(dir, 'builtins-at-ready.cjs');
      writeFileSync(preload, "const fs = require('fs'); const t = setInterval(() => { if (fs.existsSync(process.env.SCANPAY_HOME + '/agent.json')) { clearInterval(t); fs.writeFileSync(process.env.BUILTINS_OUT, [...process.moduleLoadList, ...Object.keys(require.cache)].join('\\n')); } }, 1); t.unref();\n");
      const out = join(dir, 'builtins-at-ready.txt');
      expect(await agentInfo(BIN, join(dir, 'builtins-home'), { env: { SCANPAY_SOURCE: '', NODE_OPTIONS: `--require ${preload}`, BUILTINS_OUT: out } })).toMatchObject({ version: VERSION });
      const builtins = readFileSync(out, 'utf8').split('\n');
      expect(builtins).toContain('NativeModule http');
      for (const late of ['https', 'tls', 'zlib']) expect(builtins).not.toContain(`NativeModule ${late}`);
      // better-sqlite3 is given its addon's path (agent/journal/journal-db.ts): no `bindings` search.
      expect(builtins).toContainEqual(expect.stringMatching(/\/node_modules\/better-sqlite3\/lib\/database\.js$/));
      expect(builtins.filter((m) => m.includes('/node_modules/bindings/'))).toEqual([]);
    }, PROCESS_TEST_MS);

    it('starts and serves the POS API when V8 rejects the code cache (another node, a damaged file)', async () => {
      // An installed copy (as in the .deb) whose cache is not V8's: the bin must compile the script instead.
      const install = join(dir, 'installed');
      mkdirSync(join(install, 'agent', 'bin'), { recursive: true });
      copyFileSync(BIN, join(install, 'agent', 'bin', 'scanpay.js'));
      copyFileSync(join(REPO, 'package.json'), join(install, 'package.json'));
      cpSync(join(REPO, 'dist'), join(install, 'dist'), { recursive: true });
      cpSync(join(REPO, 'docs'), join(install, 'docs'), { recursive: true });
      symlinkSync(join(REPO, 'node_modules'), join(install, 'node_modules'));
      writeFileSync(join(install, 'dist', 'run.cjs.cache'), 'not a V8 code cache');
      expect(await agentInfo(join(install, 'agent', 'bin', 'scanpay.js'), join(dir, 'rejected-home'), { env: { SCANPAY_SOURCE: '', NODE_OPTIONS: '' } })).toMatchObject({ version: VERSION, simulatorUrl: null });
    }, PROCESS_TEST_MS);
  });

  it('the published entry says how to build when dist/ is missing', async () => {
    const bin = join(dir, 'unbuilt', 'agent', 'bin', 'scanpay.js');
    mkdirSync(join(dir, 'unbuilt', 'agent', 'bin'), { recursive: true });
    copyFileSync(BIN, bin);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, [bin, '--version'], { env: { ...process.env, SCANPAY_SOURCE: '' } }, (e, _out, stderr) => resolve({ code: e ? (e.code as number) : 0, stderr })),
    );
    expect(r).toEqual({ code: 1, stderr: expect.stringContaining('not built: run `npm run build`') });
  }, PROCESS_TEST_MS);
});
