/**
 * From `backend.protocol` to the adapter and its rules (agent/backend/create-acquirer.ts):
 * each protocol gets its own adapter and profile, protocol v1 speaks real HTTP to a loopback
 * gateway with the terminal's key (and the rotated one after `setKey`), and every missing or
 * unusable credential is a typed configuration error, not a crash.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROTOCOLS, SCANPAY_V1_PROFILE } from '../../agent/backend/acquirer-profile.ts';
import { ALIPAY_PROFILE } from '../../agent/backend/alipay/alipay-profile.ts';
import { createAcquirer, loadAcquirerTerminal } from '../../agent/backend/create-acquirer.ts';
import { UPAY_PROFILE } from '../../agent/backend/upay/upay-profile.ts';
import { WECHAT_V3_PROFILE } from '../../agent/backend/wechat/profile.ts';
import { ManualClock } from '../../agent/clock.ts';
import { ClockOffset } from '../../agent/clock-offset.ts';
import { DEFAULTS, type AgentConfig, type TerminalIdentity } from '../../agent/config.ts';
import { HEADER, NonceCache, signResponse, verifyRequest } from '../../agent/protocol/signing.ts';
import { provisionUpay } from '../../agent/backend/upay/upay-provision.ts';
import { readUpayTerminal, UpayTerminalClient } from '../../agent/backend/upay/upay-terminal.ts';
import { loadCachedPlatformCerts, platformCertCacheFile } from '../../agent/backend/wechat/platform-cert-cache.ts';
import { createLogger } from '../../agent/log.ts';
import { ALIPAY_GATEWAY_PATH, alipayWire } from '../../simulator/backend/alipay/alipay-wire.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { DEMO_UPAY_ACTIVATION_CODE, DEMO_UPAY_VENDOR } from '../../simulator/backend/upay/demo-upay.ts';
import { upayWire, type UpayWire } from '../../simulator/backend/upay/upay-wire.ts';
import { CLIENT_CERT_FILES } from '../../simulator/backend/wechat/client-cert.ts';
import { demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import { wechatWire, type WechatWire } from '../../simulator/backend/wechat/wechat-wire.ts';
import { listenOnLoopback } from '../support/loopback.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'scanpay-create-acquirer-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const config = (backend: Partial<AgentConfig['backend']>): AgentConfig => ({ ...DEFAULTS, backend: { ...DEFAULTS.backend, ...backend } }) as AgentConfig;
const clock = new ManualClock();
const terminal: TerminalIdentity = { terminalId: 'T-1', key: Buffer.from('terminal-key-0123456789abcdef'), demo: false };
const demoTerminal: TerminalIdentity = { ...terminal, demo: true };
const setup = (cfg: AgentConfig, t = terminal, extra: object = {}) => createAcquirer({ config: cfg, home, backendUrl: 'http://127.0.0.1:9', terminal: t, clock, ...extra });

it('every protocol a configuration may name has an adapter, whose profile names that protocol', async () => {
  expect(PROTOCOLS).toHaveLength(5);
  for (const protocol of PROTOCOLS) {
    const s = await createAcquirer({ config: config({ protocol }), home, backendUrl: 'http://127.0.0.1:9', terminal: demoTerminal, clock, demo: true });
    expect(s.profile.protocol, protocol).toBe(protocol);
  }
});

describe('protocol v1', () => {
  /** A gateway that verifies each query under `keyOf()` and answers it signed, stamping its own time. */
  async function gateway(keyOf: () => Buffer) {
    const stamps: number[] = [];
    const s = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const at = Number(req.headers[HEADER.timestamp]);
        stamps.push(at);
        try {
          verifyRequest({ method: 'POST', path: req.url!, terminalId: 'T-1', body }, req.headers, keyOf(), { now: at, nonces: new NonceCache() });
        } catch {
          res.writeHead(401).end();
          return;
        }
        const raw = Buffer.from(JSON.stringify({ result: 'FAIL', orderNo: JSON.parse(body.toString()).orderNo, reasonCode: 'ORDER_NOT_FOUND' }));
        res.writeHead(200, { 'content-type': 'application/json', ...signResponse({ method: 'POST', path: req.url!, terminalId: 'T-1', body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, keyOf(), at) });
        res.end(raw);
      });
    });
    await listenOnLoopback(s);
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, stamps };
  }

  it('signs with the terminal key, takes the rotated key from setKey on, and reports each call', async () => {
    let key = terminal.key;
    const gw = await gateway(() => key);
    const calls: string[] = [];
    const s = await createAcquirer({ config: config({}), home, backendUrl: gw.url, terminal, clock, onCall: (op, kind) => calls.push(`${op}:${kind}`) });
    expect(s.profile).toBe(SCANPAY_V1_PROFILE);
    expect(s.background).toBeUndefined();
    await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'answer', body: { reasonCode: 'ORDER_NOT_FOUND' } });
    key = Buffer.from('rotated-key-0123456789abcdefghij');
    s.setKey!(key);
    await expect(s.acquirer.query({ orderNo: 'ORDER0002' })).resolves.toMatchObject({ kind: 'answer' });
    expect(calls).toEqual(['query:answer', 'query:answer']);
  });

  it('signs with the backend\'s time when told this device\'s clock is off', async () => {
    const gw = await gateway(() => terminal.key);
    const offset = new ClockOffset(clock);
    offset.observe(clock.now(), clock.now(), clock.now() - 120_000);
    const s = await createAcquirer({ config: config({}), home, backendUrl: gw.url, terminal, clock, clockOffset: offset });
    await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'answer' });
    expect(gw.stamps).toEqual([clock.now() - 120_000]);
  });

  it('uses the configured timeout: a gateway slower than it is no answer', async () => {
    const s0 = http.createServer(() => {});
    await listenOnLoopback(s0);
    const url = `http://127.0.0.1:${(s0.address() as AddressInfo).port}`;
    const s = await createAcquirer({ config: config({ timeoutMs: { query: 200 } }), home, backendUrl: url, terminal, clock: new ManualClock() });
    await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'unknown' });
  });
});

