/**
 * From `backend.protocol` to the adapter that speaks it and the profile of its rules: the
 * one place that knows which wire formats exist (docs/acquirers/). Only the configured
 * protocol's adapter is loaded (WeChat's XML codec, Alipay's and Upay's modules stay on disk
 * for a protocol v1 agent): less for `scanpay run` to parse before it is ready.
 */
import { createPrivateKey, createPublicKey, type X509Certificate } from 'node:crypto';
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Clock } from '../clock.ts';
import type { ClockOffset } from '../clock-offset.ts';
import { loadTerminal, type AgentConfig, type TerminalIdentity } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import type { Operation } from '../protocol/messages.ts';
import { assertOwnerOnly } from '../secret-file.ts';
import type { Acquirer, CallResult } from './acquirer.ts';
import { SCANPAY_V1_PROFILE, type AcquirerProfile } from './acquirer-profile.ts';
import type { AlipayCredentials } from './alipay/alipay-acquirer.ts';
import { ALIPAY_PROFILE } from './alipay/alipay-profile.ts';
import { HttpAcquirer } from './http-acquirer.ts';
import { silentLogger, type Logger } from '../log.ts';
import { UPAY_PROFILE } from './upay/upay-profile.ts';
import type { WechatConfig } from './wechat/credentials.ts';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from './wechat/profile.ts';

export interface AcquirerSetup {
  acquirer: Acquirer;
  profile: AcquirerProfile;
  /** Where the agent's key rotation lands (protocol v1 only). */
  setKey?: (key: Buffer) => void;
  /** The acquirer's own device routine (Upay's daily check-in and log upload), started with the agent. */
  background?: { start(): void; stop(): Promise<void> };
}

export interface CreateAcquirerOptions {
  config: AgentConfig;
  home: string;
  backendUrl: string;
  terminal: TerminalIdentity;
  clock: Clock;
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
  logger?: Logger;
  /** Demo mode: an acquirer without configured credentials uses its simulator's published demo ones. */
  demo?: boolean;
  /** Protocol v1 signs with the backend's time when this device's clock is off (issue 12). */
  clockOffset?: ClockOffset;
}

/** What every adapter is built with: the clock, the timeouts, and onCall when the caller reports calls. */
interface Common {
  clock: Clock;
  timeoutMs: AgentConfig['backend']['timeoutMs'];
  onCall?: NonNullable<CreateAcquirerOptions['onCall']>;
}

export async function createAcquirer(o: CreateAcquirerOptions): Promise<AcquirerSetup> {
  const { config, clock, terminal } = o;
  const timeoutMs = config.backend.timeoutMs;
  const common: Common = { clock, timeoutMs, ...(o.onCall ? { onCall: o.onCall } : {}) };
  switch (config.backend.protocol) {
    case 'scanpay-v1': {
      const http = new HttpAcquirer({ ...common, baseUrl: o.backendUrl, terminalId: terminal.terminalId, key: terminal.key, ...(o.clockOffset ? { clockOffset: o.clockOffset } : {}) });
      return { acquirer: http, profile: SCANPAY_V1_PROFILE, setKey: (k) => http.setKey(k) };
    }
    case 'alipay': {
      const credentials = await alipayCredentials(o.home, config, terminal.demo);
      const { AlipayAcquirer } = await import('./alipay/alipay-acquirer.ts');
      return { acquirer: new AlipayAcquirer({ ...common, ...credentials, gatewayUrl: o.backendUrl, terminalId: terminal.terminalId }), profile: ALIPAY_PROFILE };
    }
    case 'upay':
      return upaySetup(o, common);
    case 'wechat-v2':
    case 'wechat-v3':
      return wechatSetup(config.backend.protocol, o, common);
  }
}

async function wechatSetup(protocol: 'wechat-v2' | 'wechat-v3', o: CreateAcquirerOptions, common: Common): Promise<AcquirerSetup> {
  const [{ demoWechatConfig }, { loadWechatCredentials }, { loadCachedPlatformCerts, platformCertCacheFile, saveCachedPlatformCerts }] = await Promise.all([
    import('../../simulator/backend/wechat/demo-merchant.ts'),
    import('./wechat/credentials.ts'),
    import('./wechat/platform-cert-cache.ts'),
  ]);
  const configured = o.config.backend.wechat as WechatConfig | undefined;
  // Demo mode without credentials uses the published demo merchant (not owner-only: it is public).
  const demoCreds = (o.demo ?? false) && !configured;
  // Its client certificate is minted for this agent's home (simulator/backend/wechat/client-cert.ts).
  const config = demoCreds ? demoWechatConfig(protocol, join(o.home, 'wechat-demo')) : configured;
  if (!config) throw new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: `backend.protocol is ${protocol} but config.json has no backend.wechat section: run \`scanpay provision --protocol ${protocol} …\` (docs/acquirers/wechat.md)` });
  const credentials = loadWechatCredentials(protocol, config, !demoCreds);
  // v3: certificates a fetch learnt before this start (a rotation) are trusted again at once.
  const cache = platformCertCacheFile(o.home);
  if (credentials.platformCerts) for (const [s, cert] of loadCachedPlatformCerts(cache, common.clock.now())) credentials.platformCerts.set(s, cert);
  const a = {
    ...common,
    baseUrl: o.backendUrl,
    credentials,
    terminalId: o.terminal.terminalId,
    onPlatformCerts: (certs: ReadonlyMap<string, X509Certificate>) => saveCachedPlatformCerts(cache, certs),
  };
  if (protocol === 'wechat-v2') return { acquirer: new (await import('./wechat/wechat-v2-acquirer.ts')).WechatV2Acquirer(a), profile: WECHAT_V2_PROFILE };
  return { acquirer: new (await import('./wechat/wechat-v3-acquirer.ts')).WechatV3Acquirer(a), profile: WECHAT_V3_PROFILE };
}

