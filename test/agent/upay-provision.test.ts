/**
 * Provisioning and the daily routine of a Upay terminal against the simulated gateway:
 * activation then an immediate check-in, provisioning again keeps the identity, the next
 * Beijing day's check-in rotates the key (on disk first, previous key kept) and the log is
 * uploaded once a day, with no key in it.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpayAcquirer } from '../../agent/backend/upay/upay-acquirer.ts';
import { UpayDeviceSync } from '../../agent/backend/upay/upay-device-sync.ts';
import { provisionUpay } from '../../agent/backend/upay/upay-provision.ts';
import { readUpayTerminal, UpayTerminalClient, upayTerminalPath, writeUpayTerminal } from '../../agent/backend/upay/upay-terminal.ts';
import { acquirerChecks } from '../../agent/backend/acquirer-doctor.ts';
import { loadConfig } from '../../agent/config.ts';
import { ManualClock } from '../../agent/clock.ts';
import { silentLogger } from '../../agent/log.ts';
import { DEMO_UPAY_ACTIVATION_CODE, DEMO_UPAY_VENDOR } from '../../simulator/backend/upay/demo-upay.ts';
import { upayWire } from '../../simulator/backend/upay/upay-wire.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

const clock = new ManualClock(Date.UTC(2026, 2, 2, 2, 0, 0));
const wire = upayWire();
let backend: RunningBackend;
let home: string;

beforeAll(async () => {
  backend = await startBackend({ clock, wire });
  home = mkdtempSync(join(tmpdir(), 'scanpay-upay-'));
});
afterAll(async () => {
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

describe('scanpay provision --protocol upay, then the daily routine', () => {
  it('activates, checks in, keeps the identity when run again, and rotates the key every Beijing day', async () => {
    const first = await provisionUpay({ home, backendUrl: backend.url, activationCode: DEMO_UPAY_ACTIVATION_CODE, vendor: DEMO_UPAY_VENDOR, clock });
    expect(first.activated).toBe(true);
    expect(statSync(upayTerminalPath(home)).mode & 0o077).toBe(0);
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))).toMatchObject({ backend: { url: backend.url, protocol: 'upay' } });
    const t = wire.terminals.get(first.record.terminalSn)!;
    expect(t.keys[0]).toBe(first.record.terminalKey);

    const again = await provisionUpay({ home, backendUrl: backend.url, activationCode: 'not-needed', vendor: DEMO_UPAY_VENDOR, clock });
    expect(again).toMatchObject({ activated: false, record: { terminalSn: first.record.terminalSn } });

    const sync = new UpayDeviceSync(
      { home, client: new UpayTerminalClient(backend.url), clock, logger: silentLogger, logBundle: async () => ({ hello: 'log', at: clock.now() }) },
      readUpayTerminal(home)!,
    );
    const upay = new UpayAcquirer({ baseUrl: backend.url, clock, credentials: () => sync.credentials() });
    await sync.tick(); // same day as provisioning: no check-in, the day's log goes up
    expect(t.checkins).toBe(2);
    expect(t.logs).toHaveLength(1);
    const before = sync.credentials().terminalKey;

    await sync.stop(); // its next round would fire inside the advance, still on day one
    clock.advance(24 * 3_600_000);
    await sync.tick();
    expect(t.checkins).toBe(3);
    const stored = readUpayTerminal(home)!;
    expect(stored.terminalKey).toBe(sync.credentials().terminalKey);
    expect(stored.previousKey).toBe(before);
    expect(t.logs).toHaveLength(2);
    await sync.stop();

    const code = backend.sim.issueCode('wechat', { kind: 'instant' });
    const paid = await upay.pay({ orderNo: 'UPAYPROV0001', paymentCode: code, amount: 500, currency: 'CNY' });
    expect(paid.kind === 'answer' && paid.body.result).toBe('SUCCESS');
  });

  it('scanpay doctor proves the identity with a signed round trip, and fails on a stale key', async () => {
    const checks = async () => Object.fromEntries((await acquirerChecks(home, loadConfig(home), clock)).map((c) => [c.name, c.status]));
    expect(await checks()).toEqual({ 'terminal identity': 'pass', 'signature round trip': 'pass' });
    const r = readUpayTerminal(home)!;
    writeUpayTerminal(home, { ...r, terminalKey: 'not-the-key' });
    expect(await checks()).toEqual({ 'terminal identity': 'pass', 'signature round trip': 'fail' });
    writeUpayTerminal(home, r);
  });
});