describe('Alipay', () => {
  const keys = () => generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const alipay = { appId: '2021000000000001', appPrivateKeyFile: 'app.key', alipayPublicKeyFile: 'alipay.pub' };
  const writeKeys = (mode = 0o600) => {
    const k = keys();
    writeFileSync(join(home, 'app.key'), k.privateKey);
    chmodSync(join(home, 'app.key'), mode);
    writeFileSync(join(home, 'alipay.pub'), k.publicKey);
  };

  it('loads the app keys from files under SCANPAY_HOME (or absolute paths)', async () => {
    writeKeys();
    const s = await setup(config({ protocol: 'alipay', alipay }));
    expect(s.profile).toBe(ALIPAY_PROFILE);
    expect(s.acquirer.constructor.name).toBe('AlipayAcquirer');
    expect(s.setKey).toBeUndefined();
    await expect(setup(config({ protocol: 'alipay', alipay: { ...alipay, appPrivateKeyFile: join(home, 'app.key') } }))).resolves.toMatchObject({ profile: ALIPAY_PROFILE });
  });

  it('without keys: the demo app in demo mode, else a configuration error', async () => {
    await expect(setup(config({ protocol: 'alipay' }), demoTerminal)).resolves.toMatchObject({ profile: ALIPAY_PROFILE });
    await expect(setup(config({ protocol: 'alipay' }))).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('backend.alipay') });
  });

  it('a key file missing, readable by others or not a PEM key is a configuration error naming it', async () => {
    const appKey = join(home, 'app.key');
    await expect(setup(config({ protocol: 'alipay', alipay }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(new RegExp(`^backend\\.alipay: the app private key ${appKey} cannot be read \\(ENOENT`)),
      detail: { file: appKey },
    });
    writeKeys(0o644);
    await expect(setup(config({ protocol: 'alipay', alipay }))).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `${appKey} holds the Alipay app private key and must be readable by its owner only: chmod 600 ${appKey}` });
    chmodSync(appKey, 0o600);
    rmSync(join(home, 'alipay.pub'));
    await expect(setup(config({ protocol: 'alipay', alipay }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(`backend.alipay: Alipay’s public key ${join(home, 'alipay.pub')} cannot be read`),
      detail: { file: join(home, 'alipay.pub') },
    });
    writeFileSync(join(home, 'alipay.pub'), 'not a key');
    await expect(setup(config({ protocol: 'alipay', alipay }))).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('not a PEM RSA key') });
  });
});

