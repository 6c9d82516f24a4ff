/**
 * Puts the simulated backend on a socket. `stop()` takes it off the network (connections
 * refused, open ones cut) but keeps every order, code and ledger entry, and `restart()`
 * brings it back on the same port: a backend outage, as a terminal sees one.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildBackend, type BackendOptions, type SimBackend } from './build-backend.ts';

export interface RunningBackend {
  /** e.g. http://127.0.0.1:43121 */
  url: string;
  port: number;
  sim: SimBackend;
  /** Stop listening and cut open connections; state is kept. */
  stop(): Promise<void>;
  /** Listen again on the same port, with the same state. */
  restart(): Promise<void>;
  /** Stop for good. */
  close(): Promise<void>;
}

export async function startBackend(o: BackendOptions & { port?: number; host?: string } = {}): Promise<RunningBackend> {
  const { port, host, ...options } = o;
  return serveBackend(buildBackend(options), { port, host, scheme: options.wire?.tls ? 'https' : 'http' });
}

/** Listens with a built simulated backend (any protocol's); `https` when the app serves TLS. */
export async function serveBackend(built: { app: FastifyInstance; sim: SimBackend }, o: { port?: number | undefined; host?: string | undefined; scheme?: 'http' | 'https' }): Promise<RunningBackend> {
  const { port: wanted = 0, host = '127.0.0.1', scheme = 'http' } = o;
  const { app, sim } = built;
  await app.ready();
  // Fastify listens once per instance; its Node server can listen again after a close,
  // which is what restart() needs to keep the app (and the state) it already has.
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
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closed = false;

  return {
    url: `${scheme}://${shownHost}:${port}`,
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
