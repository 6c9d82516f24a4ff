/**
 * The acquirer behind `backend.protocol`: each protocol maps to the factory of its adapter
 * (with the profile of its rules) and, for demo mode, to the simulator that speaks it.
 */
import os from 'node:os';
import type { Clock } from '../clock.ts';
import type { AgentConfig, TerminalIdentity } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Operation } from '../protocol/messages.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import type { Acquirer, CallResult } from './acquirer.ts';
import { SCANPAY_V1_PROFILE, type AcquirerProfile, type ProtocolName } from './acquirer-profile.ts';
import { HttpAcquirer } from './http-acquirer.ts';
import { loadWechatCredentials, type WechatConfig } from './wechat/credentials.ts';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from './wechat/profile.ts';
import { WechatV2Acquirer } from './wechat/wechat-v2-acquirer.ts';
import { WechatV3Acquirer } from './wechat/wechat-v3-acquirer.ts';

export interface AcquirerSetup {
  acquirer: Acquirer;
  profile: AcquirerProfile;
  /** The terminal id the adapter reports (device_info for WeChat). */
  terminalId: string;
  /** A backend-requested key rotation (protocol v1 only). */
  setKey?: (key: Buffer) => void;
}

export interface AcquirerContext {
  baseUrl: string;
  backend: AgentConfig['backend'];
  /** The provisioned or demo terminal; WeChat needs none. */
  terminal: () => TerminalIdentity;
  demo: boolean;
  clock: Clock;
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
}

function wechat(protocol: 'wechat-v2' | 'wechat-v3', c: AcquirerContext): AcquirerSetup {
  const configured = c.backend.wechat as WechatConfig | undefined;
  // Demo mode without credentials uses the published demo merchant (not owner-only: it is public).
  const demoCreds = c.demo && !configured;
  const config = demoCreds ? demoWechatConfig(protocol) : configured;
  if (!config) throw new ScanpayError('CONFIG_WECHAT_CREDENTIALS', { message: `backend.protocol is ${protocol} but config.json has no backend.wechat section: run \`scanpay provision --protocol ${protocol} …\` (docs/acquirers/wechat.md)` });
  const credentials = loadWechatCredentials(protocol, config, !demoCreds);
  const terminalId = config.terminalId ?? (c.demo ? c.terminal().terminalId : os.hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'scanpay');
  const o = { baseUrl: c.baseUrl, credentials, clock: c.clock, terminalId, timeoutMs: c.backend.timeoutMs, onCall: c.onCall };
  return protocol === 'wechat-v2'
    ? { acquirer: new WechatV2Acquirer(o), profile: WECHAT_V2_PROFILE, terminalId }
    : { acquirer: new WechatV3Acquirer(o), profile: WECHAT_V3_PROFILE, terminalId };
}

const FACTORIES: Record<ProtocolName, (c: AcquirerContext) => AcquirerSetup> = {
  'scanpay-v1': (c) => {
    const t = c.terminal();
    const acquirer = new HttpAcquirer({ baseUrl: c.baseUrl, terminalId: t.terminalId, key: t.key, clock: c.clock, timeoutMs: c.backend.timeoutMs, ...(c.onCall ? { onCall: c.onCall } : {}) });
    return { acquirer, profile: SCANPAY_V1_PROFILE, terminalId: t.terminalId, setKey: (key) => acquirer.setKey(key) };
  },
  'wechat-v2': (c) => wechat('wechat-v2', c),
  'wechat-v3': (c) => wechat('wechat-v3', c),
  alipay: () => notAvailable('alipay'),
  upay: () => notAvailable('upay'),
};

function notAvailable(p: ProtocolName): never {
  throw new ScanpayError('CONFIG_INVALID', { message: `backend.protocol: ${p} is not available in this build; use scanpay-v1, wechat-v2 or wechat-v3` });
}

export function createAcquirer(protocol: ProtocolName, c: AcquirerContext): AcquirerSetup {
  return FACTORIES[protocol](c);
}

/** The simulator that speaks `protocol`, for demo mode (and `scanpay sim backend --protocol`). */
export function startSimulatedBackend(protocol: ProtocolName, o: { port?: number; host?: string; seed?: number; logger?: Logger }): Promise<RunningBackend> {
  // Loaded on demand: the agent of a real merchant never needs the simulator's TLS server and keys.
  if (protocol === 'wechat-v2' || protocol === 'wechat-v3') return import('../../simulator/backend/wechat/start-wechat-backend.ts').then((m) => m.startWechatBackend({ protocol, ...o }));
  if (protocol === 'scanpay-v1') return startBackend(o);
  return notAvailable(protocol);
}
