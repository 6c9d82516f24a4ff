/**
 * The .deb as a technician installs it: built by packaging/build-deb.sh, then the README's
 * "Install on a device" lines run one by one (sudo dropped: we are root) inside a clean
 * Debian 13 root made by mmdebstrap from Debian's mirror (minbase with Debian's nodejs),
 * chrooted. Slow (the Debian root is downloaded: about 4-5 min on this machine), so it is
 * a file of its own.
 * Not tested here: systemd itself (no init in a chroot: the unit is installed, not started)
 * and udev (the rules are installed, no device events).
 * SCANPAY_DEBIAN_ROOT_TAR=FILE uses a tarball of such a root instead of downloading one (said in the output).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const MIRROR = 'http://deb.debian.org/debian';
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const root = process.getuid?.() === 0;
const missing = [...(root ? [] : ['root (chroot)']), ...['mmdebstrap', 'dpkg-deb'].filter((t) => !have(t))];
if (missing.length) process.stderr.write(`deb-install.process.test.ts: SKIPPED, needs ${missing.join(', ')} (.ci/run installs them)\n`);

/** The commands of README.md's block marked for this test. */
function readmeDeviceLines(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- test/packaging/deb-install.process.test.ts runs these lines');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!;
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

describe.skipIf(missing.length > 0)('the .deb in a clean Debian root', () => {
  let work: string;
  let debian: string;
  let deb: string;
  let procMounted = false;
  /** Runs `command` in the Debian root, in /tmp where the .deb was copied. */
  const inRoot = (command: string) => spawnSync('chroot', [debian, 'sh', '-c', `cd /tmp && ${command}`], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'scanpay-deb-'));
    debian = join(work, 'debian');
    deb = execFileSync('bash', [join(REPO, 'packaging/build-deb.sh'), work], { cwd: REPO, encoding: 'utf8' }).trim().split('\n').pop()!;
    const cached = process.env.SCANPAY_DEBIAN_ROOT_TAR;
    if (cached) {
      process.stderr.write(`deb-install.process.test.ts: Debian root from ${cached} (SCANPAY_DEBIAN_ROOT_TAR), not downloaded\n`);
      execFileSync('mkdir', ['-p', debian]);
      execFileSync('tar', ['-xf', cached, '-C', debian]);
    } else {
      // nodejs comes with the root (a device's own Node), and the package lists stay, as on a
      // device: the README's apt-get line then finds it installed instead of downloading it
      // a second time in this test (CI time).
      execFileSync('mmdebstrap', ['--quiet', '--variant=minbase', '--include=nodejs,ca-certificates', '--skip=cleanup/apt/lists', 'trixie', debian, MIRROR], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000 });
    }
    execFileSync('mount', ['-t', 'proc', 'proc', join(debian, 'proc')]);
    procMounted = true;
    // The root has no resolver configuration of its own: apt inside it needs the host's.
    cpSync('/etc/resolv.conf', join(debian, 'etc/resolv.conf'));
    cpSync(deb, join(debian, 'tmp', deb.split('/').pop()!));
  }, 1_200_000);

  afterAll(() => {
    if (procMounted) execFileSync('umount', [join(debian, 'proc')]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the package holds the agent, the unit, the rules and the maintainer scripts', () => {
    const info = execFileSync('dpkg-deb', ['--info', deb], { encoding: 'utf8' });
    expect(info).toMatch(new RegExp(`Package: scanpay\\n\\s*Version: ${VERSION.replace(/\./g, '\\.')}`));
    expect(info).toContain('Depends: nodejs (>= 20)');
    for (const script of ['postinst', 'prerm', 'postrm', 'triggers']) expect(info).toMatch(new RegExp(`^ +\\d+ bytes, +\\d+ lines +\\*? *${script}`, 'm'));
    const files = execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8' });
    for (const f of ['./opt/scanpay/agent/bin/scanpay.js', './opt/scanpay/dist/main.js', './opt/scanpay/agent/bin/write-run-cache.mjs', './opt/scanpay/dist/run.cjs', './opt/scanpay/dist/axios.cjs', './opt/scanpay/dist/sim-backend.js', './opt/scanpay/node_modules/better-sqlite3/build/Release/better_sqlite3.node', './lib/systemd/system/scanpay.service', './lib/udev/rules.d/99-scanpay-scanners.rules', './usr/bin/scanpay']) expect(files).toContain(f);
    // Run-time only: no TypeScript loader, no sources of ours, no compiler leftovers.
    for (const f of ['/node_modules/tsx/', '/node_modules/esbuild/', './opt/scanpay/drivers/', './opt/scanpay/agent/cli/', '/build/Release/obj', 'better-sqlite3/deps/']) expect(files).not.toContain(f);
    expect(files).not.toMatch(/\.\/opt\/scanpay\/(agent|dist)\/\S*\.ts\n/);
    // V8's code cache fits the build machine's node only: postinst makes the device's (below).
    expect(files).not.toContain('run.cjs.cache');
  });

  it("runs the README's device lines: nodejs from Debian, dpkg -i, --version, doctor", () => {
    const lines = readmeDeviceLines();
    expect(lines).toEqual(['sudo apt-get install -y nodejs ca-certificates', 'sudo dpkg -i scanpay_*.deb', 'scanpay --version', 'sudo scanpay doctor']);
    const out: Record<string, ReturnType<typeof inRoot>> = {};
    for (const line of lines) {
      const r = (out[line] = inRoot(line.replace(/^sudo /, '')));
      // doctor exits 1 while the device is not provisioned; every other line must succeed.
      if (!line.endsWith('doctor')) expect(r.status, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
    expect(out['scanpay --version']!.stdout).toBe(`${VERSION}\n`);
    const doctor = out['sudo scanpay doctor']!;
    expect(doctor.status, doctor.stderr).toBe(1);
    expect(doctor.stdout).toContain('FAIL  terminal identity  no /var/lib/scanpay/terminal.json  → scanpay provision');
    // The native modules load; the root has no libusb or udev, which doctor names without failing (no scanner needs them).
    expect(doctor.stdout).toMatch(/^(PASS|WARN)  native modules  /m);
    expect(doctor.stdout).not.toMatch(/^FAIL  native modules/m);
    expect(doctor.stdout + doctor.stderr).not.toMatch(/\n\s+at /);
  }, 900_000);

  it('made the scanpay system user and its owner-only /var/lib/scanpay', () => {
    expect(inRoot('getent passwd scanpay').stdout).toMatch(/^scanpay:x:\d+:\d+:[^:]*:\/var\/lib\/scanpay:\/usr\/sbin\/nologin\n$/);
    expect(inRoot('stat -c "%U %G %a" /var/lib/scanpay').stdout).toBe('scanpay scanpay 700\n');
    // doctor ran as the service user: whatever it created there belongs to scanpay.
    expect(inRoot('find /var/lib/scanpay ! -user scanpay').stdout).toBe('');
  });

  /** What V8 in the root says of a code cache for the installed dist/run.cjs: rejected or not. */
  const rejectedInRoot = (cache: string) => {
    const r = inRoot(`node -e 'const { Script } = require("node:vm"); const { readFileSync } = require("node:fs"); const f = "/opt/scanpay/dist/run.cjs"; console.log(new Script(readFileSync(f, "latin1"), { filename: f, cachedData: readFileSync(process.argv[1]) }).cachedDataRejected)' ${cache}`);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it("postinst made V8's code cache for `scanpay run` with Debian's node, and V8 there accepts it", () => {
    expect(readFileSync(join(debian, 'opt/scanpay/dist/run.cjs'))).toEqual(readFileSync(join(REPO, 'dist/run.cjs')));
    expect(rejectedInRoot('/opt/scanpay/dist/run.cjs.cache')).toBe('false');
    expect(inRoot('stat -c "%U %a" /opt/scanpay/dist/run.cjs.cache').stdout).toBe('root 644\n');
    // Not in dpkg's file list: prerm and postrm remove it.
    expect(inRoot('dpkg -S /opt/scanpay/dist/run.cjs.cache').status).not.toBe(0);
    // For the record (not asserted: it depends on the two nodes' V8 versions): whether the build machine's cache would have done.
    cpSync(join(REPO, 'dist/run.cjs.cache'), join(debian, 'tmp/build-machine.cache'));
    process.stderr.write(`deb-install.process.test.ts: Debian's ${inRoot('node --version').stdout.trim()} ${rejectedInRoot('/tmp/build-machine.cache') === 'true' ? 'rejects' : 'accepts'} the code cache of the build machine's ${process.version}\n`);
  }, 300_000); // each check compiles the 0.78 MB script in the root (31 s in all under load 12)

  it('a new node (the /usr/bin/node trigger) makes the cache again; when that fails, dpkg still succeeds and the agent runs without one', () => {
    const writer = join(debian, 'opt/scanpay/agent/bin/write-run-cache.mjs');
    const cache = join(debian, 'opt/scanpay/dist/run.cjs.cache');
    // As after a new node with another V8 came in: the cache there is one V8 rejects.
    execFileSync('sh', ['-c', `printf 'not this V8' > ${cache}`]);
    expect(rejectedInRoot('/opt/scanpay/dist/run.cjs.cache')).toBe('true');
    // What dpkg does when apt installs a new nodejs (its /usr/bin/node): the file trigger, then postinst triggered.
    let r = inRoot('dpkg-trigger --no-await /usr/bin/node && dpkg --triggers-only scanpay');
    expect(r.status, r.stderr).toBe(0);
    expect(rejectedInRoot('/opt/scanpay/dist/run.cjs.cache')).toBe('false');
    // The warm start fails (here: a writer that exits 1): postinst says so and succeeds, and no stale cache is left.
    const good = readFileSync(writer);
    try {
      cpSync(writer, `${writer}.good`);
      execFileSync('sh', ['-c', `printf 'process.exit(1);\n' > ${writer}`]);
      r = inRoot('dpkg-trigger --no-await /usr/bin/node && dpkg --triggers-only scanpay');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain('scanpay: no code cache made for the new node; the agent runs without it');
      expect(existsSync(cache)).toBe(false);
      expect(inRoot('scanpay --version').stdout).toBe(`${VERSION}\n`);
    } finally {
      cpSync(`${writer}.good`, writer);
      rmSync(`${writer}.good`);
    }
    expect(readFileSync(writer)).toEqual(good);
    r = inRoot('dpkg-trigger --no-await /usr/bin/node && dpkg --triggers-only scanpay');
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(cache)).toBe(true);
  }, 300_000);

  it('dpkg -r removes the program with the code cache postinst made, and keeps the data', () => {
    expect(existsSync(join(debian, 'opt/scanpay/dist/run.cjs.cache'))).toBe(true);
    const r = inRoot('dpkg -r scanpay');
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('not empty');
    expect(existsSync(join(debian, 'opt/scanpay'))).toBe(false);
    expect(existsSync(join(debian, 'opt/scanpay/dist'))).toBe(false);
    expect(existsSync(join(debian, 'usr/bin/scanpay'))).toBe(false);
    expect(statSync(join(debian, 'var/lib/scanpay')).isDirectory()).toBe(true);
    expect(readdirSync(join(debian, 'lib/systemd/system')).includes('scanpay.service')).toBe(false);
    // Purge: the journal of real payments still stays.
    expect(inRoot('dpkg --purge scanpay').status).toBe(0);
    expect(statSync(join(debian, 'var/lib/scanpay')).isDirectory()).toBe(true);
  });
});
