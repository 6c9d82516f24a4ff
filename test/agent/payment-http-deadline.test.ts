/**
 * Every acquirer call has one wall-clock deadline from the send to the last byte of the
 * answer. A peer that sends its headers and then drips the body must not hold a pay (and
 * a cashier's cancel queued behind it) past the deadline: the call ends unknown, on time,
 * and the connection is dropped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpAcquirer } from '../../agent/backend/http-acquirer.ts';
import { systemClock } from '../../agent/clock.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
});

describe('acquirer call deadline', () => {
  it('ends a pay whose answer drips one byte at a time as unknown at the deadline, and hangs up', async () => {
    let hungUp!: () => void;
    const hangUp = new Promise<void>((r) => (hungUp = r));
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      // Headers at once, then a byte every 100 ms, for as long as the client listens.
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => {
        clearInterval(drip);
        hungUp();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const acquirer = new HttpAcquirer({ baseUrl: `http://127.0.0.1:${port}`, terminalId: 'T1', key: Buffer.alloc(32, 7), clock: systemClock, timeoutMs: { pay: 500 } });
    const r = await acquirer.pay({ orderNo: 'T1DEADLINE0001', paymentCode: '134567890123456789', amount: 100, currency: 'CNY', description: '' });
    expect(r.kind).toBe('unknown');
    expect(r.kind === 'unknown' && r.error.message).toMatch(/no answer to pay \(DEADLINE\)/);
    await hangUp;
  }, 60_000);
});