/**
 * Who this device is. Protocol v1 and demo mode read terminal.json (or the demo terminal);
 * elsewhere the acquirer's own identity names the device in order numbers: the Upay
 * terminal_sn, or the Alipay app id.
 */
export async function loadAcquirerTerminal(home: string, config: AgentConfig, demo: boolean): Promise<TerminalIdentity> {
  const p = config.backend.protocol;
  if (p === 'scanpay-v1' || demo || existsSync(join(home, 'terminal.json'))) return loadTerminal(home, demo);
  if (p === 'upay') {
    const r = (await import('./upay/upay-terminal.ts')).readUpayTerminal(home);
    if (!r) throw new ScanpayError('CONFIG_TERMINAL_MISSING', { message: 'no Upay terminal: run `scanpay provision --protocol upay --backend URL --activation-code CODE`' });
    return { terminalId: r.terminalSn, key: Buffer.alloc(0), demo: false };
  }
  if (p === 'alipay' && config.backend.alipay) return { terminalId: config.backend.alipay.appId, key: Buffer.alloc(0), demo: false };
  // WeChat's device_info: the configured terminal id, else this machine's name.
  if (p === 'wechat-v2' || p === 'wechat-v3') return { terminalId: config.backend.wechat?.terminalId ?? (os.hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'scanpay'), key: Buffer.alloc(0), demo: false };
  return loadTerminal(home, demo);
}

/** The app's keys from backend.alipay, or in demo mode the published demo app. */
async function alipayCredentials(home: string, config: AgentConfig, demo: boolean): Promise<AlipayCredentials> {
  const a = config.backend.alipay;
  if (!a) {
    if (demo) return (await import('./alipay/demo-alipay.ts')).demoAlipayCredentials();
    throw new ScanpayError('CONFIG_INVALID', { message: 'backend.alipay: set appId, appPrivateKeyFile and alipayPublicKeyFile (docs/acquirers/alipay.md), or run with --demo' });
  }
  const path = (p: string) => (isAbsolute(p) ? p : join(home, p));
  const read = (p: string, what: string) => {
    try {
      return readFileSync(path(p), 'utf8');
    } catch (e) {
      throw new ScanpayError('CONFIG_INVALID', { message: `backend.alipay: ${what} ${path(p)} cannot be read (${(e as Error).message})`, detail: { file: path(p) } });
    }
  };
  const pem = read(a.appPrivateKeyFile, 'the app private key');
  assertOwnerOnly(path(a.appPrivateKeyFile), 'the Alipay app private key');
  try {
    return { appId: a.appId, appPrivateKey: createPrivateKey(pem), alipayPublicKey: createPublicKey(read(a.alipayPublicKeyFile, 'Alipay’s public key')) };
  } catch (e) {
    if (e instanceof ScanpayError) throw e;
    throw new ScanpayError('CONFIG_INVALID', { message: `backend.alipay: a key file is not a PEM RSA key (${(e as Error).message})` });
  }
}

/**
 * A provisioned Upay terminal signs with the key its daily check-in keeps fresh; in demo
 * mode without one, the simulator's demo terminal is used as it is.
 */
async function upaySetup(o: CreateAcquirerOptions, common: Common): Promise<AcquirerSetup> {
  const [{ UpayAcquirer }, { UpayDeviceSync }, { readUpayTerminal, UpayTerminalClient }] = await Promise.all([
    import('./upay/upay-acquirer.ts'),
    import('./upay/upay-device-sync.ts'),
    import('./upay/upay-terminal.ts'),
  ]);
  const record = readUpayTerminal(o.home);
  if (!record) {
    if (!o.terminal.demo) throw new ScanpayError('CONFIG_TERMINAL_MISSING', { message: 'no Upay terminal: run `scanpay provision --protocol upay --activation-code CODE`, or run with --demo' });
    const { DEMO_UPAY_TERMINAL } = await import('../../simulator/backend/upay/demo-upay.ts');
    const acquirer = new UpayAcquirer({ ...common, baseUrl: o.backendUrl, credentials: () => DEMO_UPAY_TERMINAL });
    return { acquirer, profile: UPAY_PROFILE };
  }
  const sync = new UpayDeviceSync(
    {
      home: o.home,
      client: new UpayTerminalClient(o.backendUrl),
      clock: o.clock,
      logger: o.logger ?? silentLogger,
      logBundle: async () => {
        const { buildBundle, scrub } = await import('../support-bundle.ts');
        const bundle = await buildBundle({ home: o.home, now: o.clock.now(), doctor: async () => [], recentLogs: () => ({ source: 'none', lines: [] }) });
        const keys = readUpayTerminal(o.home);
        return scrub(bundle, [keys?.terminalKey, keys?.previousKey].filter((k): k is string => Boolean(k))) as Record<string, unknown>;
      },
    },
    record,
  );
  const acquirer = new UpayAcquirer({ ...common, baseUrl: o.backendUrl, credentials: () => sync.credentials() });
  return { acquirer, profile: UPAY_PROFILE, background: { start: () => sync.start(), stop: () => sync.stop() } };
}
