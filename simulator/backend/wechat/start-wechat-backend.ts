/** Puts a simulated WeChat backend on a socket (HTTPS), with the v1 simulator's stop/restart/close. */
import { serveBackend, type RunningBackend } from '../start-backend.ts';
import { buildWechatBackend, type WechatBackendOptions } from './build-wechat-backend.ts';

export function startWechatBackend(o: WechatBackendOptions & { port?: number; host?: string }): Promise<RunningBackend> {
  const { port, host, ...options } = o;
  return serveBackend(buildWechatBackend(options), { port, host, scheme: 'https' });
}
