/**
 * Puts a simulated WeChat backend on a socket, with the same stop/restart/close surface as
 * the protocol v1 simulator (start-backend.ts): a stop cuts the network, the state stays.
 */
import type { AddressInfo } from 'node:net';
import type { RunningBackend } from '../start-backend.ts';
import { buildWechatBackend, type WechatBackendOptions } from './build-wechat-backend.ts';

export async function startWechatBackend(o: WechatBackendOptions & { port?: number; host?: string }): Promise<RunningBackend> {
  const { port: wanted = 0, host = '127.0.0.1', ...options } = o;
  const { app, sim } = buildWechatBackend(options);
  await app.ready();
  const server = app.server;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen(wanted);
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    sim,
    stop: unlisten,
    restart: async () => {
      if (closed) throw new Error('the backend was closed for good: start a new one');
      if (!server.listening) await listen(port);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await unlisten();
      await app.close();
    },
  };
}
