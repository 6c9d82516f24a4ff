/**
 * Provisioning: brings a blank device to "taking payments". Activates with the backend
 * (an X25519 exchange bound to the code by scrypt and to this device's own key), stores the terminal key
 * owner-only, saves the parameters, the backend URL and the scanner in config.json, and
 * proves the new key with a heartbeat. Every step is safe to repeat: a device whose
 * identity still works against the same backend keeps it; an activation whose answer was
 * lost gets the same identity again. Re-provisioning over unfinished work is refused
 * unless forced, and the journal (with its queue) is never touched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { DeviceClient } from './backend/device-client.ts';
import type { Clock } from './clock.ts';
import { checkBackendTransport, loadConfig } from './config.ts';
import { isScanpayError, ScanpayError } from './errors.ts';
import { Journal } from './journal/journal.ts';
import { saveParams, validateParams, DEFAULT_DEVICE_PARAMS, type DeviceParams } from './params.ts';
import { ACTIVATION_CODE, activationSigningKey, codeIdOf, codeVerifier, newX25519, unwrapKey, x25519 } from './protocol/device-messages.ts';
import { ensureDeviceKey, readTerminalRecord, writeTerminalRecord, type TerminalRecord } from './terminal-store.ts';
import { AGENT_VERSION } from './version.ts';

export interface ProvisionOptions {
  home: string;
  backendUrl: string;
  activationCode: string;
  clock: Clock;
  /** A SOURCE spec; else the first likely scanner `detectScanner` finds. */
  scanner?: string | undefined;
  detectScanner?: () => Promise<string | undefined>;
  /** Waits for one scan on the scanner; resolves with what was read, masked. */
  testScan?: (spec: string) => Promise<string>;
  force?: boolean;
  /** Progress lines for the technician. */
  say?: (line: string) => void;
}

export interface ProvisionResult {
  terminalId: string;
  merchantId: string;
  merchantName: string;
  /** False when the device already had a working identity for this backend. */
  activated: boolean;
  paramsVersion: number;
  paramsNote: string | undefined;
  scanner: string | undefined;
  testScan: string;
  heartbeatMs: number;
}

export async function provision(o: ProvisionOptions): Promise<ProvisionResult> {
  const say = o.say ?? (() => {});
  // Before anything leaves the device: the activation exchange must not cross a network in clear.
  const transport = checkBackendTransport(o.backendUrl, { allowInsecureHttp: configuredInsecureHttp(o.home) });
  if (transport.warning) say(`warning: ${transport.warning}`);
  const existing = readTerminalRecord(o.home);
  let record: TerminalRecord | undefined;
  if (existing && existing.backendUrl === o.backendUrl && !o.force && (await identityWorks(o, existing))) {
    say(`already provisioned as terminal ${existing.terminalId}: keeping that identity`);
    record = existing;
  } else {
    if (existing) refuseOverUnfinishedWork(o);
    say(`activating with ${o.backendUrl}`);
    record = await activate(o);
    say(`activated: terminal ${record.terminalId}, merchant ${record.merchantId} (${record.merchantName})`);
  }
  const params = readParams(o.home);
  const scanner = o.scanner ?? (await o.detectScanner?.());
  writeConfig(o.home, o.backendUrl, scanner);
  say(scanner ? `scanner: ${scanner}` : 'no scanner chosen: the lanes keep the scanners config.json has (add one later: scanpay scanners set LANE SOURCE)');
  const hb = await new DeviceClient({ baseUrl: o.backendUrl, clock: o.clock, credentials: () => credentialsOf(record) }).call('heartbeat', {
    agentVersion: AGENT_VERSION,
    clock: o.clock.now(),
    paramsVersion: params.params.version,
    scanners: [],
    queueDepth: 0,
    deadLetters: 0,
  });
  say(`backend answers signed with the new key (${hb.latencyMs} ms)`);
  const testScan = scanner && o.testScan ? await o.testScan(scanner) : 'skipped';
  return {
    terminalId: record.terminalId,
    merchantId: record.merchantId,
    merchantName: record.merchantName,
    activated: record !== existing,
    paramsVersion: params.params.version,
    paramsNote: params.note,
    scanner,
    testScan,
    heartbeatMs: hb.latencyMs,
  };
}

function configuredInsecureHttp(home: string): boolean | undefined {
  try {
    return loadConfig(home).backend.allowInsecureHttp;
  } catch {
    return undefined;
  }
}

const credentialsOf = (r: TerminalRecord) => ({ terminalId: r.terminalId, key: Buffer.from(r.key, 'base64') });

