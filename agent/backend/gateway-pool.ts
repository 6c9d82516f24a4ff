/**
 * The connection pools every gateway client keeps, whatever it speaks through: protocol v1
 * on node's own http (protocol-http.ts), WeChat Pay, Alipay and Upay on axios (axios-http.ts).
 */
import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';

/**
 * Idle connections are closed before the gateway closes them. A pay written on a socket
 * the server is closing at that instant fails with ECONNRESET: safe (unknown, queried,
 * reversed), but it reverses a payment that would have gone through. Node's servers close
 * idle sockets after 5 s, so ours go first.
 */
export const IDLE_SOCKET_MS = 4_000;

/** Connections to a gateway at once: a ninth call waits for a free one. */
export const MAX_SOCKETS = 8;

/**
 * A gateway connection pool's settings: kept alive, at most `maxSockets` open, an idle one
 * closed after `idleMs`; `tls` adds a CA or a client certificate.
 */
export function keptAliveOptions(idleMs: number, maxSockets = Infinity, tls: https.AgentOptions = {}): https.AgentOptions {
  return { keepAlive: true, timeout: idleMs, maxSockets, ...tls };
}

/** A gateway's pools, one for each scheme: the client uses the one its base URL names. */
export interface KeptAliveAgents {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
}

/** Node's own require, for node:https when first needed (keptAliveAgents). */
const requireBuiltin = createRequire(import.meta.url);

/**
 * A gateway client's connection pools, alike over http and https (keptAliveOptions). The
 * https pool is made when first read: node:https loads TLS (~20 ms of `scanpay run`'s start
 * to ready in a CPU profile), and the clients read it only at their first call, after ready
 * (a gateway over http never needs it).
 */
export function keptAliveAgents(idleMs: number, maxSockets = Infinity): KeptAliveAgents {
  const options = keptAliveOptions(idleMs, maxSockets);
  let httpsAgent: https.Agent | undefined;
  return {
    httpAgent: new http.Agent(options),
    get httpsAgent() {
      return (httpsAgent ??= new (requireBuiltin('node:https') as typeof https).Agent(options));
    },
  };
}
