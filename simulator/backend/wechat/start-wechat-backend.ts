/** Puts a simulated WeChat backend on a socket (HTTPS): the protocol v1 simulator speaking WeChat's wire format. */
import type { BackendOptions } from '../build-backend.ts';
import { startBackend, type RunningBackend } from '../start-backend.ts';
import { wechatWire, type WechatProtocol } from './wechat-wire.ts';

export function startWechatBackend(o: Omit<BackendOptions, 'wire'> & { protocol: WechatProtocol; port?: number; host?: string }): Promise<RunningBackend> {
  const { protocol, ...options } = o;
  return startBackend({ ...options, wire: wechatWire(protocol) });
}
