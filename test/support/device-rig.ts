/**
 * A provisioned terminal against the simulated backend over real HTTP: provisioning, a
 * payment engine whose acquirer signs with the provisioned key, and the device sync,
 * all on one manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceClient } from '../../agent/backend/device-client.ts';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { DeviceSync, UPLOAD_KIND } from '../../agent/device-sync.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { loadParams } from '../../agent/params.ts';
import { PaymentEngine } from '../../agent/payment/engine.ts';
import { provision } from '../../agent/provision.ts';
import { readTerminalRecord } from '../../agent/terminal-store.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { settleCalls } from '../../simulator/scenarios/clock-driver.ts';
import { TrackedAcquirer } from '../../simulator/tracked-acquirer.ts';

export interface DeviceRig {
  clock: ManualClock;
  backend: RunningBackend;
  home: string;
  journal: Journal;
  engine: PaymentEngine;
  sync: DeviceSync;
  client: DeviceClient;
  http: HttpAcquirer;
  acquirer: TrackedAcquirer;
  drive(until: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function createDeviceRig(): Promise<DeviceRig> {
  const clock = new ManualClock(Date.now());
  const backend = await startBackend({ clock });
  const home = mkdtempSync(join(tmpdir(), 'scanpay-device-'));
  const { code } = backend.sim.device.issueActivationCode({ merchantName: 'Corner shop' });
  await provision({ home, backendUrl: backend.url, activationCode: code, clock });
  const record = readTerminalRecord(home)!;
  const journal = Journal.open(join(home, 'journal.db'));
  const http = new HttpAcquirer({ baseUrl: backend.url, terminalId: record.terminalId, key: Buffer.from(record.key, 'base64'), clock });
  const acquirer = new TrackedAcquirer(http);
  let sync: DeviceSync;
  const engine = new PaymentEngine({ journal, acquirer, clock, terminalId: record.terminalId, random: () => 0.5, outboxHandlers: { [UPLOAD_KIND]: (item) => sync.deliverUpload(item) } });
  const client = new DeviceClient({ baseUrl: backend.url, clock, credentials: () => sync.credentials() });
  sync = new DeviceSync({ home, terminal: record, client, clock, logger: silentLogger, journal, engine, onKey: (k) => http.setKey(k), scanners: () => [{ source: 'virtual:lane-1', status: 'connected' }], agentVersion: 'test', params: loadParams(home) });
  engine.start();
  const rig: DeviceRig = {
    clock, backend, home, journal, engine, sync, client, http, acquirer,
    async drive(until) {
      for (let i = 0; i < 1000; i++) {
        await settleCalls(() => acquirer.inFlight, () => backend.sim.parkedCalls());
        if (until()) return;
        if (!clock.advanceToNext()) throw new Error('nothing left to wait for, and the condition does not hold');
      }
      throw new Error('condition not reached');
    },
    async close() {
      await sync.stop();
      await engine.stop();
      journal.close();
      await backend.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return rig;
}
