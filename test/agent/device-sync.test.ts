import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceClient } from '../../agent/backend/device-client.ts';
import { ManualClock } from '../../agent/clock.ts';
import { readTerminalRecord } from '../../agent/terminal-store.ts';
import { createDeviceRig, type DeviceRig } from '../support/device-rig.ts';

let rig: DeviceRig;
beforeEach(async () => {
  rig = await createDeviceRig();
});
afterEach(async () => {
  await rig.close();
});

const terminalOf = (r: DeviceRig) => r.backend.sim.device.terminals().find((t) => t.terminalId === r.sync.credentials().terminalId)!;

describe('device sync against the simulated backend', () => {
  it('heartbeat reports version, scanners, queue, dead letters and clock; skew is measured', async () => {
    rig.journal.enqueue({ kind: 'reverse', orderNo: 'XORDER0001', dedupeKey: 'd1', payload: {}, at: rig.clock.now() });
    const hb = await rig.sync.heartbeat();
    expect(hb).toMatchObject({ skewMs: 0, paramsVersion: 1, rotateKey: false });
    expect(terminalOf(rig).lastHeartbeat).toMatchObject({ agentVersion: 'test', clock: rig.clock.now(), paramsVersion: 1, queueDepth: 1, deadLetters: 0, scanners: [{ source: 'virtual:lane-1', status: 'connected' }] });
  });

  it('detects a device clock 10 minutes ahead: the backend refuses and the refusal says by how much', async () => {
    const creds = rig.sync.credentials();
    const ahead = new ManualClock(rig.clock.now() + 10 * 60_000);
    const client = new DeviceClient({ baseUrl: rig.backend.url, clock: ahead, credentials: () => creds });
    await expect(client.call('heartbeat', { agentVersion: 't', clock: ahead.now(), paramsVersion: 1, scanners: [], queueDepth: 0, deadLetters: 0 })).rejects.toMatchObject({
      code: 'PROTO_TIMESTAMP_SKEW',
      detail: { skewMs: 10 * 60_000 },
    });
  });

  it('applies a new parameter set without restart, refuses a bad one and keeps the last good', async () => {
    rig.backend.sim.device.setParams({ enabledWallets: ['wechat'], maxAmount: 10_000, heartbeatIntervalMs: 30_000, uploadDelayMs: 0, profiles: { wechat: { queryDeadlineMs: 30_000 } } });
    await rig.sync.tick();
    expect(rig.sync.params.version).toBe(2);
    expect(JSON.parse(readFileSync(join(rig.home, 'params.json'), 'utf8')).version).toBe(2);
    // New payments follow the new set: a disabled wallet and an amount over the new limit are refused.
    expect(() => rig.engine.pay({ amount: 100, paymentCode: rig.backend.sim.issueCode('alipay', { kind: 'instant' }) })).toThrow(expect.objectContaining({ code: 'PAY_WALLET_DISABLED' }));
    expect(() => rig.engine.pay({ amount: 20_000, paymentCode: rig.backend.sim.issueCode('wechat', { kind: 'instant' }) })).toThrow(expect.objectContaining({ code: 'PAY_AMOUNT_INVALID' }));
    const p = rig.engine.pay({ amount: 5_000, paymentCode: rig.backend.sim.issueCode('wechat', { kind: 'instant' }) });
    expect(p.queryDeadlineAt - p.createdAt).toBe(30_000);

    rig.backend.sim.device.setParams({ enabledWallets: [], maxAmount: -1, heartbeatIntervalMs: 30_000, uploadDelayMs: 0, profiles: {} });
    await rig.sync.tick();
    expect(rig.sync.params.version).toBe(2);
    expect(rig.sync.status()).toMatchObject({ paramsVersion: 2, paramsRejected: { version: 3 }, lastError: { code: 'CONFIG_PARAMS_INVALID' } });
    expect(JSON.parse(readFileSync(join(rig.home, 'params.json'), 'utf8')).version).toBe(2);
    // A bad timing is refused too, and the refusal reaches the backend in the next heartbeat.
    rig.backend.sim.device.setParams({ enabledWallets: ['wechat'], maxAmount: 10_000, heartbeatIntervalMs: 30_000, uploadDelayMs: 0, profiles: { wechat: { queryDeadlineMs: -5 } } });
    await rig.sync.tick();
    await rig.sync.heartbeat();
    expect(rig.sync.params.version).toBe(2);
    expect(terminalOf(rig).lastHeartbeat?.paramsRejected).toMatchObject({ version: 4, reason: expect.stringContaining('queryDeadlineMs') });
  });

  it('rotates the key in the middle of traffic: payments before, during and after all end final, none lost', async () => {
    const code = (kind: 'instant' | 'password') => rig.backend.sim.issueCode('wechat', kind === 'instant' ? { kind: 'instant' } : { kind: 'password', seconds: 8 });
    const before = rig.engine.pay({ amount: 100, paymentCode: code('instant') });
    const during = rig.engine.pay({ amount: 200, paymentCode: code('password') });
    await rig.drive(() => rig.engine.get(before.orderNo).outcome !== null && rig.acquirer.inFlight === 1);
    const oldKey = readTerminalRecord(rig.home)!.key;
    rig.backend.sim.device.requestRotation(rig.sync.credentials().terminalId);
    // The rotation runs while `during`'s query, signed with the old key, is held by the backend.
    expect(rig.acquirer.inFlight).toBe(1);
    await rig.sync.tick();
    const record = readTerminalRecord(rig.home)!;
    expect(record.key).not.toBe(oldKey);
    expect(record.keyVersion).toBe(2);
    const after = rig.engine.pay({ amount: 300, paymentCode: code('instant') });
    await rig.drive(() => [before, during, after].every((p) => rig.engine.get(p.orderNo).outcome !== null));
    expect([before, during, after].map((p) => rig.engine.get(p.orderNo).outcome)).toEqual(['paid', 'paid', 'paid']);
    expect(rig.backend.sim.audit()).toMatchObject({ charged: 600, doubleCharges: [] });
    expect(terminalOf(rig)).toMatchObject({ keyVersion: 2, rotationRequested: false });
    // After the grace window only the new key works, and it does.
    rig.clock.advance(11 * 60_000);
    await expect(rig.sync.heartbeat()).resolves.toMatchObject({ rotateKey: false });
  });

  it('uploads finished transactions through the outbox', async () => {
    rig.sync.start();
    const p = rig.engine.pay({ amount: 1234, paymentCode: rig.backend.sim.issueCode('alipay', { kind: 'instant' }) });
    await rig.drive(() => rig.journal.outbox().some((i) => i.kind === 'upload' && i.status === 'done'));
    const uploads = rig.backend.sim.device.uploaded(rig.sync.credentials().terminalId);
    expect(uploads).toEqual([expect.objectContaining({ orderNo: p.orderNo, wallet: 'alipay', amount: 1234, outcome: 'paid', refunded: 0 })]);
  });
});