describe('Upay and WeChat Pay', () => {
  it('Upay: the demo terminal in demo mode, else a provisioned one is required', async () => {
    const s = await setup(config({ protocol: 'upay' }), demoTerminal);
    expect(s.profile).toBe(UPAY_PROFILE);
    expect(s.acquirer.constructor.name).toBe('UpayAcquirer');
    expect(s.background).toBeUndefined();
    await expect(setup(config({ protocol: 'upay' }))).rejects.toMatchObject({ code: 'CONFIG_TERMINAL_MISSING', message: expect.stringContaining('scanpay provision --protocol upay --activation-code CODE') });
  });

  it('WeChat: the demo merchant in demo mode, else backend.wechat is required', async () => {
    const s = await createAcquirer({ config: config({ protocol: 'wechat-v3' }), home, backendUrl: 'http://127.0.0.1:9', terminal, clock, demo: true });
    expect(s.profile).toBe(WECHAT_V3_PROFILE);
    expect(s.acquirer.constructor.name).toBe('WechatV3Acquirer');
    await expect(setup(config({ protocol: 'wechat-v3' }))).rejects.toMatchObject({ code: 'CONFIG_WECHAT_CREDENTIALS', message: expect.stringContaining('wechat-v3') });
    await expect(setup(config({ protocol: 'wechat-v2' }))).rejects.toMatchObject({ code: 'CONFIG_WECHAT_CREDENTIALS', message: expect.stringContaining('wechat-v2') });
  });
});

describe('loadAcquirerTerminal', () => {
  it('WeChat without a terminal id: this machine\'s name in the characters and length device_info takes, else "scanpay"', async () => {
    const hostname = vi.spyOn(os, 'hostname');
    const wechat = config({ protocol: 'wechat-v2' });
    try {
      hostname.mockReturnValue('till.lane-3 (back_office), north store 12');
      await expect(loadAcquirerTerminal(home, wechat, false)).resolves.toMatchObject({ terminalId: 'tilllane-3back_officenorthstore1' });
      hostname.mockReturnValue('..');
      await expect(loadAcquirerTerminal(home, wechat, false)).resolves.toMatchObject({ terminalId: 'scanpay' });
    } finally {
      hostname.mockRestore();
    }
    // An Alipay section left in the configuration does not name a WeChat terminal.
    const alipay = { appId: '2021000000000001', appPrivateKeyFile: 'app.key', alipayPublicKeyFile: 'alipay.pub' };
    await expect(loadAcquirerTerminal(home, config({ protocol: 'wechat-v3', alipay, wechat: { terminalId: 'LANE-2' } }), false)).resolves.toMatchObject({ terminalId: 'LANE-2' });
  });

  it('protocol v1 reads terminal.json, or the demo terminal in demo mode', async () => {
    await expect(loadAcquirerTerminal(home, config({}), false)).rejects.toMatchObject({ code: 'CONFIG_TERMINAL_MISSING' });
    await expect(loadAcquirerTerminal(home, config({}), true)).resolves.toMatchObject({ demo: true });
    // Any protocol in demo mode, or with a terminal.json, reads it too.
    await expect(loadAcquirerTerminal(home, config({ protocol: 'upay' }), true)).resolves.toMatchObject({ demo: true });
    writeFileSync(join(home, 'terminal.json'), JSON.stringify({ terminalId: 'T-42', key: Buffer.from('k'.repeat(32)).toString('base64') }), { mode: 0o600 });
    await expect(loadAcquirerTerminal(home, config({ protocol: 'upay' }), false)).resolves.toMatchObject({ terminalId: 'T-42', demo: false });
  });

  it('elsewhere the acquirer\'s own identity names the device', async () => {
    await expect(loadAcquirerTerminal(home, config({ protocol: 'upay' }), false)).rejects.toMatchObject({ code: 'CONFIG_TERMINAL_MISSING', message: expect.stringContaining('--protocol upay') });
    const alipay = { appId: '2021000000000001', appPrivateKeyFile: 'app.key', alipayPublicKeyFile: 'alipay.pub' };
    await expect(loadAcquirerTerminal(home, config({ protocol: 'alipay', alipay }), false)).resolves.toEqual({ terminalId: '2021000000000001', key: Buffer.alloc(0), demo: false });
    // Alipay without an app: no identity of its own, so terminal.json (missing here).
    await expect(loadAcquirerTerminal(home, config({ protocol: 'alipay' }), false)).rejects.toMatchObject({ code: 'CONFIG_TERMINAL_MISSING' });
    await expect(loadAcquirerTerminal(home, config({ protocol: 'wechat-v2', wechat: { terminalId: 'LANE-2' } }), false)).resolves.toEqual({ terminalId: 'LANE-2', key: Buffer.alloc(0), demo: false });
    const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'scanpay';
    await expect(loadAcquirerTerminal(home, config({ protocol: 'wechat-v3' }), false)).resolves.toEqual({ terminalId: host, key: Buffer.alloc(0), demo: false });
  });
});

