/**
 * The server-sent event stream of the POS API. Each event's name is its type and its data
 * one JSON object:
 *
 *   payment         a payment changed (PosPayment: `status` holds the words to show)
 *   scan_unmatched  a scan arrived with no payment waiting on its lane
 *   scanner         a scanner connected, disconnected or failed
 *
 * A comment line goes out every `heartbeatMs` so proxies and clients see a live stream.
 */
import type { ServerResponse } from 'node:http';
import type { PosEvent } from '../pos-service.ts';

export interface EventStreams {
  /**
   * Starts streaming to `res` until the client goes away or `closeAll` is called;
   * `onClientGone` runs when the client closed it (not when the agent did).
   */
  open(res: ServerResponse, hello: unknown, onClientGone?: () => void): void;
  closeAll(): void;
}

export function createEventStreams(deps: { subscribe(listener: (e: PosEvent) => void): () => void; heartbeatMs: number }): EventStreams {
  const open = new Set<ServerResponse>();
  let closing = false;
  return {
    open(res, hello, onClientGone) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (type: string, data: unknown) => res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      send('hello', hello);
      const off = deps.subscribe((e) => {
        const { type, ...rest } = e;
        send(type, e.type === 'payment' ? e.payment : rest);
      });
      // Real time, not the payment clock: this only keeps a socket alive.
      const beat = setInterval(() => res.write(': keepalive\n\n'), deps.heartbeatMs);
      beat.unref();
      open.add(res);
      res.on('close', () => {
        off();
        clearInterval(beat);
        open.delete(res);
        if (!closing) onClientGone?.();
      });
    },
    closeAll() {
      closing = true;
      for (const res of open) res.end();
    },
  };
}
