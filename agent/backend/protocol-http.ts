/**
 * Protocol v1's transport, payments and device operations alike, on node's own http and
 * https. What it guarantees: the answer's raw bytes (the signature covers them, so nothing
 * parses or transforms them first), every status handed back for the caller to judge, no
 * redirects followed, no proxy, answers capped at the protocol's 64 KiB (a larger one is an
 * error, so no answer: unknown, never a failure), one wall-clock deadline over the whole
 * exchange (queueing for a pooled socket, connecting, sending, the last byte of the answer),
 * and the gateway's kept-alive pool (gateway-pool.ts: idle sockets closed first, TLS
 * settings on the https pool).
 *
 * Why not axios, the project's HTTP client (the WeChat, Alipay and Upay adapters keep it,
 * axios-http.ts): measured on the same keep-alive pool, a call through axios cost 0.6-1.2 ms
 * of CPU against 0.2-0.3 ms for `http.request` (bench/http-client-cost.ts). An instant
 * payment makes one v1 call and, with eight lanes, the agent's event loop is the limit.
 *
 * Failures reject with a TransportError: node's code (or DEADLINE, ANSWER_TOO_LARGE) and
 * whether the connection was open, which call-failure.ts reads to tell "provably not sent"
 * from "unknown".
 */
import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { KeptAliveAgents } from './gateway-pool.ts';

/** The protocol's limit on an answer (docs/protocol.md). */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface ProtocolAnswer {
  status: number;
  /** As node read them: names in lower case. */
  headers: http.IncomingHttpHeaders;
  /** Exactly the bytes the gateway sent. */
  body: Buffer;
}

export interface ProtocolHttp {
  /** POSTs `body` to `path` (starting with "/", after the base URL's own path). */
  post(path: string, body: Buffer, o: { headers: http.OutgoingHttpHeaders; deadlineMs: number }): Promise<ProtocolAnswer>;
}

/**
 * Why an exchange brought no answer. `code`: node's (ECONNREFUSED, ECONNRESET, a TLS
 * verification code...), DEADLINE (our wall-clock deadline passed) or ANSWER_TOO_LARGE.
 * `connected`: the connection was open (for https, its handshake done) when it failed, so
 * the request may have left. Keeps node's error as `cause`; never the request itself.
 */
export class TransportError extends Error {
  readonly code: string | undefined;
  readonly syscall: string | undefined;
  readonly connected: boolean;

  constructor(code: string | undefined, message: string, o: { connected: boolean; syscall?: string | undefined; cause?: unknown }) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'TransportError';
    this.code = code;
    this.syscall = o.syscall;
    this.connected = o.connected;
  }
}

/** Node's error as a TransportError: its code and system call kept, as a string or not at all. */
function fromNode(e: Error & { code?: unknown; syscall?: unknown }, connected: boolean): TransportError {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return new TransportError(text(e.code), e.message, { connected, syscall: text(e.syscall), cause: e });
}

/** Node's own require, for node:https only when the gateway is https (keptAliveAgents says why). */
const requireBuiltin = createRequire(import.meta.url);

export function createProtocolHttp(baseUrl: string, agents: KeptAliveAgents): ProtocolHttp {
  const base = new URL(baseUrl.replace(/\/+$/, ''));
  const secure = base.protocol === 'https:';
  const prefix = base.pathname === '/' ? '' : base.pathname;
  // An IPv6 literal is written in brackets in a URL, without them for a connection.
  const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = base.port === '' ? undefined : Number(base.port);
  let send: typeof http.request | undefined;
  let agent: http.Agent | undefined;

  return {
    post: (path, body, o) =>
      new Promise<ProtocolAnswer>((resolve, reject) => {
        send ??= secure ? (requireBuiltin('node:https') as typeof https).request : http.request;
        agent ??= secure ? agents.httpsAgent : agents.httpAgent;
        let connected = false;
        let settled = false;
        const fail = (e: TransportError) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          req.destroy();
          reject(e);
        };
        const req = send({ host, port, path: prefix + path, method: 'POST', agent, headers: { ...o.headers, 'content-length': body.length } }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) fail(new TransportError('ANSWER_TOO_LARGE', `answer larger than ${MAX_ANSWER_BYTES} bytes`, { connected }));
            else chunks.push(chunk);
          });
          res.on('error', (e) => fail(fromNode(e, connected)));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks, size) });
          });
        });
        const deadline = setTimeout(() => fail(new TransportError('DEADLINE', `no complete answer within ${o.deadlineMs} ms`, { connected })), o.deadlineMs);
        req.once('socket', (socket: Socket) => {
          // A pooled socket is open (its handshake done) before it is handed out; a new one
          // is open once it connects, over TLS once the handshake is done: only then can
          // node write the request.
          if (!socket.connecting) connected = true;
          else socket.once((socket as { encrypted?: boolean }).encrypted ? 'secureConnect' : 'connect', () => (connected = true));
        });
        req.on('error', (e) => fail(fromNode(e, connected)));
        req.end(body);
      }),
  };
}
