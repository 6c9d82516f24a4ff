/** Puts the POS API on a socket (loopback by default) and says where. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ScanpayError } from '../errors.ts';
import { isLoopback } from '../loopback.ts';
import { portInUseError } from './port-in-use.ts';

/**
 * The bearer token is the API's only defence and it travels in clear HTTP, so the API
 * stays on loopback unless the configuration says, in so many words, to expose it.
 */
export async function listenPosApi(api: { server: Server }, o: { host: string; port: number; allowRemote?: boolean }): Promise<string> {
  if (!isLoopback(o.host) && !o.allowRemote) {
    throw new ScanpayError('CONFIG_INVALID', {
      message: `api.host ${o.host} is not a loopback address: the POS API must stay on 127.0.0.1 (set api.allowRemote: true only behind a TLS proxy you control)`,
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(o.port, o.host, () => {
        api.server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portInUseError(o.host, o.port, e);
    throw e;
  }
  const { port } = api.server.address() as AddressInfo;
  return `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
}
