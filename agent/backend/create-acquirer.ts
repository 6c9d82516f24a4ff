/**
 * From `backend.protocol` to the adapter that speaks it and the profile of its rules: the
 * one place that knows which wire formats exist (docs/acquirers/).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Clock } from '../clock.ts';
import type { AgentConfig, TerminalIdentity } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import type { Operation } from '../protocol/messages.ts';
import { assertOwnerOnly } from '../secret-file.ts';
import type { Acquirer, CallResult } from './acquirer.ts';
import { SCANPAY_V1_PROFILE, type AcquirerProfile } from './acquirer-profile.ts';
import { AlipayAcquirer, type AlipayCredentials } from './alipay/alipay-acquirer.ts';
import { ALIPAY_PROFILE } from './alipay/alipay-profile.ts';
import { demoAlipayCredentials } from './alipay/demo-alipay.ts';
import { HttpAcquirer } from './http-acquirer.ts';

export interface AcquirerSetup {
  acquirer: Acquirer;
  profile: AcquirerProfile;
  /** Where the agent's key rotation lands (protocol v1 only). */
  setKey?: (key: Buffer) => void;
}

export interface CreateAcquirerOptions {
  config: AgentConfig;
  home: string;
  backendUrl: string;
  terminal: TerminalIdentity;
  clock: Clock;
  onCall?: (op: Operation, result: CallResult<unknown>['kind'], latencyMs: number) => void;
}

export function createAcquirer(o: CreateAcquirerOptions): AcquirerSetup {
  const { config, clock, terminal } = o;
  const timeoutMs = config.backend.timeoutMs;
  const common = { clock, timeoutMs, ...(o.onCall ? { onCall: o.onCall } : {}) };
  switch (config.backend.protocol) {
    case 'scanpay-v1': {
      const http = new HttpAcquirer({ ...common, baseUrl: o.backendUrl, terminalId: terminal.terminalId, key: terminal.key });
      return { acquirer: http, profile: SCANPAY_V1_PROFILE, setKey: (k) => http.setKey(k) };
    }
    case 'alipay': {
      const credentials = alipayCredentials(o.home, config, terminal.demo);
      return { acquirer: new AlipayAcquirer({ ...common, ...credentials, gatewayUrl: o.backendUrl, terminalId: terminal.terminalId }), profile: ALIPAY_PROFILE };
    }
    default:
      throw new ScanpayError('CONFIG_INVALID', { message: `backend.protocol: ${config.backend.protocol} is not available in this build: use scanpay-v1, alipay or upay` });
  }
}

/** The app's keys from backend.alipay, or in demo mode the published demo app. */
function alipayCredentials(home: string, config: AgentConfig, demo: boolean): AlipayCredentials {
  const a = config.backend.alipay;
  if (!a) {
    if (demo) return demoAlipayCredentials();
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
