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
    const files = execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8' });
    for (const f of ['./opt/scanpay/agent/bin/scanpay.js', './opt/scanpay/dist/main.js', './opt/scanpay/dist/run.cjs', './opt/scanpay/dist/run.cjs.cache', './opt/scanpay/dist/axios.cjs', './opt/scanpay/dist/sim-backend.js', './opt/scanpay/node_modules/better-sqlite3/build/Release/better_sqlite3.node', './lib/systemd/system/scanpay.service', './lib/udev/rules.d/99-scanpay-scanners.rules', './usr/bin/scanpay']) expect(files).toContain(f);
    // Run-time only: no TypeScript loader, no sources of ours, no compiler leftovers.
    for (const f of ['/node_modules/tsx/', '/node_modules/esbuild/', './opt/scanpay/drivers/', './opt/scanpay/agent/cli/', '/build/Release/obj', 'better-sqlite3/deps/']) expect(files).not.toContain(f);
    expect(files).not.toMatch(/\.\/opt\/scanpay\/(agent|dist)\/\S*\.ts\n/);
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

  it('dpkg -r removes the program and keeps the data', () => {
    expect(inRoot('dpkg -r scanpay').status).toBe(0);
    expect(existsSync(join(debian, 'opt/scanpay/dist'))).toBe(false);
    expect(existsSync(join(debian, 'usr/bin/scanpay'))).toBe(false);
    expect(statSync(join(debian, 'var/lib/scanpay')).isDirectory()).toBe(true);
    expect(readdirSync(join(debian, 'lib/systemd/system')).includes('scanpay.service')).toBe(false);
  });
});
