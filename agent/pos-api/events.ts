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

/** An event as the stream writes it. */
function frame(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function createEventStreams(deps: { subscribe(listener: (e: PosEvent) => void): () => void; heartbeatMs: number }): EventStreams {
  const open = new Set<ServerResponse>();
  let closing = false;
  /** The last event and its frame: serialised once for every stream, not once per stream. */
  let last: { e: PosEvent; text: string } | undefined;
  const frameOf = (e: PosEvent): string => {
    if (last?.e !== e) {
      const { type, ...rest } = e;
      last = { e, text: frame(type, e.type === 'payment' ? e.payment : rest) };
    }
    return last.text;
  };
  return {
    open(res, hello, onClientGone) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(frame('hello', hello));
      let corked = false;
      const off = deps.subscribe((e) => {
        // Events of one turn of the loop (several lanes' payments, their answers and syncs read
        // in one poll) leave in one write: uncorked once that turn's I/O callbacks have run.
        if (!corked) {
          corked = true;
          res.cork();
          setImmediate(() => {
            corked = false;
            res.uncork();
          });
        }
        res.write(frameOf(e));
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
