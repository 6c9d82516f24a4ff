/**
 * A TCP proxy between a terminal and its acquirer that breaks the network on purpose:
 * delays, connections reset before the request is passed on, responses cut in the middle,
 * black holes that swallow a request and never answer, and the acquirer vanishing
 * altogether (connections refused). Decisions are per request chunk and seeded, so a chaos
 * run repeats exactly.
 */
import net from 'node:net';
import { prng } from '../prng.ts';

export interface ProxyFaults {
  /** Added before each request is passed on. */
  delayMs?: number;
  /** Share of requests whose connection is reset before they are passed on. */
  resetRate?: number;
  /** Share of requests passed on whose response is cut after its first bytes. */
  cutRate?: number;
  /** Share of requests swallowed: never passed on, never answered, socket held open. */
  blackholeRate?: number;
  /** Refuse every new connection, and drop the open ones: the acquirer is unreachable. */
  down?: boolean;
}

export type ProxyFaultKind = 'delay' | 'reset' | 'cut' | 'blackhole' | 'refused';

export interface FaultProxy {
  url: string;
  port: number;
  set(faults: ProxyFaults): Promise<void>;
  /** How many times each fault struck. */
  stats(): Record<ProxyFaultKind, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(o: { target: string; port?: number; host?: string; seed?: number }): Promise<FaultProxy> {
  const target = new URL(o.target);
  const host = o.host ?? '127.0.0.1';
  const random = prng(o.seed ?? 1);
  const stats: Record<ProxyFaultKind, number> = { delay: 0, reset: 0, cut: 0, blackhole: 0, refused: 0 };
  const open = new Set<net.Socket>();
  let faults: ProxyFaults = {};
  const roll = (rate: number | undefined) => rate !== undefined && rate > 0 && random() < rate;

  const server = net.createServer((client) => {
    open.add(client);
    const upstream = net.connect({ host: target.hostname, port: Number(target.port) });
    open.add(upstream);
    let cutNext = false;
    let swallowed = false;
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => (open.delete(client), upstream.destroy()));
    upstream.on('close', () => (open.delete(upstream), swallowed || client.destroy()));
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);

    client.on('data', (chunk) => {
      if (swallowed) return;
      if (roll(faults.resetRate)) {
        stats.reset++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (roll(faults.blackholeRate)) {
        stats.blackhole++;
        swallowed = true;
        upstream.destroy();
        return;
      }
      if (roll(faults.cutRate)) {
        stats.cut++;
        cutNext = true;
      }
      const pass = () => upstream.write(chunk);
      if (faults.delayMs) {
        stats.delay++;
        client.pause();
        setTimeout(() => (pass(), client.resume()), faults.delayMs);
      } else pass();
    });

    upstream.on('data', (chunk) => {
      if (cutNext) {
        // Half a response: headers perhaps, never a whole signed body.
        client.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))));
        destroyBoth();
        return;
      }
      client.write(chunk);
    });
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      // Taken off again once listening: the proxy re-listens after every outage.
      server.once('error', reject).listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(o.port ?? 0);
  const port = (server.address() as net.AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    async set(next) {
      const wasDown = faults.down === true;
      faults = { ...next };
      if (next.down && !wasDown) {
        // close() waits for open connections to end: cut them first.
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of open) s.destroy();
        await closed;
        stats.refused++;
      } else if (!next.down && wasDown) {
        await listen(port);
      }
    },
    stats: () => ({ ...stats }),
    async close() {
      const closed = server.listening ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
      for (const s of open) s.destroy();
      await closed;
    },
  };
}
