import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { loadConfig, loadTerminal } from '../../agent/config.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { provision } from '../../agent/provision.ts';
import { readTerminalRecord } from '../../agent/terminal-store.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

let backend: RunningBackend;
let home: string;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  backend = await startBackend({ clock });
  home = mkdtempSync(join(tmpdir(), 'scanpay-provision-'));
});

afterEach(async () => {
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

describe('provisioning against the simulated backend', () => {
  it('activates, stores the key owner-only, writes config and params, and the identity works', async () => {
    const { code, merchantId } = backend.sim.device.issueActivationCode({ merchantName: 'Corner shop' });
    const lines: string[] = [];
    const r = await provision({ home, backendUrl: backend.url, activationCode: code, clock, scanner: 'virtual:lane-1', say: (l) => lines.push(l) });
    expect(r).toMatchObject({ activated: true, merchantId, merchantName: 'Corner shop', scanner: 'virtual:lane-1', paramsVersion: 1, testScan: 'skipped' });
    expect(statSync(join(home, 'terminal.json')).mode & 0o777).toBe(0o600);
    const terminal = loadTerminal(home, false);
    expect(terminal.terminalId).toBe(r.terminalId);
    expect(loadConfig(home)).toMatchObject({ backend: { url: backend.url }, lanes: [{ id: '1', scanners: ['virtual:lane-1'] }] });
    expect(JSON.parse(readFileSync(join(home, 'params.json'), 'utf8')).version).toBe(1);
    expect(backend.sim.device.terminals().find((t) => t.terminalId === r.terminalId)?.lastHeartbeat).not.toBeNull();
    expect(lines.join('\n')).toMatch(/activated: terminal T\d+/);
  });

  it('refuses a wrong code and writes nothing', async () => {
    await expect(provision({ home, backendUrl: backend.url, activationCode: 'AAAA-BBBB-CCCC', clock })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
    expect(existsSync(join(home, 'terminal.json'))).toBe(false);
    expect(existsSync(join(home, 'config.json'))).toBe(false);
  });

  it('run twice keeps the same identity', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    const first = await provision({ home, backendUrl: backend.url, activationCode: code, clock });
    const key = readTerminalRecord(home)!.key;
    const second = await provision({ home, backendUrl: backend.url, activationCode: code, clock });
    expect(second).toMatchObject({ terminalId: first.terminalId, activated: false });
    expect(readTerminalRecord(home)!.key).toBe(key);
    expect(backend.sim.device.terminals().filter((t) => t.terminalId.startsWith('T1'))).toHaveLength(1);
  });

  it('backend down half way: the answer to activate is lost, a second run gets the same identity', async () => {
    // Step 1 passes; the answer to step 2 is cut after the backend processed it.
    const proxy = await cuttingProxy(backend.url, (path) => path === '/v1/activate');
    try {
      const { code } = backend.sim.device.issueActivationCode();
      await expect(provision({ home, backendUrl: proxy.url, activationCode: code, clock })).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN' });
      expect(existsSync(join(home, 'terminal.json'))).toBe(false);
      // The backend did activate: one terminal issued, its answer never arrived.
      const issued = backend.sim.device.terminals().filter((t) => t.terminalId !== 'T0000001');
      expect(issued).toHaveLength(1);
      proxy.cut = () => false;
      const r = await provision({ home, backendUrl: proxy.url, activationCode: code, clock });
      expect(r.terminalId).toBe(issued[0]!.terminalId);
    } finally {
      await proxy.close();
    }
  });

  it('backend stopped: nothing written, the error says it was never sent', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    await backend.stop();
    await expect(provision({ home, backendUrl: backend.url, activationCode: code, clock })).rejects.toMatchObject({ code: 'BACKEND_NOT_SENT' });
    expect(existsSync(join(home, 'terminal.json'))).toBe(false);
  });

  it('re-provisioning with queued work is refused unless forced, and the queue is kept', async () => {
    const first = backend.sim.device.issueActivationCode();
    await provision({ home, backendUrl: backend.url, activationCode: first.code, clock });
    const journal = Journal.open(join(home, 'journal.db'));
    journal.enqueue({ kind: 'reverse', orderNo: 'T1ORDER0001', dedupeKey: 'reverse:T1ORDER0001', payload: { orderNo: 'T1ORDER0001' }, at: clock.now() });
    journal.close();
    const second = backend.sim.device.issueActivationCode();
    // Another backend URL: the stored identity does not apply, so this is a new activation.
    const other = backend.url.replace('127.0.0.1', 'localhost');
    await expect(provision({ home, backendUrl: other, activationCode: second.code, clock })).rejects.toMatchObject({ code: 'CONFIG_PROVISION_UNSAFE' });
    const forced = await provision({ home, backendUrl: other, activationCode: second.code, clock, force: true });
    expect(forced.activated).toBe(true);
    const after = Journal.open(join(home, 'journal.db'));
    expect(after.outbox('pending').map((i) => i.dedupe_key)).toEqual(['reverse:T1ORDER0001']);
    after.close();
  });
});

/** Passes requests on and, for the paths `cut` names, drops the connection once the backend has answered. */
async function cuttingProxy(target: string, cut: (path: string) => boolean): Promise<{ url: string; cut: (path: string) => boolean; close(): Promise<void> }> {
  const proxy = {
    url: '',
    cut,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = createServer((req, res) => {
    const up = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      if (proxy.cut(req.url ?? '')) {
        answer.resume();
        answer.on('end', () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