/**
 * Each adapter as createAcquirer builds it, against its simulated gateway: the credentials,
 * the gateway URL and the onCall report reach it (a verified answer proves the first two).
 */
describe('against the simulated gateways', () => {
  const simClock = new ManualClock(Date.now());
  const backends: RunningBackend[] = [];
  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });
  async function gatewayOf(wire: NonNullable<Parameters<typeof startBackend>[0]>['wire']) {
    const b = await startBackend({ clock: simClock, wire });
    backends.push(b);
    return b;
  }
  const reported = () => {
    const calls: string[] = [];
    return { calls, onCall: (op: string, kind: string) => void calls.push(`${op}:${kind}`) };
  };

  it('Alipay in demo mode: the demo app signs, its gateway answers verified, each call is reported', async () => {
    const b = await gatewayOf(alipayWire());
    const r = reported();
    const s = await createAcquirer({ config: config({ protocol: 'alipay' }), home, backendUrl: `${b.url}${ALIPAY_GATEWAY_PATH}`, terminal: demoTerminal, clock: simClock, onCall: r.onCall });
    await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'answer' });
    expect(r.calls).toEqual(['query:answer']);
  });

  it('Upay in demo mode: the demo terminal signs, its gateway answers verified, each call is reported', async () => {
    const b = await gatewayOf(upayWire());
    const r = reported();
    const s = await createAcquirer({ config: config({ protocol: 'upay' }), home, backendUrl: b.url, terminal: demoTerminal, clock: simClock, onCall: r.onCall });
    await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'answer' });
    expect(r.calls).toEqual(['query:answer']);
  });

  it('a provisioned Upay terminal: named by its terminal_sn, signs with the key its daily check-in rotates, uploads the day\'s bundle', async () => {
    const wire: UpayWire = upayWire();
    const b = await gatewayOf(wire);
    const { record } = await provisionUpay({ home, backendUrl: b.url, activationCode: DEMO_UPAY_ACTIVATION_CODE, vendor: DEMO_UPAY_VENDOR, clock: simClock });
    const upay = config({ protocol: 'upay' });
    const t = await loadAcquirerTerminal(home, upay, false);
    expect(t).toEqual({ terminalId: record.terminalSn, key: Buffer.alloc(0), demo: false });

    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const uploads: Buffer[] = [];
    const original = UpayTerminalClient.prototype.uploadLog;
    const spy = vi.spyOn(UpayTerminalClient.prototype, 'uploadLog').mockImplementation(function (this: UpayTerminalClient, c, gz) {
      uploads.push(gz);
      return original.call(this, c, gz);
    });
    try {
      const r = reported();
      const s = await createAcquirer({ config: upay, home, backendUrl: b.url, terminal: t, clock: simClock, onCall: r.onCall, logger });
      expect(s.profile).toBe(UPAY_PROFILE);
      await expect(s.acquirer.query({ orderNo: 'ORDER0001' })).resolves.toMatchObject({ kind: 'answer' });
      expect(r.calls).toEqual(['query:answer']);

      // Provisioning checked in today: the first round uploads the day's log only.
      s.background!.start();
      await s.background!.stop();
      const terminalState = wire.terminals.get(record.terminalSn)!;
      expect(terminalState.logs).toHaveLength(1);
      const bundle = JSON.parse(gunzipSync(uploads[0]!).toString('utf8')) as Record<string, unknown>;
      // The support bundle of this home, without doctor checks or recent log lines (the agent reads neither for it), and no key.
      expect(bundle).toMatchObject({ createdAt: new Date(simClock.now()).toISOString(), home, doctor: [], logs: { source: 'none', lines: [] } });
      expect(gunzipSync(uploads[0]!).toString('utf8')).not.toContain(record.terminalKey);

      // The next Beijing day's round checks in: a new key, which the acquirer signs with from then on.
      simClock.advance(24 * 3_600_000);
      s.background!.start();
      await s.background!.stop();
      const rotated = readUpayTerminal(home)!;
      expect(rotated.terminalKey).not.toBe(record.terminalKey);
      expect(terminalState.keys[0]).toBe(rotated.terminalKey);
      expect(lines.some((l) => l.includes('Upay check-in: terminal key rotated'))).toBe(true);
      await expect(s.acquirer.query({ orderNo: 'ORDER0002' })).resolves.toMatchObject({ kind: 'answer' });
    } finally {
      spy.mockRestore();
    }
  });

  it('WeChat v2 in demo mode: the demo merchant\'s client certificate is minted under the home\'s wechat-demo directory', async () => {
    await createAcquirer({ config: config({ protocol: 'wechat-v2' }), home, backendUrl: 'http://127.0.0.1:9', terminal, clock: simClock, demo: true });
    expect(existsSync(join(home, 'wechat-demo', CLIENT_CERT_FILES.p12))).toBe(true);
  });

  it('WeChat v3: a platform certificate a fetch learnt is kept in the home and trusted at the next start, without the APIv3 key', async () => {
    const wire: WechatWire = wechatWire('wechat-v3');
    const b = await gatewayOf(wire);
    const pay = (a: Awaited<ReturnType<typeof createAcquirer>>['acquirer'], n: number) =>
      a.pay({ orderNo: `ROT${String(n).padStart(8, '0')}`, paymentCode: b.sim.issueCode('wechat', { kind: 'instant' }), amount: 500, currency: 'CNY' });
    const r = reported();
    const learner = await createAcquirer({ config: config({ protocol: 'wechat-v3' }), home, backendUrl: b.url, terminal, clock: simClock, demo: true, onCall: r.onCall });
    const next = wire.platform!.rotate();
    await expect(pay(learner.acquirer, 1)).resolves.toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });
    expect(r.calls).toEqual(['pay:answer']);
    expect(loadCachedPlatformCerts(platformCertCacheFile(home), simClock.now()).has(next)).toBe(true);

    // The restart, configured without the APIv3 key: only the cache can vouch for the rotated certificate.
    // Its files copied into the home, owner-only as a configured merchant's must be.
    const { apiV3KeyFile: _k, ...noKey } = demoWechatConfig('wechat-v3');
    const owned = (file: string) => {
      const to = join(home, basename(file));
      copyFileSync(file, to);
      chmodSync(to, 0o600);
      return to;
    };
    const wechat = { ...noKey, caFile: owned(noKey.caFile!), clientKeyFile: owned(noKey.clientKeyFile!), clientCertFile: owned(noKey.clientCertFile!), platformCertFile: owned(noKey.platformCertFile!) };
    const restarted = await createAcquirer({ config: config({ protocol: 'wechat-v3', wechat }), home, backendUrl: b.url, terminal, clock: simClock });
    await expect(pay(restarted.acquirer, 2)).resolves.toMatchObject({ kind: 'answer', body: { result: 'SUCCESS' } });

    // v2 has no platform certificates: a v3 cache left in the home is not read.
    await expect(createAcquirer({ config: config({ protocol: 'wechat-v2' }), home, backendUrl: b.url, terminal, clock: simClock, demo: true })).resolves.toMatchObject({ profile: { protocol: 'wechat-v2' } });
  });
});
