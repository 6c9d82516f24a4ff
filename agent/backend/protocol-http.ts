/**
 * The HTTP client settings every protocol v1 call needs, payments and device operations
 * alike: the raw answer bytes (the signature covers them, so nothing may parse or
 * transform them first), every status handed back for the caller to judge, no redirects or
 * proxies, and answers capped at the protocol's 64 KiB. Node's http adapter, named: the
 * build leaves axios's fetch adapter out (scripts/build.mjs), so sources and bundle send alike.
 *
 * axios (with follow-redirects, form-data and mime-db's table: 270 KB in the bundle) is
 * loaded by the first call, not when `scanpay run` starts: the agent is ready sooner and an
 * agent that has not paid yet does not hold it. The first call waits for the load once
 * (after its journal row is written, before anything is sent).
 */
import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import type { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, CreateAxiosDefaults } from 'axios';

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The calls the clients make on an axios instance. `deadlineMs`: one wall-clock deadline
 * over the whole exchange (an abort signal), counted from the send, not from the first
 * call's wait for axios to load.
 */
export interface ProtocolHttp {
  post(url: string, data: unknown, config?: AxiosRequestConfig & { deadlineMs?: number }): Promise<AxiosResponse>;
  request: AxiosInstance['request'];
}

export function createProtocolHttp(baseUrl: string, extra: Pick<CreateAxiosDefaults, 'timeout' | 'httpAgent' | 'httpsAgent'> = {}): ProtocolHttp {
  let instance: Promise<AxiosInstance> | undefined;
  const http = () =>
    (instance ??= import('axios').then(({ default: axios }) =>
      axios.create({
        baseURL: baseUrl.replace(/\/+$/, ''),
        responseType: 'arraybuffer',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        maxRedirects: 0,
        maxContentLength: MAX_ANSWER_BYTES,
        proxy: false,
        adapter: 'http',
        ...extra,
      }),
    ));
  return {
    post: async (url, data, config = {}) => {
      const { deadlineMs, ...rest } = config;
      const client = await http();
      return client.post(url, data, deadlineMs === undefined ? rest : { ...rest, signal: AbortSignal.timeout(deadlineMs) });
    },
    request: async (config) => (await http()).request(config),
  };
}

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

/** Node's own require, for node:https when first needed (keptAliveAgents). */
const requireBuiltin = createRequire(import.meta.url);

/**
 * A gateway client's connection pools, alike over http and https (keptAliveOptions). The
 * https pool is made when first read: node:https loads TLS (~20 ms of `scanpay run`'s start
 * to ready in a CPU profile), and the clients read it only when they make their axios
 * instance or a call, after ready (a gateway over http never needs it).
 */
export function keptAliveAgents(idleMs: number, maxSockets = Infinity): Pick<CreateAxiosDefaults, 'httpAgent' | 'httpsAgent'> {
  const options = keptAliveOptions(idleMs, maxSockets);
  let httpsAgent: https.Agent | undefined;
  return {
    httpAgent: new http.Agent(options),
    get httpsAgent() {
      return (httpsAgent ??= new (requireBuiltin('node:https') as typeof https).Agent(options));
    },
  };
}

/** `instanceof AxiosError` without loading axios: its own `isAxiosError` test. */
export function isAxiosError(e: unknown): e is AxiosError {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}
