/**
 * The commands the README and docs/getting-started.md show are the ones the CLI has and
 * the tests run (issue 19): every `npx scanpay …` line (and `npm start` / `npm run sim`)
 * resolves to a real command whose options exist, and a process test runs that command.
 * The ones no other test runs as a process are run here: `token`, the QA page
 * (`npm run sim`), `sim fleet`, and the scenario file getting-started.md shows.
 * The udev rules the docs describe are the ones shipped.
 */
import { hidUdevRule } from '../drivers/hid/hid-device.ts';
import { serialUdevRule } from '../drivers/serial/serial-port.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../agent/cli/main.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'agent/bin/scanpay.js');
const DOCS = ['README.md', 'docs/getting-started.md'];
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** What an npm script runs, as `scanpay` arguments. */
function npmScript(name: string): string[] | undefined {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const m = /^node agent\/bin\/scanpay\.js (.*)$/.exec(scripts[name] ?? '');
  return m?.[1]!.split(' ');
}

/** Every command line shown in the docs' sh blocks, as argument lists (README's `a | b` alternatives split, `[…]` kept). */
function documentedCommands(): Array<{ doc: string; line: string; args: string[] }> {
  const found: Array<{ doc: string; line: string; args: string[] }> = [];
  for (const doc of DOCS) {
    for (const block of read(doc).matchAll(/```sh\n([\s\S]*?)```/g)) {
      for (const raw of block[1]!.split('\n')) {
        const line = raw.replace(/\s+#.*$/, '').trim();
        const npm = /^npm (?:start|run sim)$/.exec(line) ? npmScript(line === 'npm start' ? 'start' : 'sim') : undefined;
        if (npm) found.push({ doc, line, args: npm });
        if (!line.startsWith('npx scanpay ')) continue;
        const alternatives = line.slice('npx scanpay '.length).split(' | ');
        // README: `show ID | list | cancel ID`: each alternative is a command of its own.
        for (const alt of alternatives) found.push({ doc, line, args: alt.replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean) });
      }
    }
  }
  return found;
}

/** The subcommand the words name, and the options it was given. */
// No argv: every command module is loaded.
const program = await buildProgram();

function resolve(args: string[]): { path: string[]; command: Command; options: string[] } {
  let command: Command = program;
  const path: string[] = [];
  for (const word of args) {
    const sub = command.commands.find((c) => c.name() === word);
    if (!sub) break;
    command = sub;
    path.push(word);
  }
  return { path, command, options: args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!) };
}

/** Whether a test runs this command as `scanpay` arguments (spawned, or through main()). */
function testsRunning(path: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.test.ts')) files.push(full);
    }
  };
  walk(join(ROOT, 'test'));
  const words = path.map((w) => `'${w}'`).join(', ');
  const pattern = new RegExp(`(?:\\(|\\[|(?:bin|BIN|'scanpay'), )${words.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:,|\\]|\\))`);
  return files.filter((f) => pattern.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length));
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function scanpay(args: string[], home: string): { child: ChildProcess; done: Promise<{ status: number | null; out: string; err: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ status: number | null; out: string; err: string }>((r) => child.on('exit', (status) => (children.delete(child), r({ status, out, err }))));
  return { child, done };
}

describe('the commands the docs show', { timeout: 300_000 }, () => {
  const commands = documentedCommands();

  it('are found', () => {
    // The walkthrough's three users, and the README's reference.
    expect(commands.filter((c) => c.doc === 'docs/getting-started.md').length).toBeGreaterThan(20);
    expect(commands.filter((c) => c.doc === 'README.md').length).toBeGreaterThan(20);
  });

  it('name real commands with options they have', () => {
    for (const c of commands) {
      const { path, command, options } = resolve(c.args);
      expect(path.length, `${c.doc}: "${c.line}" names no scanpay command`).toBeGreaterThan(0);
      const known = new Set(command.options.map((o) => o.long));
      for (const o of options) expect(known.has(o), `${c.doc}: "${c.line}": ${path.join(' ')} has no ${o}`).toBe(true);
    }
  });

  it('are each run by a test', () => {
    const paths = [...new Map(commands.map((c) => [resolve(c.args).path.join(' '), resolve(c.args).path])).values()];
    const untested = paths.filter((p) => testsRunning(p).length === 0).map((p) => p.join(' '));
    expect(untested).toEqual([]);
  });

  it('token, the QA page (npm run sim), sim fleet and the getting-started scenario run as shown', async () => {
    const home = mkdtempSync(join(tmpdir(), 'scanpay-docs-'));
    try {
      const token = await scanpay(['token'], home).done;
      expect(token.status).toBe(0);
      expect(token.out.trim()).toBe(readFileSync(join(home, 'api-token'), 'utf8').trim());

      const page = scanpay([...npmScript('sim')!, '--port', '0'], home);
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        page.child.stdout!.on('data', (d) => {
          text += String(d);
          const m = /open (http:\S+)/.exec(text);
          if (m) resolve(m[1]!);
        });
        void page.done.then((r) => reject(new Error(`sim exited ${r.status}: ${r.err}`)));
      });
      expect((await fetch(url)).status).toBe(200);
      expect((await fetch(new URL('/favicon.ico', url))).status).toBe(200);
      page.child.kill('SIGINT');
      expect((await page.done).status).toBe(0);

      const fleet = await scanpay(['sim', 'fleet', '--terminals', '2', '--duration', '2'], home).done;
      expect(fleet.status, fleet.err).toBe(0);
      expect(fleet.out).toMatch(/violations?\D*0/i);

      const scenario = /```json\n([\s\S]*?)```/.exec(read('docs/getting-started.md'))![1]!;
      writeFileSync(join(home, 'my-first.json'), scenario);
      const run = await scanpay(['sim', 'run', 'my-first.json', '--report', 'junit.xml'], home).done;
      expect(run.status, run.out + run.err).toBe(0);
      expect(run.out).toMatch(/✓ network lost while the customer enters the password[\s\S]*1 passed, 0 failed/);
      expect(readFileSync(join(home, 'junit.xml'), 'utf8')).toContain('failures="0"');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('the udev rules the docs describe', () => {
  it('are the shipped file, with its group', () => {
    const rules = read('docs/deploy/99-scanpay-scanners.rules');
    const scanners = read('docs/scanners.md');
    expect(scanners).toContain('docs/deploy/99-scanpay-scanners.rules');
    expect(scanners).not.toMatch(/70-scanpay\.rules|plugdev/);
    const groups = new Set([...rules.matchAll(/GROUP="([^"]+)"/g)].map((m) => m[1]));
    expect([...groups]).toEqual(['scanpay']);
    // Every rule line the page shows as an example has the shipped form.
    for (const line of scanners.split('\n').filter((l) => l.startsWith('SUBSYSTEM=='))) expect(rules).toContain(line);
    expect(read('docs/deploy/scanpay.service')).toMatch(/^Group=scanpay$/m);
    // The rules the drivers and `scanpay scanners` print as fixes give the same group.
    expect(serialUdevRule('0c2e', '0b61')).toBe('SUBSYSTEM=="tty", ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61", MODE="0660", GROUP="scanpay"');
    expect(hidUdevRule(0x0c2e, 0x0b61)).toContain('GROUP="scanpay"');
  });
});
