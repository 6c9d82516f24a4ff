/**
 * The server side of the fleet figure, in its own process so that it has a core to itself
 * and the load generator does not share its event loop:
 * `node --import tsx bench/fleet-server.ts <sim|fixed> <terminals> <url-file>`.
 * `sim` is the simulated backend knowing every fleet terminal; `fixed` is the reference, a
 * bare Fastify app answering every call with one pay answer signed once at start (same body
 * and header sizes, no verification, no state). The URL goes to <url-file> once listening.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { signResponse } from '../agent/protocol/signing.ts';
import { startBackend } from '../simulator/backend/start-backend.ts';

/** Terminal i's id and key, derived so that both processes know them without passing keys around. */
export function fleetTerminal(i: number): { terminalId: string; key: Buffer } {
  return { terminalId: `BF${String(i).padStart(6, '0')}`, key: createHash('sha256').update(`scanpay-bench-fleet-${i}`).digest() };
}

async function startFixed(): Promise<{ url: string; close(): Promise<void> }> {
  const orderNo = 'BF000000-000000';
  const trade = { orderNo, state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat', acquirerTradeNo: 'SIM0000000001', paidAt: Date.now(), refundedAmount: 0 };
  const body = Buffer.from(JSON.stringify({ result: 'SUCCESS', orderNo, trade }));
  const { terminalId, key } = fleetTerminal(0);
  const headers = { ...signResponse({ method: 'POST', path: '/v1/pay', terminalId, body, status: 200, requestNonce: 'fixed' }, key, Date.now()) };
  const app = Fastify();
  // Reads the body as the simulated backend does (a buffer), and answers without looking at it.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, raw, done) => done(null, raw));
  app.post('/v1/:op', (_req, reply) => reply.headers(headers).type('application/json; charset=utf-8').send(body));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

async function main(): Promise<void> {
  const [kind, terminals, urlFile] = process.argv.slice(2);
  if ((kind !== 'sim' && kind !== 'fixed') || !Number(terminals) || !urlFile) throw new TypeError('usage: fleet-server.ts <sim|fixed> <terminals> <url-file>');
  const server = kind === 'sim' ? await startBackend({ terminals: Array.from({ length: Number(terminals) }, (_, i) => fleetTerminal(i)) }) : await startFixed();
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  writeFileSync(urlFile, server.url);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
