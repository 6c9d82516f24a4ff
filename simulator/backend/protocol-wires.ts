/**
 * Which wire format the simulated backend speaks for each protocol, and where an agent
 * finds it: `scanpay sim backend --protocol`, demo mode and the chaos runner share this.
 */
import type { ProtocolName } from '../../agent/backend/acquirer-profile.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { ALIPAY_GATEWAY_PATH, alipayWire } from './alipay/alipay-wire.ts';
import type { WireProtocol } from './build-backend.ts';
import { upayWire } from './upay/upay-wire.ts';

export const SIMULATED_PROTOCOLS = ['scanpay-v1', 'alipay', 'upay'] as const satisfies readonly ProtocolName[];

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
