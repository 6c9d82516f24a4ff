/**
 * A technician's first day, as docs/getting-started.md tells it, with every command run as
 * a process on a private SCANPAY_HOME: `scanpay sim backend` (its banner gives the
 * activation code and the exact provision line), provision, doctor, run, `scanners set`,
 * a payment, a refund the backend answers with HTTP 503, `queue`, `queue retry`, and
 * `logs --export` to a bad path (issue 19).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

let home: string;
let backendUrl: string;
let provisionLine: string;
const children = new Set<ChildProcess>();

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; until: (p: RegExp) => Promise<void> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let text = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d) => {
    text += String(d);
    waiters.splice(0).forEach((w) => w());
  });
  const until = (p: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (p.test(text) ? resolve() : waiters.push(check));
      child.once('exit', (code) => !p.test(text) && reject(new Error(`exited ${code} before ${p}: ${text}`)));
      check();
    });
  return { child, out: () => text, until };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));
}

async function scanpay(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; out: string; err: string }> {
  const p = start(args, env);
  let err = '';
  p.child.stderr!.on('data', (d) => (err += d));
  const status = await exited(p.child);
  return { status, out: p.out(), err };
}

const config = () => JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as { lanes: Array<{ id: string; scanners: string[] }> };

async function control(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${backendUrl}/control${path}`, body === undefined ? { method: 'DELETE' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-tech-'));
  const sim = start(['sim', 'backend', '--port', '0']);
  await sim.until(/provision a device with it: +npx scanpay provision .*\n/);
  backendUrl = /listening on (http:\S+)/.exec(sim.out())![1]!;
  provisionLine = /provision a device with it: +(npx scanpay provision .*)\n/.exec(sim.out())![1]!;
  // A private port, and a queue that would not retry by itself within this test: only `queue retry` can.
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 }, outbox: { retryBaseMs: 600_000, retryMaxMs: 600_000 } }));
}, 180_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe("the technician's first day", { timeout: 300_000 }, () => {
  it('the sim backend banner gives an activation code and the exact provision line, which works as printed', async () => {
    expect(provisionLine).toMatch(new RegExp(`^npx scanpay provision --backend ${backendUrl} --activation-code [A-Z0-9]{4}(-[A-Z0-9]{4}){3}$`));
    const r = await scanpay(provisionLine.split(' ').slice(2));
    expect(r.status, r.err).toBe(0);
    expect(r.out).toMatch(/provisioned:[\s\S]*scanners +lane 1: none \(add one: scanpay scanners set 1 SOURCE\)/);
  });

  it('a blank device asked for a scanner only says how to get an activation code', async () => {
    const blank = mkdtempSync(join(tmpdir(), 'scanpay-blank-'));
    try {
      const r = await scanpay(['provision', '--scanner', 'virtual:x'], { SCANPAY_HOME: blank });
      expect(r.status).toBe(1);
      expect(r.err).toContain('`scanpay sim backend` prints one');
    } finally {
      rmSync(blank, { recursive: true, force: true });
    }
  });

  it('a lane without a scanner: doctor and the agent say so, and point to `scanners set`', async () => {
    const doctor = await scanpay(['doctor']);
    expect(doctor.out).toMatch(/^WARN {2}scanner present {2}lane 1 has no scanner .*→ .*scanpay scanners set 1 SOURCE/m);
    // Agrees with `scanpay scanners`: a missing piece is never a PASS.
    const scanners = await scanpay(['scanners']);
    if (/needs udevadm|needs the libusb/.test(scanners.out)) expect(doctor.out).toMatch(/^WARN {2}native modules {2}missing/m);

    const agent = start(['run']);
    await agent.until(/press Ctrl-C to stop/);
    expect(agent.out()).toContain('lane 1 has NO SCANNER: nothing can be scanned there; add one: npx scanpay scanners set 1 SOURCE');
    expect(agent.out()).not.toContain("scan the customer's code on lane 1");
    agent.child.kill('SIGTERM');
    expect(await exited(agent.child)).toBe(0);
  });

  it('scanners change without an activation code, and replace instead of adding', async () => {
    const set = await scanpay(['scanners', 'set', '1', 'virtual:counter']);
    expect(set.status, set.err).toBe(0);
    expect(set.out).toContain('lane 1 scanners: virtual:counter (was: none)');
    expect(config().lanes).toEqual([{ id: '1', scanners: ['virtual:counter'] }]);

    // The hint older versions printed: on a provisioned device it now just changes the scanner.
    const viaProvision = await scanpay(['provision', '--scanner', 'virtual:lane-1']);
    expect(viaProvision.status, viaProvision.err).toBe(0);
    expect(viaProvision.out).toContain('no activation code needed');
    expect(config().lanes).toEqual([{ id: '1', scanners: ['virtual:lane-1'] }]);

    const bad = await scanpay(['scanners', 'set', '1', 'usb-thing']);
    expect(bad.status).toBe(1);
    expect(bad.err).toContain('SCAN_SOURCE_SPEC_INVALID');
    expect(config().lanes).toEqual([{ id: '1', scanners: ['virtual:lane-1'] }]);
  });

  it('in a terminal, provision on a provisioned device asks only for the scanner, never for a code again', async () => {
    // util-linux `script` gives the command a pty, so it runs interactively as on site.
    const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} provision`, '/dev/null'], { env: { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn' }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let text = '';
    const seen = (p: RegExp) => new Promise<void>((resolve) => {
      const check = () => (p.test(text) ? resolve() : setTimeout(check, 50));
      check();
    });
    child.stdout!.on('data', (d) => (text += String(d)));
    await seen(/scanner: |SOURCE spec/);
    child.stdin!.write('virtual:lane-2\r');
    expect(await exited(child), text).toBe(0);
    expect(text).not.toMatch(/activation code \(/);
    expect(text).toContain('no activation code needed');
    expect(config().lanes).toEqual([{ id: '1', scanners: ['virtual:lane-2'] }]);
    const back = await scanpay(['scanners', 'set', '1', 'virtual:lane-1']);
    expect(back.out).toContain('(was: virtual:lane-2)');
  });

  it('a refund answered with HTTP 503 shows its first cause in the queue, and `queue retry` runs it now', async () => {
    const agent = start(['run']);
    await agent.until(/press Ctrl-C to stop/);
    expect(agent.out()).not.toContain('NO SCANNER');
    try {
      const { code } = (await control('/codes', { wallet: 'wechat' })) as { code: string };
      const paid = await scanpay(['pay', '5.00', '--order', 'R1', '--code', code]);
      expect(paid.status, paid.err).toBe(0);

      await control('/faults', { op: 'refund', kind: 'http5xx', count: 1000 });
      const refund = await scanpay(['refund', 'R1']);
      expect(refund.status, refund.err).toBe(0);
      const queued = JSON.parse((await scanpay(['queue', '--json'])).out) as { items: Array<{ id: number; kind: string }> };
      const item = queued.items.find((i) => i.kind === 'refund')!;

      // Still failing: the retry is tried at once (the next automatic try is 10 min away) and says why it failed.
      const failing = await scanpay(['queue', 'retry', String(item.id)]);
      expect(failing.out).toMatch(new RegExp(`sending now: #${item.id} \\(agent pid \\d+\\)`));
      expect(failing.out).toMatch(new RegExp(`#${item.id} refund: tried now, failed again: BACKEND_HTTP_STATUS: backend answered refund with HTTP 503`));
      const list = await scanpay(['queue']);
      expect(list.out).toMatch(new RegExp(`#${item.id}  refund  .*  BACKEND_HTTP_STATUS: `));

      await control('/faults');
      const fixed = await scanpay(['queue', 'retry', String(item.id)]);
      expect(fixed.out, fixed.err).toContain(`#${item.id} refund: delivered`);
      // Delivered: gone from the queue (the payment's transaction upload may still wait its turn there).
      expect((await scanpay(['queue'])).out).not.toMatch(new RegExp(`#${item.id}  refund`));
    } finally {
      agent.child.kill('SIGTERM');
      await exited(agent.child);
    }
  });

  it('logs --export to a bad path names the path and why', async () => {
    const target = join(home, 'no-such-folder', 'support.json.gz');
    const r = await scanpay(['logs', '--export', target]);
    expect(r.status).toBe(1);
    expect(r.err).toContain(`JOURNAL_EXPORT_UNWRITABLE: cannot write ${target}: its folder does not exist (ENOENT)`);
    expect(r.err).not.toContain('.tmp');
  });
});
