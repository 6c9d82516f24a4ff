/**
 * The cashier's commands as a new cashier meets them (issue 19): a demo agent as a child
 * process on a private SCANPAY_HOME and port 0, and `scanpay …` run the way the README
 * shows it, `npx` and a real terminal (util-linux `script` gives it a pty) included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'agent/bin/scanpay.js');

let home: string;
let agent: ChildProcess;
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, SCANPAY_HOME: home, SCANPAY_LOG_LEVEL: 'warn', ...extra };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));
}

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = track(spawn(process.execPath, [BIN, ...args], { env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return { status: await exited(child), stdout, stderr };
}

/** Collects a stream and resolves when `pattern` appears in it. */
function watch(stream: NodeJS.ReadableStream): { text: () => string; until: (pattern: RegExp) => Promise<void> } {
  let text = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  stream.on('data', (d) => {
    text += String(d);
    for (const w of [...waiters]) if (w.pattern.test(text)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  return {
    text: () => text,
    until: (pattern) => new Promise<void>((resolve) => (pattern.test(text) ? resolve() : waiters.push({ pattern, resolve }))),
  };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-cashier-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ api: { port: 0 } }));
  agent = track(spawn(process.execPath, [BIN, 'run', '--demo'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] }));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: agent.stdout! }).on('line', (l) => /^POS API:/.test(l) && resolve());
    agent.on('exit', (code) => reject(new Error(`agent exited ${code}`)));
  });
}, 180_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

// Each command is a Node process starting tsx: on a busy shared machine tens of seconds each.
describe('the cashier at the command line', { timeout: 300_000 }, () => {
  it('Ctrl-C during `npx scanpay pay` in a terminal: says what happens and for how long, exits 3 (not charged), a second Ctrl-C too', async () => {
    // `script` runs the command on a pty, as a cashier's terminal does; its -e returns the command's status.
    const child = track(
      spawn('script', ['-qfec', 'npx scanpay pay 7.00 --order CTRLC --demo-customer password:60', '/dev/null'], { cwd: ROOT, env: env(), stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    const term = watch(child.stdout!);
    await term.until(/customer entering password/);
    child.stdin!.write('\x03');
    await term.until(/cancelling payment CTRLC: the agent reverses it in case the customer was charged\. Usually a few seconds; up to \d+ s/);
    child.stdin!.write('\x03');
    const status = await exited(child);
    expect(status, term.text()).toBe(3);
    expect(term.text()).toMatch(/NOT CHARGED|left payment CTRLC to the agent, which is reversing it: the customer is not charged/);
    const shown = await cli(['show', 'CTRLC', '--json']);
    expect(JSON.parse(shown.stdout).result === 'paid').toBe(false);
  });

  it('with --json every outcome is JSON on stdout, errors included', async () => {
    const nobody = mkdtempSync(join(tmpdir(), 'scanpay-nobody-'));
    const [bad, usage, amount, missing, unreachable] = await Promise.all([
      cli(['pay', '1.00', '--demo-customer', 'password:99999', '--json']),
      cli(['pay', '--json']),
      cli(['pay', '12.345', '--json']),
      cli(['show', 'NO-SUCH-PAYMENT', '--json']),
      cli(['list', '--json'], { SCANPAY_HOME: nobody }),
    ]).finally(() => rmSync(nobody, { recursive: true, force: true }));
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'API_BAD_REQUEST', message: expect.stringContaining('from 0 to 3600') });

    expect(usage.status).toBe(1);
    expect(JSON.parse(usage.stdout).error).toMatchObject({ code: 'API_BAD_REQUEST', message: "missing required argument 'amount'" });

    expect(JSON.parse(amount.stdout).error.code).toBe('PAY_AMOUNT_INVALID');

    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stdout).error.code).toBe('PAY_NOT_FOUND');

    expect(unreachable.status).toBe(4);
    expect(JSON.parse(unreachable.stdout).error.code).toBe('API_AGENT_UNREACHABLE');
  });

  it('--demo-customer password:99999 says the allowed range', async () => {
    const r = await cli(['pay', '1.00', '--demo-customer', 'password:99999']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SECONDS must be from 0 to 3600');
  });

  it('cancel of a paid payment points to refund', async () => {
    const paid = await cli(['pay', '2.50', '--order', 'PAIDONE', '--demo-customer', 'instant']);
    expect(paid.status, paid.stderr).toBe(0);
    const r = await cli(['cancel', 'PAIDONE']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PAY_ALREADY_FINAL');
    expect(r.stderr).toContain('`scanpay refund PAIDONE`');
  });

  it('a reader that stops reading (`list | head -2`) ends `list` quietly, no EPIPE stack trace', async () => {
    const child = track(spawn(process.execPath, [BIN, 'list'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] }));
    // The reading end closes before the list arrives, as `head` does after its lines.
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    expect(await exited(child)).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|at .*\.(ts|js):\d+/);
  });

  it('port taken at start: API_PORT_IN_USE, the process holding it, and --port', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const other = mkdtempSync(join(tmpdir(), 'scanpay-port-'));
    try {
      const r = await cli(['run', '--demo', '--port', String(port)], { SCANPAY_HOME: other });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`API_PORT_IN_USE: port ${port} on 127.0.0.1 is held by pid ${process.pid}`);
      expect(r.stderr).toContain('scanpay run --port N');
      expect(r.stderr).not.toContain('EADDRINUSE');
    } finally {
      holder.close();
      rmSync(other, { recursive: true, force: true });
    }
  });
});
