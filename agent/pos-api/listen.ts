/** Puts the POS API on a socket (loopback by default) and says where. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export async function listenPosApi(app: FastifyInstance, o: { host: string; port: number }): Promise<string> {
  await app.listen({ host: o.host, port: o.port });
  const { port } = app.server.address() as AddressInfo;
  return `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
}
