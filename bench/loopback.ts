/**
 * The floor every agent figure is compared with, and a gateway that records when each
 * request arrives. The floor is what any durable payment terminal must pay per request:
 * one SQLite write with synchronous=FULL (as the journal does) and one loopback HTTP
 * round trip with node's own `http.request` on a kept-alive pool like the v1 acquirer
 * client's (agent/backend/protocol-http.ts sends on node:http too).
 */
import Database from 'better-sqlite3';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { IDLE_SOCKET_MS, keptAliveOptions, MAX_SOCKETS } from '../agent/backend/gateway-pool.ts';
import { PATHS } from '../agent/protocol/messages.ts';
import { HEADER, signResponse } from '../agent/protocol/signing.ts';
import { DEMO_TERMINAL } from '../simulator/backend/demo-terminal.ts';
import { now } from './stats.ts';

export interface StampGateway {
  url: string;
  /** Arrival time (performance.now()) and answer time of each pay, by order number. */
  stamps: Map<string, { arrived: number; answered: number }>;
  /** Pays that arrived for each order number: more than one is a second charge. */
  pays: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Answers every pay SUCCESS, signed for the demo terminal, and `/ping` with an empty 200;
 * anything else (a running agent's heartbeat) an unsigned 404, which the agent logs and
 * retries later, as it would a backend without device operations. Arrival is stamped on the
 * request event (headers in), the answer just before it is written.
 */
export async function startStampGateway(): Promise<StampGateway> {
  const stamps = new Map<string, { arrived: number; answered: number }>();
  const pays = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const arrived = now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/ping') return void res.end();
      if (req.url !== PATHS.pay) return void res.writeHead(404).end();
      const { orderNo, amount, currency } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderNo: string; amount: number; currency: string };
      pays.set(orderNo, (pays.get(orderNo) ?? 0) + 1);
      const trade = { orderNo, state: 'SUCCESS', amount, currency, wallet: 'wechat', acquirerTradeNo: `B${orderNo.slice(-12)}`, refundedAmount: 0 };
      const body = Buffer.from(JSON.stringify({ result: 'SUCCESS', orderNo, trade }));
      const requestNonce = String(req.headers[HEADER.nonce]);
      const signed = signResponse({ method: 'POST', path: req.url, terminalId: DEMO_TERMINAL.terminalId, body, status: 200, requestNonce }, DEMO_TERMINAL.key, Date.now());
      stamps.set(orderNo, { arrived, answered: now() });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...signed });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stamps,
    pays,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** One floor sample: a durable write, then a loopback round trip. */
export interface Floor {
  /** Milliseconds for one durable write plus one round trip. */
  sample(): Promise<number>;
  /** Just the round trip (the reference for plain sequential HTTP calls). */
  roundTrip(): Promise<void>;
  close(): void;
}

export function openFloor(dir: string, url: string): Floor {
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, at REAL, body TEXT)');
  const insert = db.prepare('INSERT INTO t (at, body) VALUES (?, ?)');
  // The agent's own pool settings (agent/backend/gateway-pool.ts): idle sockets close before
  // the gateway's 5 s keep-alive does, else a reused socket can meet a reset.
  const agent = new http.Agent(keptAliveOptions(IDLE_SOCKET_MS, MAX_SOCKETS));
  const { hostname, port } = new URL(url);
  const body = Buffer.from('{}');
  const roundTrip = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: hostname, port, path: '/ping', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    roundTrip,
    async sample() {
      const t0 = now();
      insert.run(t0, 'floor');
      await roundTrip();
      return now() - t0;
    },
    close: () => {
      db.close();
      agent.destroy();
    },
  };
}
