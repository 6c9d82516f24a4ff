/**
 * The agent's replay cache past its capacity, through the real acquirer client and a real
 * HTTP gateway on loopback: an answer its low-water mark refuses is no answer (unknown,
 * money rule 2), never a failure, and the query that follows settles the payment.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { ManualClock } from '../../agent/clock.ts';
import { HEADER, signResponse } from '../../agent/protocol/signing.ts';

const key = Buffer.from('test-terminal-key-0123456789');
const terminalId = 'T9';
const now = 1_800_000_000_000;
let server: http.Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise((r) => (s.closeAllConnections(), s.close(r)));
});

/** Answers a paid order, signed genuinely for the request it got, at the gateway time `stamp()` gives. */
async function gateway(stamp: () => number): Promise<string> {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { orderNo } = JSON.parse(Buffer.concat(chunks).toString()) as { orderNo: string };
      const trade = { orderNo, state: 'SUCCESS', amount: 100, currency: 'CNY', wallet: 'wechat' };
      const raw = Buffer.from(JSON.stringify({ result: 'SUCCESS', orderNo, ...(req.url === '/v1/query' ? { trade } : {}) }));
      const headers = signResponse({ method: 'POST', path: req.url!, terminalId, body: raw, status: 200, requestNonce: String(req.headers[HEADER.nonce]) }, key, stamp());
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(raw);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

it('an answer signed at or before the newest nonce the full cache forgot is unknown, and the query after it settles', async () => {
  const stamps = [now - 30, now - 20, now - 10, now - 30, now];
  const baseUrl = await gateway(() => stamps.shift()!);
  const acquirer = new HttpAcquirer({ baseUrl, terminalId, key, clock: new ManualClock(now), nonceCapacity: 2 });
  const pay = (orderNo: string) => acquirer.pay({ orderNo, paymentCode: '134567890123456789', amount: 100, currency: 'CNY' });

  // Three answers through a cache of two: the first is forgotten, its timestamp is the mark.
  for (const orderNo of ['ORDER0001', 'ORDER0002', 'ORDER0003']) expect(await pay(orderNo), orderNo).toMatchObject({ kind: 'answer' });
  // A genuine SUCCESS signed at the mark (delayed, or the gateway's clock set back) cannot be
  // told from a replay: no answer, so the payment is unknown, not paid and not failed.
  const late = await pay('ORDER0004');
  expect(late).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_SIGNATURE_INVALID', cause: { code: 'PROTO_NONCE_TOO_OLD' } } });
  // The query that follows an unknown gets a freshly signed answer, which passes.
  expect(await acquirer.query({ orderNo: 'ORDER0004' })).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { orderNo: 'ORDER0004', state: 'SUCCESS' } } });
});
