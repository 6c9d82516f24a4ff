/**
 * Which wire format the simulated backend speaks for each protocol, and where an agent
 * finds it: `scanpay sim backend --protocol`, demo mode, the chaos runner and the scenario
 * library share this.
 */
import type { ProtocolName } from '../../agent/backend/acquirer-profile.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { ALIPAY_GATEWAY_PATH, alipayWire } from './alipay/alipay-wire.ts';
import type { BackendOptions, WireProtocol } from './build-backend.ts';
import { startBackend, type RunningBackend } from './start-backend.ts';
import { upayWire } from './upay/upay-wire.ts';

export const SIMULATED_PROTOCOLS = ['scanpay-v1', 'wechat-v2', 'wechat-v3', 'alipay', 'upay'] as const satisfies readonly ProtocolName[];

/**
 * The wire format of `protocol` (none: protocol v1's own /v1) and the agent's backend URL
 * given the simulator's. WeChat's (HTTPS with a demo CA) is loaded only when asked for.
 */
export async function simulatedWire(protocol: ProtocolName): Promise<{ wire?: WireProtocol; agentUrl: (backendUrl: string) => string }> {
  switch (protocol) {
    case 'scanpay-v1':
      return { agentUrl: (u) => u };
    case 'wechat-v2':
    case 'wechat-v3': {
      const { wechatWire } = await import('./wechat/wechat-wire.ts');
      return { wire: wechatWire(protocol), agentUrl: (u) => u };
    }
    case 'alipay':
      return { wire: alipayWire(), agentUrl: (u) => `${u}${ALIPAY_GATEWAY_PATH}` };
    case 'upay':
      return { wire: upayWire(), agentUrl: (u) => u };
    default:
      throw new ScanpayError('CONFIG_INVALID', { message: `the simulated backend does not speak ${protocol as string}: use one of ${SIMULATED_PROTOCOLS.join(', ')}` });
  }
}

/** The simulated acquirer of `protocol` on a socket, and the URL an agent is given as its backend. */
export async function startSimulatedBackend(
  protocol: ProtocolName,
  o: Omit<BackendOptions, 'wire'> & { port?: number; host?: string },
): Promise<{ backend: RunningBackend; agentUrl: string }> {
  const sim = await simulatedWire(protocol);
  const backend = await startBackend({ ...o, ...(sim.wire ? { wire: sim.wire } : {}) });
  return { backend, agentUrl: sim.agentUrl(backend.url) };
}
