/**
 * Which wire format the simulated backend speaks for each protocol, and where an agent
 * finds it: `scanpay sim backend --protocol`, demo mode and the chaos runner share this.
 */
import type { ProtocolName } from '../../agent/backend/acquirer-profile.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { ALIPAY_GATEWAY_PATH, alipayWire } from './alipay/alipay-wire.ts';
import type { WireProtocol } from './build-backend.ts';
import { startBackend, type RunningBackend } from './start-backend.ts';
import type { Logger } from '../../agent/log.ts';
import { upayWire } from './upay/upay-wire.ts';

export const SIMULATED_PROTOCOLS = ['scanpay-v1', 'wechat-v2', 'wechat-v3', 'alipay', 'upay'] as const satisfies readonly ProtocolName[];

export function simulatedWire(protocol: ProtocolName): { wire?: WireProtocol; agentUrl: (backendUrl: string) => string } {
  switch (protocol) {
    case 'scanpay-v1':
      return { agentUrl: (u) => u };
    case 'alipay':
      return { wire: alipayWire(), agentUrl: (u) => `${u}${ALIPAY_GATEWAY_PATH}` };
    case 'upay':
      return { wire: upayWire(), agentUrl: (u) => u };
    default:
      throw new ScanpayError('CONFIG_INVALID', { message: `the simulated backend does not speak ${protocol}: use one of ${SIMULATED_PROTOCOLS.join(', ')}` });
  }
}

/**
 * The simulated acquirer of `protocol` on a socket, and the URL an agent is given as its
 * backend: demo mode and `scanpay sim backend --protocol` start it. WeChat's simulator is
 * its own HTTPS server with a demo CA (loaded only when asked for); the others are wire
 * formats over the protocol v1 simulator.
 */
export async function startSimulatedBackend(
  protocol: ProtocolName,
  o: { port?: number; host?: string; seed?: number; logger?: Logger; storePath?: string },
): Promise<{ backend: RunningBackend; agentUrl: string }> {
  if (protocol === 'wechat-v2' || protocol === 'wechat-v3') {
    const { startWechatBackend } = await import('./wechat/start-wechat-backend.ts');
    // WeChat's simulator keeps its orders in memory only.
    const { storePath: _storePath, ...rest } = o;
    const backend = await startWechatBackend({ protocol, ...rest });
    return { backend, agentUrl: backend.url };
  }
  const sim = simulatedWire(protocol);
  const backend = await startBackend({ ...o, ...(sim.wire ? { wire: sim.wire } : {}) });
  return { backend, agentUrl: sim.agentUrl(backend.url) };
}
