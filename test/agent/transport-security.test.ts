/**
 * Issue 17: cleartext acquirer URLs, the loopback check, and what `doctor` says about a
 * plain-HTTP backend and a backend that refuses the terminal.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realDoctorDeps } from '../../agent/cli/doctor.ts';
import { systemClock } from '../../agent/clock.ts';
import { checkBackendTransport } from '../../agent/config.ts';
import { startAgent } from '../../agent/daemon.ts';
import { runDoctor, type Check } from '../../agent/doctor.ts';
import { silentLogger } from '../../agent/log.ts';
import { isLoopback } from '../../agent/loopback.ts';
import { provision } from '../../agent/provision.ts';
import { readTerminalRecord } from '../../agent/terminal-store.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-transport-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));
const setConfig = (patch: (c: Record<string, any>) => void) => {
  const path = join(home, 'config.json');
  const c = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  patch(c);
  writeFileSync(path, JSON.stringify(c), { mode: 0o600 });
};

describe('cleartext acquirer URLs', () => {
  it('the rule: https always; http only in demo mode, to this machine (with a warning), or when allowed in so many words', () => {
    expect(checkBackendTransport('https://acquirer.example/', {})).toEqual({});
    expect(() => checkBackendTransport('http://acquirer.example/', {})).toThrow(expect.objectContaining({ code: 'CONFIG_BACKEND_CLEARTEXT' }));
    expect(() => checkBackendTransport('http://127.evil.example/', {})).toThrow(expect.objectContaining({ code: 'CONFIG_BACKEND_CLEARTEXT' }));
    expect(checkBackendTransport('http://acquirer.example/', { demo: true })).toEqual({});
    expect(checkBackendTransport('http://127.0.0.1:8470/', {}).warning).toMatch(/this machine/);
    expect(checkBackendTransport('http://[::1]:8470/', {}).warning).toMatch(/this machine/);
    expect(checkBackendTransport('http://acquirer.example/', { allowInsecureHttp: true }).warning).toMatch(/in clear/);
  });

  it('provision refuses a plain-HTTP acquirer before anything leaves the device', async () => {
    await expect(provision({ home, backendUrl: 'http://192.0.2.10:8470', activationCode: 'ABCD-EFGH-JKLM-NPQR', clock: systemClock })).rejects.toMatchObject({ code: 'CONFIG_BACKEND_CLEARTEXT' });
    expect(existsSync(join(home, 'terminal.json'))).toBe(false);
    expect(existsSync(join(home, 'device-key'))).toBe(false);
  });

  it('the agent refuses to start on a plain-HTTP acquirer, unless backend.allowInsecureHttp says so', async () => {
    await expect(startAgent({ home, logger: silentLogger, demo: true, backendUrl: 'http://192.0.2.10:8470', port: 0 }).then((a) => a.stop())).resolves.toBeUndefined();
    writeFileSync(join(home, 'terminal.json'), JSON.stringify({ terminalId: 'T1', key: Buffer.alloc(32, 1).toString('base64') }), { mode: 0o600 });
    await expect(startAgent({ home, logger: silentLogger, backendUrl: 'http://192.0.2.10:8470', port: 0 })).rejects.toMatchObject({ code: 'CONFIG_BACKEND_CLEARTEXT' });
    setConfig((c) => (c.backend = { allowInsecureHttp: true }));
    const agent = await startAgent({ home, logger: silentLogger, backendUrl: 'http://192.0.2.10:8470', port: 0 });
    await agent.stop();
  });
});

describe('the loopback check', () => {
  it('accepts localhost and loopback IP literals only', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['127.evil.example', '127.0.0.1.nip.io', 'localhost.example', '0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('doctor', () => {
  let backend: RunningBackend;
  beforeEach(async () => {
    backend = await startBackend();
    const { code } = backend.sim.device.issueActivationCode();
    await provision({ home, backendUrl: backend.url, activationCode: code, clock: systemClock });
  });
  afterEach(async () => {
    await backend.close();
  });
  const doctor = async () => byName(await runDoctor({ ...realDoctorDeps(home), deviceNodes: () => [], agentScanners: async () => undefined }));

  it('fails TLS on a plain-HTTP acquirer off this machine, even when allowed', async () => {
    setConfig((c) => (c.backend = { url: 'http://192.0.2.10:9', allowInsecureHttp: true }));
    const c = await doctor();
    expect(c['TLS']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/in clear/) });
  });

  it('a backend that answers 401 is not "reachable: pass"', async () => {
    backend.sim.device.revoke(readTerminalRecord(home)!.terminalId);
    const c = await doctor();
    expect(c['backend reachable']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/refuses this terminal/), fix: expect.stringMatching(/provision --force/) });
  });
});