/** A signed heartbeat with the stored key: only a refusal of the terminal means "provision again". */
async function identityWorks(o: ProvisionOptions, r: TerminalRecord): Promise<boolean> {
  try {
    await new DeviceClient({ baseUrl: o.backendUrl, clock: o.clock, credentials: () => credentialsOf(r) }).call('params', { version: 0 });
    return true;
  } catch (e) {
    if (isScanpayError(e, 'BACKEND_HTTP_STATUS') && e.detail?.status === 401) return false;
    throw e;
  }
}

function refuseOverUnfinishedWork(o: ProvisionOptions): void {
  const path = join(o.home, 'journal.db');
  if (!existsSync(path)) return;
  const journal = Journal.open(path);
  try {
    const unfinished = journal.unfinished().length;
    const queued = journal.outbox('pending').length;
    if (unfinished + queued === 0) return;
    const what = `${unfinished} unfinished payment(s) and ${queued} queued item(s)`;
    if (!o.force) throw new ScanpayError('CONFIG_PROVISION_UNSAFE', { message: `this device has ${what}: start the agent until they finish (scanpay queue), or pass --force; nothing queued is discarded`, detail: { unfinished, queued } });
    o.say?.(`--force: re-provisioning with ${what}; they stay in the journal and are still delivered`);
  } finally {
    journal.close();
  }
}

/**
 * Two steps (docs/protocol.md, "Activation"): trade X25519 shares under the code's
 * locator, then sign with a key only this device (ephemeral and device key) and a holder
 * of the code can derive. A recording of both steps does not help guess the code.
 */
async function activate(o: ProvisionOptions): Promise<TerminalRecord> {
  const code = o.activationCode.trim().toUpperCase();
  if (!ACTIVATION_CODE.test(code)) throw new ScanpayError('CONFIG_ACTIVATION_REFUSED', { message: `"${code}" is not an activation code: groups of 4 letters and digits, e.g. ABCD-EFGH-JKLM-NPQR` });
  const device = ensureDeviceKey(o.home);
  const ephemeral = newX25519();
  const client = new DeviceClient({
    baseUrl: o.backendUrl,
    clock: o.clock,
    credentials: () => {
      throw new Error('activation signs each step itself');
    },
  });
  const hello = await client.hello({ codeId: codeIdOf(code), ephemeralKey: ephemeral.publicKey, deviceKey: device.publicKey });
  let key: Buffer;
  try {
    key = activationSigningKey({
      verifier: codeVerifier(code, Buffer.from(hello.salt, 'base64'), hello.kdf),
      ephemeralSecret: x25519(ephemeral.privateKey, hello.serverEphemeral),
      deviceSecret: x25519(device.privateKey, hello.serverEphemeral),
      activationId: hello.activationId,
      deviceEphemeral: ephemeral.publicKey,
      deviceKey: device.publicKey,
      serverEphemeral: hello.serverEphemeral,
    });
  } catch (e) {
    throw new ScanpayError('BACKEND_MALFORMED', { message: `answer to activateHello is unusable (${(e as Error).message})`, cause: e });
  }
  const { body } = await client.call('activate', { deviceName: hostname().slice(0, 64), agentVersion: AGENT_VERSION }, { terminalId: hello.activationId, key });
  const record: TerminalRecord = {
    terminalId: body.terminalId,
    merchantId: body.merchantId,
    merchantName: body.merchantName,
    key: unwrapKey(body.wrappedKey, key).toString('base64'),
    keyVersion: 1,
    backendUrl: o.backendUrl,
    activatedAt: o.clock.now(),
  };
  writeTerminalRecord(o.home, record);
  try {
    saveParams(o.home, validateParams(body.params));
  } catch (e) {
    // The device can take payments on defaults; the heartbeat reports the refusal.
    o.say?.(`parameters from the backend refused (${(e as Error).message}); using defaults until a good set arrives`);
  }
  return record;
}

function readParams(home: string): { params: DeviceParams; note: string | undefined } {
  try {
    return { params: validateParams(JSON.parse(readFileSync(join(home, 'params.json'), 'utf8'))), note: undefined };
  } catch {
    return { params: DEFAULT_DEVICE_PARAMS, note: 'no valid parameter set yet: defaults in use' };
  }
}

/** Sets backend.url and, when given, the first lane's scanner (replacing its list); keeps everything else in config.json. */
function writeConfig(home: string, backendUrl: string, scanner: string | undefined): void {
  const path = join(home, 'config.json');
  const config = (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}) as { backend?: Record<string, unknown>; lanes?: Array<{ id: string; scanners: string[] }> };
  config.backend = { ...config.backend, url: backendUrl };
  if (scanner) {
    const lanes = config.lanes?.length ? config.lanes : [{ id: '1', scanners: [] }];
    // The scanner chosen now is lane 1's scanner: what it had before was replaced, not kept beside it.
    lanes[0]!.scanners = [scanner];
    config.lanes = lanes;
  }
  writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}
