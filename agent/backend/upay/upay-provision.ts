/**
 * `scanpay provision --protocol upay`: activates this device at Upay with the vendor's
 * credentials and the shop's activation code, checks in at once (the first key rotation,
 * which also proves the new key works), and points config.json at Upay. Provisioning again
 * keeps the identity while its key still works, as for protocol v1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.ts';
import type { Clock } from '../../clock.ts';
import { ScanpayError } from '../../errors.ts';
import { Journal } from '../../journal/journal.ts';
import { readUpayTerminal, UpayTerminalClient, writeUpayTerminal, type UpayTerminalRecord, type UpayVendor } from './upay-terminal.ts';

export interface UpayProvisionOptions {
  home: string;
  backendUrl: string;
  activationCode: string;
  vendor: UpayVendor;
  clock: Clock;
  force?: boolean;
  say?: (line: string) => void;
}

export async function provisionUpay(o: UpayProvisionOptions): Promise<{ record: UpayTerminalRecord; activated: boolean }> {
  refuseOverOpenPayments(o);
  const client = new UpayTerminalClient(o.backendUrl);
  const existing = readUpayTerminal(o.home);
  if (existing && existing.backendUrl === o.backendUrl) {
    try {
      const next = await client.checkin({ terminalSn: existing.terminalSn, terminalKey: existing.terminalKey }, existing.deviceId);
      const record = { ...existing, terminalKey: next.terminalKey, previousKey: existing.terminalKey, checkedInAt: o.clock.now() };
      writeUpayTerminal(o.home, record);
      writeConfig(o.home, o.backendUrl);
      return { record, activated: false };
    } catch (e) {
      if (!(e instanceof ScanpayError) || e.code !== 'CONFIG_KEY_ROTATION_FAILED') throw e;
      o.say?.(`the stored Upay terminal ${existing.terminalSn} is no longer accepted (${e.message}): activating again`);
    }
  }
  const deviceId = upayDeviceId(hostname());
  const activated = await client.activate(o.vendor, { code: o.activationCode.trim(), deviceId, name: `scanpay ${deviceId}` });
  const now = o.clock.now();
  let record: UpayTerminalRecord = { ...activated, deviceId, backendUrl: o.backendUrl, activatedAt: now };
  writeUpayTerminal(o.home, record);
  const next = await client.checkin(activated, deviceId);
  record = { ...record, terminalKey: next.terminalKey, previousKey: activated.terminalKey, checkedInAt: o.clock.now() };
  writeUpayTerminal(o.home, record);
  writeConfig(o.home, o.backendUrl);
  return { record, activated: true };
}

/** This device's `device_id` at Upay: the host name in the characters and length the stored identity allows. */
export function upayDeviceId(host: string): string {
  return host.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'scanpay';
}

function refuseOverOpenPayments(o: UpayProvisionOptions): void {
  const path = join(o.home, 'journal.db');
  if (!existsSync(path)) return;
  const journal = Journal.open(path);
  try {
    const open = journal.unfinished().length + journal.outbox('pending').length;
    if (open > 0 && !o.force) throw new ScanpayError('CONFIG_PROVISION_UNSAFE', { detail: { open } });
  } finally {
    journal.close();
  }
}

/** Sets backend.url and backend.protocol; keeps everything else in config.json. */
function writeConfig(home: string, backendUrl: string): void {
  const path = join(home, 'config.json');
  const config = (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}) as { backend?: Record<string, unknown> };
  config.backend = { ...config.backend, url: backendUrl, protocol: 'upay' };
  writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}
